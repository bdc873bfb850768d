/* Hall board and window screen. Live over /ws/board: a snapshot on every (re)connection, then
   calls in order and throttled state. Each new call is highlighted and announced through the
   queued offline voice (voice.js). A board that was disconnected announces, after resyncing,
   the calls it missed in the last two minutes, so a network blip never swallows a call.
   window.hallqBoard exposes the announcement queue for tests (headless browsers have no
   speakers); the same facts are mirrored in data- attributes on <body>. */
"use strict";
(function () {
  const setup = JSON.parse(document.getElementById("board-setup").textContent);
  const T = setup.texts;
  const lang = setup.lang;
  const voices = String(setup.voice || lang).split(",").filter((v) => v === "zh" || v === "en");
  const W = setup.window;
  const $ = (id) => document.getElementById(id);
  const MISSED_WINDOW_MS = 120000;

  const state = { windows: [], calls: [], services: [], waiting: {}, repeat: 2, synced: false };
  const seen = new Set();
  const keyOf = (c) => [c.number, c.window, c.at, c.recall].join("|");

  const announcer = new hallqVoice.Announcer({ onChange: reflect });
  window.hallqBoard = { announcer, announced: announcer.announced, queue: announcer.queue, state };

  function reflect() {
    const d = document.body.dataset;
    d.announcing = announcer.current ? announcer.current.number : "";
    d.announcedCount = String(announcer.announced.length);
    d.queued = String(announcer.queue.length);
  }

  const winName = (id) => {
    const w = state.windows.find((x) => x.id === id);
    if (!w) return id;
    return lang === "en" ? w.name_en || "Window " + id : w.name;
  };
  const svcName = (s) => (lang === "en" && s.name_en ? s.name_en : s.name);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function renderLatest(fresh) {
    const c = state.calls[0];
    if (W) {
      const w = state.windows.find((x) => x.id === W) || {};
      const num = $("win-number");
      num.textContent = w.current || "—";
      num.dataset.number = w.current || "";
      $("win-status").textContent = w.status === "paused" ? T["board.paused"] : w.status === "closed" ? T["board.closed"] : "";
      if (fresh) { num.classList.remove("flash"); void num.offsetWidth; num.classList.add("flash"); }
      return;
    }
    const box = $("latest");
    if (!c) return;
    box.replaceChildren();
    const [before, after] = T["board.please"].split("{number}");
    const [mid, end] = after.split("{window}");
    box.append(before, el("span", "number", c.number), el("span", "to", mid + winName(c.window)), end);
    if (c.recall) box.append(" ", el("span", "recall-tag", T["board.recall"]));
    box.dataset.number = c.number;
    box.dataset.window = c.window;
    if (fresh) { box.classList.remove("flash"); void box.offsetWidth; box.classList.add("flash"); }
  }

  function renderRecent(fresh) {
    if (W) return;
    const body = $("recent");
    body.replaceChildren();
    state.calls.slice(0, 8).forEach((c, i) => {
      const tr = el("tr", fresh && i === 0 ? "fresh" : "");
      tr.dataset.number = c.number;
      tr.append(el("td", "number", c.number), el("td", "", winName(c.window)));
      body.append(tr);
    });
  }

  function renderWindows(freshWindow) {
    if (W) return renderLatest(false);
    const ul = $("windows");
    ul.replaceChildren();
    for (const w of state.windows) {
      const li = el("li", w.id === freshWindow ? "fresh" : "");
      li.dataset.window = w.id;
      li.dataset.number = w.current || "";
      const label = w.current || (w.status === "paused" ? T["board.paused"] : w.status === "closed" ? T["board.closed"] : T["board.idle"]);
      li.append(el("div", "wname", lang === "en" ? w.name_en || "Window " + w.id : w.name), el("div", "wnum" + (w.current ? "" : " empty"), label));
      ul.append(li);
    }
  }

  function renderQueues() {
    if (W) return;
    const ul = $("queues");
    ul.replaceChildren();
    for (const s of state.services) {
      const li = el("li");
      li.dataset.service = s.code;
      li.append(el("span", "", svcName(s)), el("span", "count", String(s.waiting)));
      ul.append(li);
    }
  }

  function announce(c) {
    const parts = voices.map((v) => [v, hallqVoice.callClips(v, c.number, c.window), hallqVoice.callText(v, c.number, c.window)]);
    announcer.say({ number: c.number, window: c.window, recall: c.recall, at: c.at, parts, repeat: state.repeat,
                    text: parts.map((p) => p[2]).join(" / ") });
  }

  function onMessage(msg) {
    if (msg.type === "snapshot") {
      const now = Date.parse(msg.at) || Date.now();
      const missed = state.synced
        ? msg.calls.filter((c) => !seen.has(keyOf(c)) && now - Date.parse(c.at) < MISSED_WINDOW_MS).reverse()
        : [];
      state.windows = msg.windows;
      state.services = msg.services;
      state.waiting = msg.waiting || {};
      state.calls = msg.calls.slice();
      state.repeat = msg.announce_repeat || 2;
      for (const c of msg.calls) seen.add(keyOf(c));
      state.synced = true;
      renderLatest(missed.length > 0);
      renderRecent(missed.length > 0);
      renderWindows();
      renderQueues();
      missed.forEach(announce);
      document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
    } else if (msg.type === "call") {
      seen.add(keyOf(msg));
      state.calls.unshift(msg);
      state.calls.length = Math.min(state.calls.length, 20);
      const w = state.windows.find((x) => x.id === msg.window);
      if (w) w.current = msg.number;
      renderLatest(true);
      renderRecent(true);
      renderWindows(msg.window);
      announce(msg);
    } else if (msg.type === "state") {
      state.windows = msg.windows;
      state.services = msg.services;
      state.waiting = msg.waiting || {};
      renderWindows();
      renderQueues();
    }
  }

  function clock() {
    const d = new Date();
    $("clock").textContent = d.toLocaleTimeString(lang === "en" ? "en-GB" : "zh-CN", { hour: "2-digit", minute: "2-digit" });
  }
  clock();
  setInterval(clock, 5000);
  reflect();

  $("sound-btn").addEventListener("click", hallqVoice.unlock);
  document.addEventListener("pointerdown", hallqVoice.unlock);
  hallqVoice.audio();
  hallq.liveSocket("/ws/board" + (W ? "?window=" + encodeURIComponent(W) : ""), { onMessage });
})();
