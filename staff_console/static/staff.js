/* Window console: buttons and keyboard shortcuts drive /api/v1/windows/{w}/{action}; the current
   ticket and the waiting list follow the hall live over /ws/board?window=W (snapshot, then
   throttled state messages), so two windows working at once see the same hall. Tickets a kiosk
   failed to print are listed (/api/v1/print-jobs?state=failed, again whenever the socket says a
   print job failed or came out) and can be reprinted from here. */
"use strict";
(function () {
  const setup = JSON.parse(document.getElementById("console-setup").textContent);
  const T = setup.texts;
  const W = setup.window;
  const lang = document.body.dataset.lang;
  const svcName = (code) => {
    const s = setup.services.find((x) => x.code === code);
    return s ? (lang === "en" && s.name_en ? s.name_en : s.name) : code;
  };
  const $ = (id) => document.getElementById(id);
  const fmt = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => values[k]);

  const state = { win: null, waiting: {}, counts: {}, ticket: null, busy: false, details: new Map() };
  window.hallqStaff = state;

  function message(text, kind) {
    const el = $("message");
    el.textContent = text;
    el.className = "notice " + (kind === "error" ? "notice-error" : kind === "warn" ? "notice-warn" : "notice-ok");
    el.dataset.kind = kind;
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.hidden = !text;
  }

  /* Who is in front of the clerk, as far as the hall may tell them: priority or appointment,
     a transfer, the masked name from the ID card, and how long they waited. */
  const minutesBetween = (from, to) => Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 60000));
  function badges(t) {
    const out = [];
    if (t.priority === "priority") out.push(["priority", T["staff.badge.priority"]]);
    if (t.priority === "appointment" || t.appointment) out.push(["appointment", T["staff.badge.appointment"]]);
    if (t.predecessor) out.push(["transferred", T["staff.badge.transferred"]]);
    return out.map(([kind, text]) => { const b = document.createElement("span"); b.className = "badge badge-" + kind; b.dataset.badge = kind; b.textContent = text; return b; });
  }
  function renderWho(t) {
    const box = $("cur-who");
    box.replaceChildren();
    if (!t) return;
    box.append(...badges(t));
    if (t.name_masked) { const n = document.createElement("span"); n.className = "who-name"; n.textContent = t.name_masked; box.append(n); }
    if (t.called_at && t.issued_at) {
      const w = document.createElement("span");
      w.className = "who-waited";
      w.textContent = fmt(T["staff.waited"], { min: minutesBetween(t.issued_at, t.called_at) });
      box.append(w);
    }
  }

  function renderCurrent() {
    const w = state.win || {};
    const t = state.ticket;
    const number = t ? t.number : w.current;
    $("cur-number").textContent = number || "—";
    $("cur-number").dataset.number = number || "";
    const service = t ? t.service : w.current_service;
    $("cur-service").textContent = service ? svcName(service) : "";
    const status = t ? t.status : w.current_status;
    $("cur-status").textContent = status ? T["staff.status." + status] || status : "";
    $("cur-recalls").textContent = t && t.recalls ? fmt(T["staff.recalls"], { n: t.recalls }) : "";
    renderWho(t);
    $("cur-item").textContent = t ? (lang === "en" && t.item_name_en) || t.item_name || "" : "";
    const ws = $("window-status");
    ws.dataset.status = w.status || "";
    ws.textContent = w.status ? T["staff." + w.status] : "";
    const pause = $("pause-btn");
    pause.dataset.action = w.status === "paused" ? "resume" : "pause";
    pause.firstChild.textContent = (w.status === "paused" ? T["staff.resume"] : T["staff.pause"]) + " ";
    tick();
    renderButtons();
  }

  function tick() {
    const t = state.ticket;
    const w = state.win || {};
    const since = t ? t.started_at || t.called_at : w.called_at;
    const el = $("cur-timer");
    if (!since || !(t ? t.number : w.current)) { el.textContent = "0:00"; return; }
    const s = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 1000));
    el.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  setInterval(tick, 1000);

  function renderWaiting() {
    const box = $("waiting");
    box.replaceChildren();
    for (const code of setup.window_services) {
      const sec = document.createElement("div");
      sec.className = "wait-service";
      sec.dataset.service = code;
      const h = document.createElement("h3");
      const n = state.counts[code] ?? (state.waiting[code] || []).length;
      h.textContent = svcName(code) + " · " + fmt(T["staff.waiting_n"], { n });
      sec.append(h);
      const list = document.createElement("div");
      list.className = "wait-numbers";
      for (const number of (state.waiting[code] || []).slice(0, 30)) {
        const b = document.createElement("button");
        b.className = "btn";
        const num = document.createElement("span");
        num.className = "w-number";
        num.textContent = number;
        b.append(num);
        const d = state.details.get(number);
        if (d) {
          b.append(...badges(d));
          const extra = document.createElement("span");
          extra.className = "w-meta";
          extra.textContent = [d.name_masked, fmt(T["staff.waited_short"], { min: minutesBetween(d.issued_at, new Date().toISOString()) })].filter(Boolean).join(" ");
          b.append(extra);
        }
        b.dataset.number = number;
        b.title = T["staff.call_number"] + " " + number;
        b.addEventListener("click", () => act("call", { number }));
        list.append(b);
      }
      sec.append(list);
      box.append(sec);
    }
  }

  /* The waiting tickets' details (badges, masked names, issue times) for the queue list, at most
     once a second however busy the hall is. */
  let detailsTimer = null;
  function loadDetailsSoon() {
    if (!detailsTimer) detailsTimer = setTimeout(loadDetails, 1000);
  }
  async function loadDetails() {
    const res = await hallq.api("GET", "/api/v1/tickets?status=waiting");
    detailsTimer = null;
    if (!res.ok) return;
    const mine = new Set(setup.window_services);
    state.details = new Map(res.data.filter((t) => mine.has(t.service)).map((t) => [t.number, t]));
    renderWaiting();
  }
  setInterval(() => { if (state.details.size) renderWaiting(); }, 60000);  // waited minutes tick

  /* The state message says which number is current; the API gives the details (start time,
     recalls) when it changes. */
  async function refreshTicket() {
    const w = state.win;
    if (!w || !w.current) { state.ticket = null; renderCurrent(); return; }
    if (state.ticket && state.ticket.number === w.current && state.ticket.status === w.current_status) return;
    const res = await hallq.api("GET", "/api/v1/tickets?status=" + encodeURIComponent(w.current_status));
    if (res.ok) state.ticket = res.data.find((t) => t.window === W && t.number === w.current) || null;
    renderCurrent();
  }

  function apply(msg) {
    if (msg.type === "print") { printed(msg); return; }
    if (msg.type === "snapshot") loadJobs();
    if (msg.type !== "snapshot" && msg.type !== "state") return;
    state.win = msg.windows.find((w) => w.id === W) || null;
    state.waiting = msg.waiting || {};
    state.counts = Object.fromEntries((msg.services || []).map((s) => [s.code, s.waiting]));
    if (state.ticket && (!state.win || state.win.current !== state.ticket.number)) state.ticket = null;
    renderCurrent();
    renderWaiting();
    renderButtons();
    refreshTicket();
    loadDetailsSoon();
  }

  /* What each action can apply to now; a button that cannot apply is disabled, and its
     shortcut says why instead of asking the server. */
  function why(action) {
    const w = state.win || {};
    const t = state.ticket;
    const number = t ? t.number : w.current;
    const status = t ? t.status : w.current_status;
    const paused = w.status === "paused" || w.status === "closed";
    switch (action) {
      case "call":
        if (paused) return T["staff.why.paused"];
        return waitingHere() ? "" : T["staff.nobody"];
      case "call-number":
        return paused ? T["staff.why.paused"] : "";
      case "recall": case "start": case "no-show":
        if (!number) return T["staff.why.no_ticket"];
        return status === "called" ? "" : fmt(T["staff.why.serving"], { number });
      case "finish": case "transfer":
        return number ? "" : T["staff.why.no_ticket"];
      case "undo-no-show":
        return state.undo && Date.now() < state.undo.until ? "" : T["staff.why.no_undo"];
      default:
        return "";
    }
  }
  function waitingHere() {
    return setup.window_services.some((code) => (state.counts[code] ?? (state.waiting[code] || []).length) > 0);
  }
  function renderButtons() {
    for (const b of document.querySelectorAll(".actions [data-action]")) {
      const reason = why(b.dataset.action);
      b.disabled = !!reason;
      b.title = reason;
    }
  }

  /* The confirmation names what happened, in the words of the status tag beside it. */
  function confirmation(action, t, body) {
    const number = t ? t.number : "";
    switch (action) {
      case "call": return [fmt(T["staff.msg.call"], { number }), "ok"];
      case "recall":
        if (t.status === "no_show") return [fmt(T["staff.msg.recall_no_show"], { number, n: t.recalls }), "warn"];
        return [fmt(T[t.recalls >= setup.max_recalls ? "staff.msg.recall_last" : "staff.msg.recall"], { number, n: t.recalls }), "ok"];
      case "start": return [fmt(T["staff.msg.start"], { number }), "ok"];
      case "finish": return [fmt(T["staff.msg.finish"], { number }), "ok"];
      case "no-show": return [fmt(T["staff.msg.no_show"], { number }), "warn"];
      case "undo-no-show": return [fmt(T["staff.msg.undo_no_show"], { number }), "ok"];
      case "transfer": return [fmt(T["staff.msg.transfer"], { number, service: svcName(body.service) }), "ok"];
      case "pause": return [body.reason ? fmt(T["staff.msg.pause_reason"], { reason: T["common.pause." + body.reason] }) : T["staff.msg.pause"], "warn"];
      case "resume": return [T["staff.msg.resume"], "ok"];
      default: return [T["staff.done"], "ok"];
    }
  }

  async function act(action, body) {
    if (state.busy) return;   // a double press must not call two visitors
    state.busy = true;
    document.body.dataset.busy = "1";
    try {
      const res = await hallq.api("POST", `/api/v1/windows/${encodeURIComponent(W)}/${action}`, body);
      if (res.status === 204) { message(T["staff.nobody"], "ok"); return; }
      if (!res.ok) { message(res.error.message || T["common.error"], "error"); return; }
      const t = res.data.ticket;
      if (res.data.window) state.win = res.data.window;
      if (action === "call" && t) {   // do not wait for the next state message to drop it
        for (const code in state.waiting) state.waiting[code] = state.waiting[code].filter((n) => n !== t.number);
        renderWaiting();
      }
      state.ticket = t && res.data.window && res.data.window.current === t.number ? t : null;
      renderCurrent();
      const [text, kind] = confirmation(action, t, body || {});
      message(text, kind);
      if (t && t.status === "no_show") offerUndo(t.number);
      else if (action !== "pause" && action !== "resume") offerUndo(null);
      document.body.dataset.lastAction = action;
    } finally {
      state.busy = false;
      delete document.body.dataset.busy;
      renderButtons();
    }
  }

  /* Every service but the one the ticket is already in. */
  function transferTargets() {
    const own = state.ticket ? state.ticket.service : (state.win || {}).current_service;
    return setup.services.filter((s) => s.code !== own);
  }

  function openTransfer() {
    const box = $("transfer-options");
    box.replaceChildren();
    transferTargets().forEach((s, i) => {
      const b = document.createElement("button");
      b.className = "btn";
      b.dataset.service = s.code;
      b.textContent = (i < 9 ? i + 1 + ". " : "") + svcName(s.code);
      b.addEventListener("click", () => { $("transfer-dialog").close(); act("transfer", { service: s.code }); });
      box.append(b);
    });
    $("transfer-dialog").showModal();
  }

  function openNumber() {
    $("number-input").value = "";
    $("number-dialog").showModal();
    $("number-input").focus();
  }

  $("number-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const number = $("number-input").value.trim().toUpperCase();
    $("number-dialog").close();
    if (number) act("call", { number });
  });
  for (const b of document.querySelectorAll("dialog [data-close]")) {
    b.addEventListener("click", () => b.closest("dialog").close());
  }
  $("transfer-dialog").addEventListener("keydown", (ev) => {
    const i = Number(ev.key);
    const targets = transferTargets();
    if (i >= 1 && i <= 9 && targets[i - 1]) {
      ev.preventDefault();
      $("transfer-dialog").close();
      act("transfer", { service: targets[i - 1].code });
    }
  });

  // -- print jobs: tickets a kiosk did not print, reprinted at that kiosk ------------------------

  const jobs = { failed: [], rows: new Map() }; // rows: what the open dialog shows, by job id
  const reasonText = (r) => T["common.print." + r] || T["common.print.error"];
  const kioskName = (k) => setup.kiosks[k] || k;
  const hhmm = (iso) => new Date(iso).toLocaleTimeString(lang === "en" ? "en-GB" : "zh-CN", { hour: "2-digit", minute: "2-digit" });

  async function loadJobs() {
    const res = await hallq.api("GET", "/api/v1/print-jobs?state=failed");
    if (!res.ok) return;
    jobs.failed = res.data;
    const n = jobs.failed.length;
    $("print-jobs").dataset.count = n;
    $("jobs-summary").textContent = n ? fmt(T["staff.jobs_n"], { n }) : T["staff.jobs_none"];
    if (!$("jobs-dialog").open) return;
    for (const job of jobs.failed) {
      const row = jobs.rows.get(job.id);
      if (!row) jobs.rows.set(job.id, { job, note: "", busy: false });
      else if (!row.busy) row.job = job;
    }
    renderJobs();
  }

  /* Rows are updated in place, so the focus stays on the button a clerk just pressed. */
  function renderJobs() {
    const body = $("jobs");
    for (const [id, row] of jobs.rows) {
      let tr = body.querySelector(`tr[data-job="${id}"]`);
      if (!tr) {
        tr = document.createElement("tr");
        tr.dataset.job = id;
        const th = document.createElement("th");
        th.scope = "row";
        tr.append(th);
        for (const cls of ["kiosk", "reason", "time", "num", "act"]) {
          const td = document.createElement("td");
          td.className = cls;
          tr.append(td);
        }
        const b = document.createElement("button");
        b.type = "button";
        b.className = "btn btn-primary reprint";
        b.addEventListener("click", () => reprintJob(id));
        const note = document.createElement("span");
        note.className = "note";
        note.setAttribute("aria-live", "polite");
        tr.lastChild.append(b, note);
        body.append(tr);
      }
      const j = row.job;
      tr.dataset.state = row.busy ? "printing" : j.state;
      const [th, kiosk, reason, time, attempts, actCell] = tr.children;
      th.textContent = j.number;
      kiosk.textContent = kioskName(j.kiosk);
      reason.textContent = j.state === "failed" ? reasonText(j.reason) : "—";
      time.textContent = hhmm(j.updated_at);
      attempts.textContent = j.attempt;
      const b = actCell.querySelector("button");
      b.textContent = T["staff.jobs_reprint"] + " " + j.number;
      b.setAttribute("aria-disabled", String(row.busy));
      actCell.querySelector(".note").textContent = row.note;
    }
    $("jobs-empty").hidden = jobs.rows.size > 0;
    $("jobs-table").hidden = jobs.rows.size === 0;
  }

  async function openJobs() {
    jobs.rows.clear();
    $("jobs").replaceChildren();
    $("jobs-dialog").showModal();
    await loadJobs();
    const first = $("jobs").querySelector("button");
    if (first) first.focus();
  }

  /* A reprint's outcome comes from the kiosk as a print message (possibly before the reply). */
  async function reprintJob(id) {
    const row = jobs.rows.get(id);
    if (!row || row.busy) return;
    row.busy = true;
    row.note = T["staff.jobs_printing"];
    renderJobs();
    const res = await hallq.api("POST", `/api/v1/print-jobs/${encodeURIComponent(id)}/reprint`);
    if (res.ok || !row.busy) return;
    row.busy = false;
    row.note = res.error.code === "kiosk_offline" ? fmt(T["staff.jobs_failed"], { reason: reasonText("offline") }) : res.error.message;
    renderJobs();
  }

  function printed(msg) {
    loadJobsSoon();
    const row = jobs.rows.get(msg.job);
    if (!row || !row.busy) return;
    row.busy = false;
    row.job = { ...row.job, state: msg.state, reason: msg.reason, attempt: row.job.attempt + 1, updated_at: new Date().toISOString() };
    const done = msg.state === "done";
    row.note = done ? fmt(T["staff.jobs_done"], { kiosk: kioskName(msg.kiosk) }) : fmt(T["staff.jobs_failed"], { reason: reasonText(msg.reason) });
    renderJobs();
    message(msg.number + " · " + row.note, done ? "ok" : "error");
  }

  let jobsTimer = null;
  function loadJobsSoon() {
    if (!jobsTimer) jobsTimer = setTimeout(() => { jobsTimer = null; loadJobs(); }, 300);
  }
  $("jobs-btn").addEventListener("click", openJobs);

  /* A pause says why (午休, 会议, 业务咨询…): the window screen shows it and reports can tell. */
  const pauseReasons = [...document.querySelectorAll("#pause-options [data-reason]")];
  for (const b of pauseReasons) {
    b.addEventListener("click", () => { $("pause-dialog").close(); act("pause", { reason: b.dataset.reason }); });
  }
  $("pause-dialog").addEventListener("keydown", (ev) => {
    const b = pauseReasons[Number(ev.key) - 1];
    if (b) { ev.preventDefault(); b.click(); }
  });

  /* A no-show can be taken back for a minute (the visitor was there after all): a button
     beside the message, and U. The server checks the minute; this only hides the offer. */
  const UNDO_MS = 60000;
  let undoTimer = null;
  function offerUndo(number) {
    clearTimeout(undoTimer);
    const b = $("undo-btn");
    b.hidden = !number;
    state.undo = number ? { number, until: Date.now() + UNDO_MS } : null;
    if (number) {
      $("undo-hint").textContent = fmt(T["staff.undo_hint"], { seconds: UNDO_MS / 1000 });
      undoTimer = setTimeout(() => offerUndo(null), UNDO_MS);
    }
    $("undo-hint").hidden = !number;
  }
  $("undo-btn").addEventListener("click", () => run("undo-no-show"));

  function run(action) {
    const reason = why(action);
    if (reason) { message(reason, "error"); return; }
    if (action === "pause") { $("pause-dialog").showModal(); pauseReasons[0].focus(); return; }
    if (action === "transfer") openTransfer();
    else if (action === "call-number") openNumber();
    else if (action === "print-jobs") openJobs();
    else act(action);
  }
  for (const b of document.querySelectorAll(".actions [data-action]")) {
    b.addEventListener("click", () => { b.blur(); run(b.dataset.action); });
  }

  const KEYS = { " ": "call", n: "call", r: "recall", s: "start", f: "finish", x: "no-show", u: "undo-no-show", t: "transfer", c: "call-number", j: "print-jobs" };
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.altKey || ev.metaKey || ev.repeat) return;
    if (document.querySelector("dialog[open]")) return;
    const tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea") return;
    const key = ev.key.toLowerCase();
    const action = key === "p" ? $("pause-btn").dataset.action : KEYS[key];
    if (!action) return;
    ev.preventDefault();
    run(action);
  });

  hallq.liveSocket("/ws/board?window=" + encodeURIComponent(W), { onMessage: apply });
})();
