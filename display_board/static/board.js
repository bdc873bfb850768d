/* Hall board and window screen. Live over /ws/board: a snapshot on every (re)connection, then
   calls in order and throttled state. Each new call is highlighted and announced through the
   queued offline voice (voice.js), which stays at most ~15 s behind the screen (repeats dropped
   and a short form under a backlog, one chime per burst). A board that was disconnected
   announces, after resyncing, the calls it missed in the last two minutes.

   Every window and service of the hall is on the board: tiles are sized to fill their panel
   (fitTiles), and only when they would fall below a size readable from across the hall are
   they paged, turning every PAGE_MS, with the page a fresh call is on shown at once.
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
  const PAGE_MS = 8000;
  const CLERK_REFRESH_MS = 30000;

  const state = { windows: [], calls: [], services: [], waiting: {}, repeat: 2, synced: false };
  const seen = new Set();
  const keyOf = (c) => [c.number, c.window, c.at, c.recall].join("|");

  const announcer = new hallqVoice.Announcer({ onChange: reflect, chime: true, maxLagMs: 15000 });
  window.hallqBoard = { announcer, announced: announcer.announced, skipped: announcer.skipped, queue: announcer.queue, state };

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
  const fmt = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => values[k]);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function flash(node) { node.classList.remove("flash"); void node.offsetWidth; node.classList.add("flash"); }

  // -- tiles that fit their panel, paged only below a readable size ---------------------------

  /* Chooses the column count that gives the largest tiles of the given aspect (width / height)
     for n tiles in the list's box; below minH it pages instead, with as many tiles of minH as
     fit. Sets --cols and --tile-h on the list and returns {perPage, pages}. */
  function fitTiles(ul, n, { aspect, minH, maxH, gap = 10 }) {
    const width = ul.clientWidth, height = ul.clientHeight;
    if (!n || !width || !height) return { perPage: n || 1, pages: 1 };
    let best = { cols: 1, h: 0 };
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const w = (width - gap * (cols - 1)) / cols;
      const h = Math.min((height - gap * (rows - 1)) / rows, w / aspect, maxH);
      if (h > best.h) best = { cols, h };
    }
    let cols = best.cols, h = best.h, perPage = n;
    if (h < minH) {
      cols = Math.max(1, Math.floor((width + gap) / (minH * aspect + gap)));
      const rows = Math.max(1, Math.floor((height + gap) / (minH + gap)));
      h = Math.min(maxH, (height - gap * (rows - 1)) / rows);
      perPage = cols * rows;
    }
    ul.style.setProperty("--cols", String(cols));
    ul.style.setProperty("--tile-h", Math.floor(h) + "px");
    return { perPage, pages: Math.ceil(n / perPage) };
  }

  const pagers = {};
  function pager(id, opts) {
    const p = pagers[id] || (pagers[id] = { page: 0, perPage: 1, pages: 1, shownAt: Date.now(), opts });
    const ul = $(id);
    const items = [...ul.children];
    const fit = fitTiles(ul, items.length, opts);
    p.perPage = fit.perPage;
    p.pages = fit.pages;
    if (p.page >= p.pages) p.page = 0;
    show(id);
    return p;
  }
  function show(id) {
    const p = pagers[id];
    const ul = $(id);
    [...ul.children].forEach((li, i) => li.classList.toggle("off-page", Math.floor(i / p.perPage) !== p.page));
    ul.dataset.page = String(p.page + 1);
    ul.dataset.pages = String(p.pages);
    $(id + "-page").textContent = p.pages > 1 ? `${p.page + 1}/${p.pages}` : "";
  }
  function turnPages() {
    for (const id in pagers) {
      const p = pagers[id];
      if (p.pages > 1 && Date.now() - p.shownAt >= PAGE_MS) {
        p.page = (p.page + 1) % p.pages;
        p.shownAt = Date.now();
        show(id);
      }
    }
  }
  const WINDOW_TILES = { aspect: 2.0, minH: 110, maxH: 230 };   // names >= 40 px
  const QUEUE_TILES = { aspect: 6.5, minH: 56, maxH: 96 };     // names >= 24 px

  // -- the window screen: one state at a time -------------------------------------------------

  function renderWindowScreen(fresh) {
    const w = state.windows.find((x) => x.id === W) || {};
    const screen = $("win-screen");
    const num = $("win-number");
    const st = w.status === "paused" || w.status === "closed" ? w.status : w.current ? w.current_status || "called" : "idle";
    screen.dataset.state = st;
    const number = st === "called" || st === "serving" ? w.current : "";
    num.textContent = number;
    num.dataset.number = number;
    $("win-label").textContent = st === "serving" ? T["board.current"] : st === "called" ? T["board.calling"] : "";
    $("win-status").textContent = st === "paused" ? T["board.paused"] : st === "closed" ? T["board.closed"] : st === "idle" ? T["board.win_idle"] : "";
    $("win-reason").textContent = st === "paused" && w.pause_reason ? T["common.pause." + w.pause_reason] || "" : "";
    if (fresh && number) flash(num);
  }

  function renderClerk(clerk) {
    const p = $("win-clerk");
    p.dataset.clerk = clerk ? clerk.username : "";
    p.replaceChildren();
    if (!clerk) return;
    p.append(el("span", "clerk-name", T["board.clerk"] + "：" + clerk.name),
             el("span", "clerk-no", T["board.staff_no"] + "：" + clerk.staff_no));
  }
  async function refreshClerk() {
    const res = await hallq.api("GET", "/api/v1/windows/" + encodeURIComponent(W) + "/clerk");
    if (res.ok) renderClerk(res.data.clerk);
  }

  // -- the hall board -------------------------------------------------------------------------

  function renderLatest(fresh) {
    if (W) return renderWindowScreen(fresh);
    const c = state.calls[0];
    const box = $("latest");
    if (!c) return;
    box.replaceChildren();
    const [before, after] = T["board.go_to"].split("{window}");
    const to = el("span", "to");
    to.append(before, el("b", "", winName(c.window)), after);
    box.append(el("span", "number", c.number), to);
    if (c.recall) box.append(el("span", "recall-tag", T["board.recall"]));
    box.dataset.number = c.number;
    box.dataset.window = c.window;
    box.setAttribute("aria-label", fmt(T["board.please"], { number: c.number, window: winName(c.window) }));
    if (fresh) flash(box);
  }

  function renderRecent(fresh) {
    if (W) return;
    const body = $("recent");
    body.replaceChildren();
    const box = body.closest("section");
    const rowH = parseFloat(getComputedStyle(body.closest("table")).fontSize) * 1.25 + 5;
    const room = box.getBoundingClientRect().bottom - body.getBoundingClientRect().top - 20;
    const rows = Math.max(1, Math.floor(room / rowH));
    state.calls.slice(1, rows + 1).forEach((c, i) => {
      const tr = el("tr", fresh && i === 0 ? "fresh" : "");
      tr.dataset.number = c.number;
      tr.append(el("td", "number", c.number), el("td", "", winName(c.window)));
      body.append(tr);
    });
  }

  function renderWindows(freshWindow) {
    if (W) return renderWindowScreen(false);
    const ul = $("windows");
    ul.replaceChildren();
    state.windows.forEach((w) => {
      const li = el("li", w.id === freshWindow ? "fresh" : "");
      li.dataset.window = w.id;
      li.dataset.number = w.current || "";
      li.dataset.status = w.status;
      const label = w.status === "paused" ? T["board.paused"] : w.status === "closed" ? T["board.closed"] : w.current || T["board.idle"];
      const busy = w.current && w.status === "open";
      li.append(el("div", "wname", winName(w.id)), el("div", "wnum" + (busy ? "" : " empty"), busy ? w.current : label));
      ul.append(li);
    });
    const p = pager("windows", WINDOW_TILES);
    const i = state.windows.findIndex((w) => w.id === freshWindow);
    if (i >= 0 && Math.floor(i / p.perPage) !== p.page) {
      p.page = Math.floor(i / p.perPage);
      p.shownAt = Date.now();
      show("windows");
    }
  }

  function renderQueues() {
    if (W) return;
    const ul = $("queues");
    ul.replaceChildren();
    for (const s of state.services) {
      const li = el("li");
      li.dataset.service = s.code;
      li.append(el("span", "qname", svcName(s)), el("span", "count", fmt(T["board.people"], { n: s.waiting })));
      ul.append(li);
    }
    pager("queues", QUEUE_TILES);
  }

  function announce(c) {
    const parts = voices.map((v) => [v, hallqVoice.callClips(v, c.number, c.window), hallqVoice.callText(v, c.number, c.window)]);
    const short = voices.map((v) => [v, hallqVoice.shortClips(v, c.number, c.window), hallqVoice.shortText(v, c.number, c.window)]);
    announcer.say({ number: c.number, window: c.window, recall: c.recall, at: c.at, parts, short, repeat: state.repeat,
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
      if (W) refreshClerk();
    } else if (msg.type === "call") {
      seen.add(keyOf(msg));
      state.calls.unshift(msg);
      state.calls.length = Math.min(state.calls.length, 20);
      const w = state.windows.find((x) => x.id === msg.window);
      if (w) { w.current = msg.number; w.current_status = "called"; }
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

  /* The hall's time, whatever zone the board PC was set up in. */
  function clock() {
    const d = new Date();
    const opts = { timeZone: setup.tz };
    const time = d.toLocaleTimeString(lang === "en" ? "en-GB" : "zh-CN", { ...opts, hour: "2-digit", minute: "2-digit", hour12: false });
    const date = d.toLocaleDateString(lang === "en" ? "en-GB" : "zh-CN", { ...opts, month: lang === "en" ? "short" : "long", day: "numeric", weekday: "short" });
    $("clock").textContent = date + " " + time;
    $("clock").dataset.time = time;
  }
  clock();
  setInterval(clock, 5000);
  setInterval(turnPages, 1000);
  reflect();
  addEventListener("resize", () => { if (!W) { renderWindows(); renderQueues(); renderRecent(false); } });
  if (W) setInterval(refreshClerk, CLERK_REFRESH_MS);

  $("sound-btn").addEventListener("click", hallqVoice.unlock);
  document.addEventListener("pointerdown", hallqVoice.unlock);
  hallqVoice.audio();
  hallq.liveSocket("/ws/board" + (W ? "?window=" + encodeURIComponent(W) : ""), { onMessage });
})();
