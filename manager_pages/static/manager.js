/* Manager dashboard: queues, windows, devices and alarms, live over /ws/manager. The socket
   pushes alarms as they happen and tells us when queues move; the numbers themselves come from
   /api/v1/metrics/live (refreshed on those nudges and every few seconds). */
"use strict";
(function () {
  const T = JSON.parse(document.getElementById("mgr-texts").textContent);
  const en = T.lang === "en";
  const alarms = new Map();
  let windows = [];
  const $ = (id) => document.getElementById(id);
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : ""));
  const cell = (tag, text, cls) => {
    const el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  };
  /* Whole minutes, as people read a wait (0.4′ reads as nothing); under a minute is "<1". */
  const mins = (s) => (s == null ? "—" : (s > 0 && s < 60 ? "<1" : String(Math.round(s / 60))) + " " + T.minutes);
  const clock = (s) => {
    s = Math.max(0, Math.floor(s));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  };

  function renderAlarms() {
    const list = $("alarms");
    list.replaceChildren();
    const open = [...alarms.values()].filter((a) => !a.cleared_at);
    open.sort((a, b) => (a.raised_at < b.raised_at ? 1 : -1));
    for (const a of open) {
      const li = document.createElement("li");
      li.dataset.id = a.id;
      li.className = a.acked_by ? "acked" : "";
      const name = en ? a.service_name_en || a.service_name : a.service_name;
      li.append(cell("span", fill(T[a.kind], { service: name, value: a.value, threshold: a.threshold }), "alarm-text"));
      li.append(cell("span", new Date(a.raised_at).toLocaleTimeString(), "muted"));
      if (a.acked_by) {
        li.append(cell("span", fill(T.acked_by, { who: a.acked_by }), "muted"));
      } else {
        const b = cell("button", T.ack, "btn btn-danger ack");
        b.type = "button";
        b.addEventListener("click", async () => {
          b.disabled = true;
          const r = await hallq.api("POST", `/api/v1/alarms/${a.id}/ack`);
          if (r.ok) alarms.set(a.id, r.data);
          else b.disabled = false;
          renderAlarms();
        });
        li.append(b);
      }
      list.append(li);
    }
    $("no-alarms").hidden = open.length > 0;
  }

  async function renderLog() {
    const r = await hallq.api("GET", "/api/v1/alarms");
    if (!r.ok) return;
    const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "—");
    $("alarm-log").replaceChildren(...r.data.map((a) => {
      const tr = document.createElement("tr");
      const name = en ? a.service_name_en || a.service_name : a.service_name;
      const text = fill(T[a.kind], { service: name, value: a.value, threshold: a.threshold });
      tr.append(cell("td", time(a.raised_at)), cell("td", text), cell("td", a.peak, "num"),
        cell("td", time(a.cleared_at)), cell("td", a.acked_by ? `${a.acked_by} ${time(a.acked_at)}` : "—"));
      return tr;
    }));
  }

  function renderLive(live) {
    const rows = [];
    for (const s of live.services) {
      const tr = document.createElement("tr");
      if (s.longest_wait_s > s.target_wait_s) tr.className = "over";
      tr.dataset.service = s.service;
      tr.append(cell("th", s.name), cell("td", s.waiting, "num"), cell("td", mins(s.longest_wait_s), "num"),
        cell("td", s.waiting ? hallq.fmtRange((k) => T[k], s.eta_range_s) : "—"),
        cell("td", s.open_windows, "num"), cell("td", mins(s.target_wait_s), "num"));
      tr.firstChild.scope = "row";
      rows.push(tr);
    }
    $("services").replaceChildren(...rows);
    windows = live.windows;
    renderWindows();
    $("updated").textContent = new Date(live.at).toLocaleTimeString();
  }

  function renderWindows() {
    const now = Date.now();
    const rows = windows.map((w) => {
      const tr = document.createElement("tr");
      tr.dataset.window = w.id;
      // an open window nobody is signed in at serves nobody: say so, do not count it open
      const shown = w.status === "open" && w.staffed === false ? "unstaffed" : w.status;
      const status = cell("span", T[shown] || shown, "pill");
      status.dataset.status = shown;
      const st = document.createElement("td");
      st.append(status);
      const timer = w.called_at ? clock((now - Date.parse(w.called_at)) / 1000) : "—";
      const name = en ? w.name_en || w.name : w.name;
      const current = cell("td", w.current || "—");
      // visitors transferred to this window (or its clerk) wait in no service's queue: say so
      if (w.sent_waiting) current.append(cell("span", " · " + fill(T.sent_waiting, { n: w.sent_waiting }), "sent-waiting"));
      tr.append(cell("th", name), st, current, cell("td", timer, "num"));
      tr.firstChild.scope = "row";
      return tr;
    });
    $("windows").replaceChildren(...rows);
  }

  async function refresh() {
    const r = await hallq.api("GET", "/api/v1/metrics/live");
    if (r.ok) renderLive(r.data);
    else if (r.status === 401 || r.status === 403) location.href = "/login?next=/manager";
  }
  let pending = null;
  const nudge = () => { if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 500); };

  async function devices() {
    const r = await hallq.api("GET", "/api/v1/devices");
    if (!r.ok || !Array.isArray(r.data)) return;
    $("devices-card").hidden = false;
    $("devices").replaceChildren(...r.data.map((d) => {
      const tr = document.createElement("tr");
      const seen = d.last_seen ? new Date(d.last_seen).toLocaleTimeString(T.lang === "en" ? "en-GB" : "zh-CN", { timeZone: T.tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }) : "—";
      /* states in words (缺纸, 离线), never the raw codes */
      const state = (kind, s) => {
        const pill = cell("span", T.device[`device.${kind}.${s || "none"}`] || T.device[`device.${kind}.error`], "pill");
        pill.dataset.status = s === "ok" ? "open" : s ? "paused" : "";
        pill.dataset.state = s || "none";
        return pill;
      };
      const printer = state("printer", d.printer), reader = state("reader", d.reader);
      const td = document.createElement("td");
      td.append(`${T.printer} `, printer, ` ${T.reader} `, reader, ` ${T.last_seen} ${seen}`);
      if (d.connected === false) td.append(" ", cell("span", T.device["device.disconnected"], "pill"));
      if (d.jobs_failed) td.append(" ", cell("span", T.device["device.jobs_failed"].replace("{n}", d.jobs_failed), "pill"));
      tr.dataset.kiosk = d.kiosk || d.id;
      tr.append(cell("th", [d.kiosk || d.id, d.name].filter(Boolean).join(" ")), td);
      return tr;
    }));
  }

  hallq.liveSocket("/ws/manager", {
    onMessage(m) {
      if (m.type === "snapshot") {
        alarms.clear();
        for (const a of m.alarms) alarms.set(a.id, a);
        renderAlarms();
        renderLog();
        renderLive(m.live);
      } else if (m.type === "alarm") {
        alarms.set(m.alarm.id, m.alarm);
        renderAlarms();
        renderLog();
      } else if (m.type === "state" || m.type === "call") {
        nudge();
      }
    },
  });
  setInterval(renderWindows, 1000);
  setInterval(refresh, 5000);
  devices();
  setInterval(devices, 30000);
})();
