/* /t/{token}: a visitor follows their ticket on the phone. The page listens to the public board
   feed: `state` messages carry every queue in call order, so the place in line updates without
   asking the server; a call for this number, or the number leaving the queue, fetches the
   ticket again. When called: a clear "go to window N", the board's voice (or nothing, where the
   phone forbids sound), and vibration. After service: the 好差评 form. */
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("page-data").textContent);
  const T = D.T, lang = D.lang, en = lang === "en";
  const $ = (id) => document.getElementById(id);
  const fmt = (s, v) => s.replace(/\{(\w+)\}/g, (m, k) => (k in v ? v[k] : m));
  const TICKET = "/api/v1/tickets/" + encodeURIComponent(D.token);
  let t = null;
  let alertedFor = null;
  let soundOn = false;
  let lastFetch = 0, pending = null;
  let ratingShown = false;

  const windowName = (x) => (en ? `window ${x.window}` : x.window_name || `${x.window}号窗口`);

  async function refresh() {
    lastFetch = Date.now();
    const r = await hallq.api("GET", TICKET);
    if (!r.ok) return;
    const before = t && t.status;
    t = r.data;
    render();
    if (t.status === "called" && before !== "called") alert(t);
    if (t.status === "done") showRating();
  }

  /* At most one fetch every few seconds, whatever the hall's traffic. */
  function refreshSoon(ms = 4000) {
    if (pending) return;
    const wait = Math.max(0, lastFetch + ms - Date.now());
    pending = setTimeout(() => { pending = null; refresh(); }, wait);
  }

  function render() {
    $("number").textContent = t.number;
    $("service").textContent = en && t.service_name_en ? t.service_name_en : t.service_name;
    const badge = t.priority === "appointment" ? T["progress.appointment"] : t.priority === "priority" ? T["progress.priority"] : "";
    $("badge").hidden = !badge;
    $("badge").textContent = badge;
    document.body.dataset.status = t.status;
    const waiting = t.status === "waiting";
    $("waiting").hidden = !waiting;
    $("give-up").hidden = !waiting;
    $("called").hidden = t.status !== "called";
    $("sound").hidden = !(waiting || t.status === "called");
    if (waiting) {
      $("ahead").textContent = String(t.position ?? "–");
      const r = t.eta_range_s;
      $("eta").textContent = r ? `${Math.max(1, Math.round(r[0] / 60))}–${Math.max(2, Math.round(r[1] / 60))}` : "–";
      const sent = t.sent;  // sent to a window or a colleague: where, never who or why
      const sentTo = sent && sent.window ? fmt(T["progress.sent_window"], { window: en ? sent.window_name_en : sent.window_name }) : sent ? T["progress.sent_staff"] : "";
      $("status").textContent = sentTo || (t.position === 0 ? T["progress.next"] : "");
    } else if (t.status === "called") {
      $("go").textContent = fmt(T["progress.called"], { window: windowName(t) });
      $("status").textContent = "";
    } else if (t.status === "serving") {
      $("status").textContent = fmt(T["progress.serving"], { window: windowName(t) });
    } else {
      $("status").textContent = T["progress." + t.status] || t.status;
    }
  }

  function alert(call) {
    const key = call.number + "@" + (call.at || call.called_at);
    if (alertedFor === key) return;
    alertedFor = key;
    if (navigator.vibrate) navigator.vibrate([400, 150, 400, 150, 400]);
    if (soundOn && window.hallqVoice) {
      hallqVoice.speak(lang, hallqVoice.callClips(lang, call.number, call.window), hallqVoice.callText(lang, call.number, call.window));
    }
  }

  function onMessage(msg) {
    if (!t) return;
    if (msg.type === "snapshot") refresh();
    else if (msg.type === "call" && msg.number === t.number) {
      t.status = "called";
      t.window = msg.window;
      t.window_name = msg.window_name;
      render();
      alert(msg);
      refreshSoon(0);
    } else if (msg.type === "state" && msg.waiting) {
      if (t.status === "waiting" && t.sent) refreshSoon(10000);  // its own line: not in the feed
      else if (t.status === "waiting") {
        const line = msg.waiting[t.service] || [];
        const at = line.indexOf(t.number);
        if (at >= 0) {
          if (at !== t.position) { t.position = at; render(); }
          refreshSoon(15000);   // the estimate, now and then
        } else refreshSoon(0);  // called, transferred or cancelled
      } else if (t.status === "called" || t.status === "serving") refreshSoon(3000);
    }
  }

  async function showRating() {
    if (ratingShown) return;
    ratingShown = true;
    const r = await hallq.api("GET", TICKET + "/rating");
    if (!r.ok) return;
    if (r.data.rated) return thanks(r.data.level);
    if (!r.data.rateable) return;
    $("rating").hidden = false;
    hallqRating.form($("rating"), {
      T, choices: D.choices,
      send: (level, options, comment, phone) =>
        hallq.api("POST", "/api/v1/ratings", { token: D.token, level, options, comment, phone: phone || undefined }),
      done: thanks,
      errorText: (e) => e.message,
    });
  }

  function thanks(level, rating) {
    $("rating").hidden = true;
    const name = D.choices.levels.find((l) => l.level === level);
    const phone = rating && rating.phone_masked ? " " + fmt(T["rate.phone_kept"], { phone: rating.phone_masked }) : "";
    $("thanks").textContent = T["rate.thanks"] + (name ? " " + fmt(T["rate.your_rating"], { level: name.name }) : "") + phone;
    $("thanks").hidden = false;
  }

  $("sound").addEventListener("click", () => {
    soundOn = true;
    if (window.hallqVoice) {
      hallqVoice.unlock();
      hallqVoice.manifest();
    }
    if (navigator.vibrate) navigator.vibrate(100);
    $("sound").textContent = T["progress.sound_on"];
    $("sound").setAttribute("aria-pressed", "true");
  });

  $("give-up").addEventListener("click", async () => {
    if (!confirm(T["progress.give_up_confirm"])) return;
    const r = await hallq.api("DELETE", TICKET);
    if (r.ok) refresh();
  });

  refresh().then(() => hallq.liveSocket("/ws/board", { onMessage }));
})();
