/* /rate/{window}: the evaluator pad on the counter. It shows the ticket this window has just
   finished and asks for a rating; it listens to the window's board feed to notice the finish,
   and looks again every half minute so a ticket nobody rated goes away by itself. */
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("page-data").textContent);
  const T = D.T, en = D.lang === "en";
  const $ = (id) => document.getElementById(id);
  const PAD = "/api/v1/ratings/pad/" + encodeURIComponent(D.window);
  let shown = null;       // id of the ticket on screen
  let thanksUntil = 0;
  let timer = null;

  function view(which) {
    for (const id of ["idle", "asking", "thanks"]) $(id).hidden = id !== which;
  }

  async function refresh() {
    const r = await hallq.api("GET", PAD);
    if (!r.ok) return;
    $("window-name").textContent = en ? `Window ${D.window}` : r.data.window_name;
    if (Date.now() < thanksUntil) return;
    const t = r.data.ticket;
    $("serving").textContent = r.data.serving ? T["rate.serving"].replace("{number}", r.data.serving) : "";
    document.body.dataset.serving = r.data.serving || "";
    if (!t) { shown = null; view("idle"); return; }
    if (t.id === shown) return;
    shown = t.id;
    $("number").textContent = t.number;
    $("service").textContent = en && t.service_name_en ? t.service_name_en : t.service_name;
    hallqRating.form($("form"), {
      T, choices: D.choices,
      keypad: true,
      send: (level, options, comment, phone) =>
        hallq.api("POST", "/api/v1/ratings", { ticket: t.id, level, options, comment, phone: phone || undefined }),
      done: (level, rating) => {
        $("thanks-phone").textContent = rating && rating.phone_masked ? T["rate.phone_kept"].replace("{phone}", rating.phone_masked) : "";
        view("thanks");
        thanksUntil = Date.now() + 5000;
        setTimeout(refresh, 5100);
      },
      errorText: (e) => e.message,
    });
    view("asking");
  }

  function refreshSoon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }

  hallq.liveSocket("/ws/board?window=" + encodeURIComponent(D.window), {
    onMessage: (m) => { if (m.type !== "heartbeat") refreshSoon(); },
  });
  setInterval(refresh, 30000);
  refresh();
})();
