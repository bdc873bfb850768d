/* Window console: buttons and keyboard shortcuts drive /api/v1/windows/{w}/{action}; the current
   ticket and the waiting list follow the hall live over /ws/board?window=W (snapshot, then
   throttled state messages), so two windows working at once see the same hall. Tickets a kiosk
   failed to print are listed (/api/v1/print-jobs?state=failed, again whenever the socket says a
   print job failed or came out) and can be reprinted from here. A transfer (T) goes to another
   service, a window or a colleague, with a staff-only note; tickets sent to this window or to
   this clerk are listed first, with who sent them and the note, and are called here first. */
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

  const state = { win: null, windows: [], waiting: {}, counts: {}, ticket: null, busy: false, details: new Map(), colleagues: [] };
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

  /* Who sent a transferred ticket, from where, and their note (staff only; text, never HTML). */
  const windowLabel = (id) => {
    const w = state.windows.find((x) => x.id === id);
    return w ? (lang === "en" ? w.name_en || w.name : w.name) : id;
  };
  const colleague = (login) => state.colleagues.find((c) => c.username === login);
  function sentFrom(t) {
    const c = colleague(t.sent_by);
    return fmt(T["staff.sent_from"], { name: c ? c.name : t.sent_by, no: t.sent_by, window: windowLabel(t.sent_from) });
  }
  function renderSent(t) {
    const show = !!(t && t.sent_by);
    $("cur-sent").hidden = !show;
    $("cur-sent-from").textContent = show ? sentFrom(t) : "";
    $("cur-sent-note").textContent = show ? t.note || "—" : "";
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
    renderSent(t);
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

  /* Tickets sent to this window or to this clerk: called here first, in the order sent. */
  const sentHere = () => [...state.details.values()]
    .filter((d) => d.to_window === W || d.to_staff === setup.user)
    .sort((a, b) => (a.to_staff ? 0 : 1) - (b.to_staff ? 0 : 1) || (a.position ?? 0) - (b.position ?? 0));
  function waitButton(number, d) {
    const b = document.createElement("button");
    b.className = "btn";
    const num = document.createElement("span");
    num.className = "w-number";
    num.textContent = number;
    b.append(num);
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
    return b;
  }
  function renderSentHere(box) {
    const mine = sentHere();
    if (!mine.length) return;
    const sec = document.createElement("div");
    sec.className = "wait-service sent-here";
    sec.dataset.sent = "";
    const h = document.createElement("h3");
    h.textContent = T["staff.sent_here"] + " · " + fmt(T["staff.waiting_n"], { n: mine.length });
    sec.append(h);
    const list = document.createElement("div");
    list.className = "wait-numbers";
    for (const d of mine) {
      const b = waitButton(d.number, d);
      const from = document.createElement("span");
      from.className = "w-meta w-from";
      from.textContent = (d.to_staff ? T["staff.sent_to_me"] : T["staff.sent_to_window"]) + " · " + sentFrom(d);
      b.append(from);
      if (d.note) {
        const note = document.createElement("span");
        note.className = "w-note";
        note.textContent = d.note;
        b.append(note);
        b.title += "\n" + T["staff.sent_note"] + "：" + d.note;
      }
      list.append(b);
    }
    sec.append(list);
    box.append(sec);
  }

  function renderWaiting() {
    const box = $("waiting");
    box.replaceChildren();
    renderSentHere(box);
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
      for (const number of (state.waiting[code] || []).slice(0, 30)) list.append(waitButton(number, state.details.get(number)));
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
    const sent = res.data.filter((t) => t.to_window === W || t.to_staff === setup.user);
    if (sent.some((t) => t.sent_by && !colleague(t.sent_by))) await loadColleagues();
    state.details = new Map(res.data.filter((t) => mine.has(t.service) || sent.includes(t)).map((t) => [t.number, t]));
    renderWaiting();
    renderButtons();
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
    state.windows = msg.windows || [];
    state.win = state.windows.find((w) => w.id === W) || null;
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
    if ((state.win && state.win.sent_waiting) || sentHere().length) return true;
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
      case "transfer":
        if (body.to_window) return [fmt(T["staff.msg.transfer_window"], { number, window: windowLabel(body.to_window) }), "ok"];
        if (body.to_staff) return [fmt(T["staff.msg.transfer_staff"], { number, name: (colleague(body.to_staff) || {}).name || body.to_staff }), "ok"];
        return [fmt(T["staff.msg.transfer"], { number, service: svcName(body.service) }), "ok"];
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
        state.details.delete(t.number);
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

  /* The transfer dialog: a target of one kind (another service, a window, a colleague) and an
     optional note. ←/→ switch kind, 1-9 choose, Enter confirms (Ctrl+Enter in the note). */
  const KINDS = ["service", "window", "staff"];
  const tr = { kind: "service", target: null };
  async function loadColleagues() {
    const res = await hallq.api("GET", "/api/v1/staff");
    if (res.ok) state.colleagues = res.data;
  }
  function transferTargets(kind) {
    if (kind === "service") {
      const own = state.ticket ? state.ticket.service : (state.win || {}).current_service;
      return setup.services.filter((s) => s.code !== own).map((s) => ({ id: s.code, label: svcName(s.code), meta: "" }));
    }
    if (kind === "window") {
      return state.windows.filter((w) => w.id !== W).map((w) => {
        const st = w.status === "open" ? (w.staffed ? "open" : "unstaffed") : w.status;
        const why = w.status === "paused" && w.pause_reason ? "（" + T["common.pause." + w.pause_reason] + "）" : "";
        return { id: w.id, label: windowLabel(w.id), meta: T["staff.win_state." + st] + why, state: st, disabled: w.status === "closed" };
      });
    }
    const byWork = (x, y) => (x.window ? 0 : 1) - (y.window ? 0 : 1) || x.staff_no.localeCompare(y.staff_no, undefined, { numeric: true });
    return state.colleagues.filter((c) => c.username !== setup.user).sort(byWork).map((c) => ({  // at work first
      id: c.username,
      label: c.name + " · " + fmt(T["staff.staff_no"], { no: c.staff_no }),
      meta: c.window ? fmt(T["staff.staff_at"], { window: windowLabel(c.window) }) : T["staff.staff_away"],
    }));
  }
  function showKind(kind, focus) {
    tr.kind = kind;
    tr.target = null;
    for (const tab of document.querySelectorAll("#transfer-kinds [role=tab]")) {
      const on = tab.dataset.kind === kind;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      if (on && focus) tab.focus();
    }
    const box = $("transfer-options");
    box.setAttribute("aria-labelledby", "transfer-tab-" + kind);
    box.replaceChildren();
    const targets = transferTargets(kind);
    if (!targets.length) {
      const p = document.createElement("p");
      p.textContent = kind === "staff" && !state.colleagues.length ? T["staff.transfer_loading"] : T["staff.transfer_none." + kind];
      box.append(p);
    }
    targets.forEach((x, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "btn";
      b.dataset[kind] = x.id;
      b.setAttribute("aria-pressed", "false");
      if (x.state) b.dataset.state = x.state;
      b.disabled = !!x.disabled;
      const name = document.createElement("span");
      name.textContent = (i < 9 ? i + 1 + ". " : "") + x.label;
      b.append(name);
      if (x.meta) { const m = document.createElement("span"); m.className = "opt-meta"; m.textContent = x.meta; b.append(m); }
      b.addEventListener("click", () => pick(x.id));
      box.append(b);
    });
  }
  function pick(id) {
    tr.target = id;
    $("transfer-error").hidden = true;
    for (const b of $("transfer-options").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset[tr.kind] === id));
  }
  function noteLeft() {
    const n = $("transfer-note").maxLength - $("transfer-note").value.length;
    $("transfer-note-left").textContent = fmt(T["staff.transfer_note_left"], { n });
  }
  async function openTransfer() {
    const number = state.ticket ? state.ticket.number : (state.win || {}).current;
    $("transfer-h").textContent = fmt(T["staff.transfer_title"], { number });
    $("transfer-note").value = "";
    $("transfer-error").hidden = true;
    noteLeft();
    showKind("service", false);
    $("transfer-dialog").showModal();
    $("transfer-tab-service").focus();
    await loadColleagues();
    if (tr.kind === "staff" && $("transfer-dialog").open) showKind("staff", false);
  }
  function confirmTransfer() {
    if (!tr.target) {
      $("transfer-error").textContent = T["staff.transfer_pick"];
      $("transfer-error").hidden = false;
      return;
    }
    const key = { service: "service", window: "to_window", staff: "to_staff" }[tr.kind];
    const body = { [key]: tr.target };
    const note = $("transfer-note").value.trim();
    if (note) body.note = note;
    $("transfer-dialog").close();
    act("transfer", body);
  }
  $("transfer-note").addEventListener("input", noteLeft);
  $("transfer-form").addEventListener("submit", (ev) => { ev.preventDefault(); confirmTransfer(); });
  for (const tab of document.querySelectorAll("#transfer-kinds [role=tab]")) {
    tab.addEventListener("click", () => showKind(tab.dataset.kind, true));
  }
  $("transfer-dialog").addEventListener("keydown", (ev) => {
    const inNote = ev.target === $("transfer-note");
    if (ev.key === "Enter" && !ev.target.matches("[data-close]") && (!inNote || ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      confirmTransfer();
      return;
    }
    if (inNote || ev.ctrlKey || ev.altKey || ev.metaKey) return;
    if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
      ev.preventDefault();
      const step = ev.key === "ArrowRight" ? 1 : KINDS.length - 1;
      showKind(KINDS[(KINDS.indexOf(tr.kind) + step) % KINDS.length], true);
      return;
    }
    const i = Number(ev.key);
    const b = i >= 1 && i <= 9 ? $("transfer-options").querySelectorAll("button")[i - 1] : null;
    if (b && !b.disabled) {
      ev.preventDefault();
      pick(b.dataset[tr.kind]);
      b.focus();
    }
  });

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

  loadColleagues();
  hallq.liveSocket("/ws/board?window=" + encodeURIComponent(W), { onMessage: apply });
})();
