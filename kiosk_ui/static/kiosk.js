/* Touchscreen kiosk: choose a service (or find an item by name, keyword or pinyin initials),
   swipe an ID card or type an appointment code, get a ticket on screen (the screen is the
   ticket when the printer fails, and the visitor can ask for a reprint). Live queue lengths,
   device messages and print progress arrive over /ws/kiosk/{kiosk}. After `idle_s` without a touch it returns to the start, in Chinese, with
   elder mode off, ready for the next visitor. */
"use strict";
(function () {
  const setup = JSON.parse(document.getElementById("kiosk-setup").textContent);
  const T = setup.texts;
  const lang = setup.lang;
  const $ = (id) => document.getElementById(id);
  const fmt = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => values[k]);
  const svc = (code) => state.services.find((s) => s.code === code) || { code, name: code };
  const svcName = (s) => (lang === "en" && s.name_en ? s.name_en : s.name);

  const state = {
    services: setup.services, screen: "start", identity: null, ticket: null, printer: "ok",
    print: null, // this ticket's print job: {state, reason, again} (again: after a reprint)
    jobs: new Map(), // the last print message per ticket id: it may come before the ticket does
    lastTouch: Date.now(),
  };
  const voice = new hallqVoice.Announcer({ gapMs: 200 });
  window.hallqKiosk = { state, voice };

  function prompt(clips, text) {
    if (!document.body.classList.contains("elder")) return;
    voice.say({ parts: [[lang, clips, text]], repeat: 1, number: null });
  }

  function show(id) {
    for (const s of document.querySelectorAll("main .screen")) s.hidden = s.id !== id;
    state.screen = id;
    document.body.dataset.screen = id;
    window.scrollTo(0, 0);
    document.getElementById("main").scrollTop = 0;
    $("services").scrollTop = 0;
    moreCue();
  }

  /* When the services do not all fit (English with large text, a hall with many services),
     the list scrolls within the screen and a big cue says how many are below and scrolls to
     them when tapped: nothing falls off the screen unseen. */
  function moreCue() {
    const box = $("services");
    const bottom = box.getBoundingClientRect().bottom;
    const hidden = [...box.children].filter((b) => b.getBoundingClientRect().bottom > bottom + 2).length;
    $("more-cue").hidden = hidden === 0 || state.screen !== "start";
    $("more-text").textContent = fmt(T["kiosk.more"], { n: hidden });
    document.body.dataset.more = String(hidden);
  }
  $("services").addEventListener("scroll", moreCue, { passive: true });
  addEventListener("resize", moreCue);
  $("more-cue").addEventListener("click", () => {
    const box = $("services");
    document.body.dataset.scrolling = "1";
    box.scrollBy({ top: box.clientHeight * 0.8, behavior: "smooth" });
  });
  $("services").addEventListener("scrollend", () => { document.body.dataset.scrolling = "0"; moreCue(); });

  function error(text) {
    const e = $("error");
    e.textContent = text || "";
    e.hidden = !text;
  }

  // -- live services --------------------------------------------------------------------------

  function renderServices() {
    for (const b of document.querySelectorAll("#services .service")) {
      const s = svc(b.dataset.service);
      b.disabled = !s.open;
      b.querySelector(".s-waiting").textContent = fmt(T["kiosk.waiting"], { n: s.waiting });
      b.querySelector(".s-eta").textContent = s.open ? minutes(s.eta_range_s) : T["kiosk.closed"];
    }
  }
  function minutes(range) {
    if (!range) return "";
    const low = Math.max(1, Math.round(range[0] / 60));
    return fmt(T["kiosk.about_minutes"], { low, high: Math.max(low + 1, Math.round(range[1] / 60)) });
  }

  function onMessage(msg) {
    if (msg.type === "snapshot" || msg.type === "state") {
      state.services = msg.services;
      renderServices();
      if (msg.type === "snapshot" && "printer" in msg) {
        state.printer = msg.printer === null ? "no_printer" : msg.printer === "paper_low" ? "ok" : msg.printer;
        renderPrinterDown();
      }
    } else if (msg.type === "card") {
      state.identity = { name_masked: msg.name_masked, priority: !!msg.priority };
      const box = $("card-status");
      box.dataset.state = "read";
      $("card-text").textContent = fmt(T["kiosk.card_read"], { name: msg.name_masked || "" }) +
        (msg.priority ? " · " + T["kiosk.card_priority"] : "");
      touched();
      if (state.screen !== "start") show("start");
      prompt(["p_card"], T["kiosk.card_read"]);
    } else if (msg.type === "card_removed") {
      clearCard();
    } else if (msg.type === "printer") {
      state.printer = msg.state === "paper_low" ? "ok" : msg.state; // low paper still prints
      renderPrinterDown();
      if (state.ticket && !state.print && (!msg.number || msg.number === state.ticket.number)) renderPrint();
    } else if (msg.type === "print") {
      state.jobs.set(msg.ticket, msg);
      if (state.jobs.size > 20) state.jobs.delete(state.jobs.keys().next().value);
      if (state.ticket && msg.ticket === state.ticket.id) printUpdate(msg);
    }
  }

  // -- printing: progress, failure in plain words, reprint ------------------------------------

  function printUpdate(msg) {
    const again = !!(state.print && state.print.again);
    state.print = { state: msg.state, reason: msg.reason || "", again };
    renderPrint();
  }

  function reasonText(reason) {
    return T["common.print." + reason] || T["common.print.error"];
  }

  /* No job known (no printer here, or not heard of yet): the printer's state decides. */
  function renderPrint() {
    const p = state.print || (state.printer !== "ok" ? { state: "failed", reason: state.printer, again: false } : null);
    const keep = $("ticket-keep");
    const btn = $("reprint-btn");
    const failed = !!p && p.state === "failed";
    const busy = !!p && (p.state === "queued" || p.state === "printing");
    keep.dataset.print = p ? p.state : "";
    keep.classList.toggle("failed", failed);
    keep.classList.toggle("printed", !!p && p.state === "done");
    if (!p) keep.textContent = T["kiosk.keep"];
    else if (failed) keep.textContent = fmt(T[p.again ? "kiosk.print_failed_again" : "kiosk.print_failed"], { reason: reasonText(p.reason) });
    else if (busy) keep.textContent = T[p.again ? "kiosk.reprinting" : "kiosk.print_printing"];
    else if (p.state === "done") keep.textContent = T["kiosk.print_done"];
    btn.hidden = !state.print || (!failed && !(busy && p.again));
    btn.disabled = busy;
    btn.setAttribute("aria-busy", String(busy));
    btn.textContent = busy ? T["kiosk.reprinting"] : T["kiosk.reprint"];
    $("ticket-qr-box").classList.toggle("fallback", failed);
    $("ticket-qr-caption").textContent = failed ? T["kiosk.qr_fallback"] : T["kiosk.scan"];
  }

  /* The job's state as the server has it, in case its messages came before the ticket did. */
  async function fetchPrint(t) {
    const res = await hallq.api("GET", `/api/v1/tickets/${encodeURIComponent(t.token)}/print`);
    if (!res.ok || state.ticket !== t || state.jobs.has(t.id)) return;
    printUpdate(res.data);
  }

  async function reprint() {
    const t = state.ticket;
    if (!t || !state.print || state.print.state !== "failed") return;
    state.print = { state: "queued", reason: "", again: true };
    renderPrint();
    const res = await hallq.api("POST", `/api/v1/tickets/${encodeURIComponent(t.token)}/reprint`);
    if (state.ticket !== t || res.ok) return; // progress arrives as print messages
    const code = res.error && res.error.code;
    if (code === "already_printed") state.print = { state: "done", reason: "", again: true };
    else if (code === "job_in_progress") return;
    else state.print = { state: "failed", reason: res.status === 0 || code === "kiosk_offline" ? "offline" : "error", again: true };
    renderPrint();
    if (code === "ticket_finished") $("ticket-keep").textContent = T["kiosk.reprint_gone"];
  }
  $("reprint-btn").addEventListener("click", reprint);

  function clearCard() {
    state.identity = null;
    $("card-status").dataset.state = "idle";
    $("card-text").textContent = T["kiosk.card_hint"];
  }

  // -- taking a ticket ------------------------------------------------------------------------

  /* A printer that cannot print is said before a number is taken, not after. */
  const printerDown = () => state.printer !== "ok" && state.printer !== "no_printer";
  function renderPrinterDown() {
    const down = printerDown();
    $("printer-down").hidden = !down;
    if (down) $("printer-down").textContent = fmt(T["kiosk.printer_down"], { reason: reasonText(state.printer) });
    document.body.dataset.printer = state.printer;
  }
  let confirmed = null;
  $("printer-go").addEventListener("click", () => { $("printer-confirm").close(); const b = confirmed; confirmed = null; if (b) take(b, true); });
  $("printer-cancel").addEventListener("click", () => { confirmed = null; $("printer-confirm").close(); });

  async function take(body, anyway = false) {
    if (printerDown() && !anyway) {
      confirmed = body;
      $("printer-confirm-text").textContent = fmt(T["kiosk.printer_confirm"], { reason: reasonText(state.printer) });
      $("printer-confirm").showModal();
      return;
    }
    show("busy");
    error("");
    const res = await hallq.api("POST", "/api/v1/tickets", { ...body, kiosk: setup.kiosk });
    if (!res.ok) {
      show(body.appointment ? "appt" : "start");
      if (body.appointment) { $("appt-input").focus(); }
      const msg = res.status === 0 ? T["common.network"] : res.error.message;
      if (body.appointment) apptError(msg); else error(msg);
      return;
    }
    showTicket(res.data);
  }

  function showTicket(data) {
    const t = data.ticket;
    state.ticket = t;
    clearCard();
    $("ticket-number").textContent = t.number;
    $("ticket-number").dataset.number = t.number;
    $("ticket-service").textContent = svcName(svc(t.service));
    $("ticket-item").textContent = (lang === "en" && t.item_name_en) || t.item_name || "";
    $("ticket-ahead").textContent = t.position ? fmt(T["kiosk.ahead"], { n: t.position }) : T["kiosk.ahead_none"];
    $("ticket-eta").textContent = minutes(t.eta_range_s);
    const appt = data.appointment;
    $("ticket-appt").hidden = !appt;
    if (appt) $("ticket-appt").textContent = lang === "en" ? appt.message_en : appt.message;
    $("ticket-qr").src = "/qr.svg?data=" + encodeURIComponent(setup.base + "/t/" + t.token);
    const known = state.jobs.get(t.id);
    state.print = known ? { state: known.state, reason: known.reason || "", again: false } : null;
    renderPrint();
    if (!known) fetchPrint(t);
    show("ticket");
    touched();
    prompt(["p_your_number", ...hallqVoice.spell(t.number, lang), "p_wait"], T["kiosk.your_number"] + " " + t.number);
  }

  for (const b of document.querySelectorAll("#services .service")) {
    b.addEventListener("click", () => take({ service: b.dataset.service }));
  }
  $("done-btn").addEventListener("click", reset);

  // -- search and browsing ---------------------------------------------------------------------

  hallqSearch.prepare(setup.catalog);
  const search = (raw) => hallqSearch.search(setup.catalog, raw);

  function resultButton(item) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "btn result" + (item.kind === "service" ? " category" : "");
    b.dataset.item = item.code;
    b.dataset.service = item.service;
    b.dataset.kind = item.kind;
    const n = document.createElement("span");
    n.className = "r-name";
    n.textContent = lang === "en" && item.name_en ? item.name_en : item.name;
    const s = document.createElement("span");
    s.className = "r-service";
    s.textContent = item.kind === "service" ? T["kiosk.whole_category"] : svcName(svc(item.service));
    b.append(n, s);
    // an item found or browsed goes on the ticket: the clerk sees what the visitor came for
    b.addEventListener("click", () => take(item.kind === "item" ? { service: item.service, item: item.code } : { service: item.service }));
    li.append(b);
    return li;
  }

  function renderResults() {
    const text = $("search-input").value;
    const hits = search(text);
    $("results").replaceChildren(...hits.map(resultButton));
    $("search-none").hidden = hits.length > 0 || !text.trim();
    $("browse").hidden = !!text.trim();
    $("results").hidden = !text.trim();
    document.body.dataset.results = String(hits.length);
  }
  $("search-input").addEventListener("input", renderResults);
  /* Browsing shows the categories alone, without the keyboard: for those who cannot type. */
  function openSearch(browse) {
    $("search-input").value = "";
    $("search").dataset.mode = browse ? "browse" : "search";
    $("search-label").textContent = T[browse ? "kiosk.browse" : "kiosk.search"];
    showCategory(null);
    renderResults();
    show("search");
  }
  $("search-btn").addEventListener("click", () => openSearch(false));
  $("browse-btn").addEventListener("click", () => openSearch(true));

  /* Browsing for those who cannot type: categories, then the items of one. */
  function showCategory(code) {
    $("categories").hidden = !!code;
    $("category-items").hidden = !code;
    $("category-back").hidden = !code;
    if (!code) { $("browse-h").textContent = $("search").dataset.mode === "browse" ? "" : T["kiosk.browse"]; return; }
    $("browse-h").textContent = svcName(svc(code));
    const items = setup.catalog.filter((i) => i.service === code);
    items.sort((a, b) => (a.kind === "service" ? -1 : 0) - (b.kind === "service" ? -1 : 0));
    $("category-items").replaceChildren(...items.map(resultButton));
    document.body.dataset.category = code;
  }
  for (const b of document.querySelectorAll("#categories [data-category]")) {
    b.addEventListener("click", () => { showCategory(b.dataset.category); $("browse").scrollIntoView({ block: "start" }); });
  }
  for (const b of document.querySelectorAll("#search [data-back]")) {
    b.addEventListener("click", () => { $("search").dataset.mode = "search"; });
  }
  $("category-back").addEventListener("click", () => showCategory(null));
  for (const b of document.querySelectorAll("#word-chips [data-word]")) {
    b.addEventListener("click", () => { $("search-input").value = b.dataset.word; renderResults(); });
  }

  // -- appointment ----------------------------------------------------------------------------

  function apptError(text) {
    let e = $("appt-error");
    if (!e) {
      e = document.createElement("p");
      e.id = "appt-error";
      e.className = "notice notice-error";
      e.setAttribute("role", "alert");
      $("appt-input").after(e);
    }
    e.textContent = text;
    e.hidden = !text;
  }
  $("appt-btn").addEventListener("click", () => {
    $("appt-input").value = "";
    apptError("");
    show("appt");
  });
  $("appt-go").addEventListener("click", () => {
    const code = $("appt-input").value.replace(/[\s-]/g, "").toUpperCase();
    if (code) take({ appointment: code });
  });

  // -- on-screen keyboards: a kiosk has no physical one ----------------------------------------

  for (const kb of document.querySelectorAll(".keyboard")) {
    const target = $(kb.dataset.target);
    const type = (fn) => {
      fn();
      target.dispatchEvent(new Event("input"));
    };
    const lower = kb.dataset.target === "search-input";
    for (const row of kb.dataset.keys.split(" ")) {
      const r = document.createElement("div");
      r.className = "row";
      for (const ch of row) {
        const k = document.createElement("button");
        k.type = "button";
        k.className = "btn key";
        k.textContent = ch;
        k.dataset.key = ch;
        k.addEventListener("click", () => type(() => { target.value += lower ? ch.toLowerCase() : ch; }));
        r.append(k);
      }
      kb.append(r);
    }
    const r = document.createElement("div");
    r.className = "row";
    for (const [label, fn] of [[T["kiosk.backspace"], () => { target.value = target.value.slice(0, -1); }],
                               [T["kiosk.clear"], () => { target.value = ""; }]]) {
      const k = document.createElement("button");
      k.type = "button";
      k.className = "btn key wide";
      k.textContent = label;
      k.addEventListener("click", () => type(fn));
      r.append(k);
    }
    kb.append(r);
  }
  for (const b of document.querySelectorAll("[data-back]")) b.addEventListener("click", () => show("start"));

  // -- elder mode, idle reset -------------------------------------------------------------------

  $("elder-btn").addEventListener("click", () => {
    const on = !document.body.classList.contains("elder");
    document.body.classList.toggle("elder", on);
    requestAnimationFrame(moreCue);
    $("elder-btn").setAttribute("aria-pressed", String(on));
    $("elder-btn").textContent = on ? T["kiosk.elder_on"] : T["kiosk.elder"];
    hallqVoice.unlock();
    prompt(["p_choose"], T["kiosk.choose"]);
  });

  function touched() { state.lastTouch = Date.now(); }
  document.addEventListener("pointerdown", () => { touched(); hallqVoice.unlock(); }, true);
  document.addEventListener("keydown", touched, true);

  function dirty() {
    return state.screen !== "start" || document.body.classList.contains("elder") ||
      state.identity !== null || !$("error").hidden || lang !== "zh";
  }
  function reset() {
    if ($("printer-confirm").open) $("printer-confirm").close();
    if (lang !== "zh") { location.replace(location.pathname + "?lang=zh"); return; }
    document.body.classList.remove("elder");
    $("elder-btn").setAttribute("aria-pressed", "false");
    $("elder-btn").textContent = T["kiosk.elder"];
    state.ticket = null;
    state.print = null;
    clearCard();
    error("");
    show("start");
    touched();
  }
  setInterval(() => {
    const left = setup.idle_s - Math.floor((Date.now() - state.lastTouch) / 1000);
    $("countdown").textContent = state.screen === "ticket" ? fmt(T["kiosk.back_in"], { n: Math.max(0, left) }) : "";
    if (left <= 0 && dirty()) reset();
  }, 500);

  function clock() {
    // the hall's time, whatever zone the kiosk PC was set up in
    const time = new Date().toLocaleTimeString(lang === "en" ? "en-GB" : "zh-CN", { timeZone: setup.tz, hour: "2-digit", minute: "2-digit", hour12: false });
    $("clock").textContent = time;
    $("clock").dataset.time = time;
  }
  clock();
  setInterval(clock, 5000);
  show("start");
  hallq.liveSocket("/ws/kiosk/" + encodeURIComponent(setup.kiosk), { onMessage });
})();
