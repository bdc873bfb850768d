/* City dashboard: every hall of the reader's scope live over /ws/city (a snapshot, then one
   message per hall that changed), drawn as tiles, a schematic map from the halls' coordinates
   and a table grouped city → town → village. Today's service level and satisfaction come from
   the report API (every minute); the ranking and the pilot targets from their own APIs. */
"use strict";
(function () {
  const setup = JSON.parse(document.getElementById("city-setup").textContent);
  const T = setup.texts;
  const en = setup.lang === "en";
  const locale = en ? "en-GB" : "zh-CN";
  const $ = (id) => document.getElementById(id);
  const fill = (key, values) => (T[key] || key).replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : ""));
  const halls = new Map();
  const today = new Map();
  const expanded = new Set(setup.scope ? [setup.scope] : []);
  let published = null;
  const SVG = "http://www.w3.org/2000/svg";

  const cell = (tag, text, cls) => {
    const el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  };
  const nameOf = (h) => (en && h.name_en ? h.name_en : h.name);
  /* The map's label: the place, without "public service center" and the like. */
  const shortName = (h) => nameOf(h)
    .replace(/(公共|政务|行政|党群)服务中心$/, "")
    .replace(/ (Town |Village )?(Public |Administrative )?Service Center$/, "");
  const pct = (v) => (v == null ? "—" : (v * 100).toFixed(1) + "%");
  const mins = (s) => (s ? fill("city.minutes", { n: (s / 60).toFixed(s < 600 ? 1 : 0) }) : "—");
  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const sameDay = d.toDateString() === new Date().toDateString();
    const time = d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
    return sameDay ? time : d.toLocaleDateString(locale, { month: "2-digit", day: "2-digit" }) + " " + time;
  }
  function errorText(res) {
    if (res.status === 0) return T["city.err.network"];
    return T["city.err." + (res.error && res.error.code)] || T["city.err.generic"];
  }
  function loginAgain() { location.href = "/login?next=" + encodeURIComponent(location.pathname); }
  const overdue = (h) => (h.followups && h.followups.overdue) || 0;
  const problem = (h) => h.status !== "online" || h.alarms_open > 0 || overdue(h) > 0;

  // -- the tree: roots are halls whose parent the reader does not see ---------------------------
  const order = { city: 0, town: 1, village: 2 };
  function tree() {
    const kids = new Map();
    const roots = [];
    for (const h of halls.values()) {
      if (h.parent && halls.has(h.parent)) {
        if (!kids.has(h.parent)) kids.set(h.parent, []);
        kids.get(h.parent).push(h);
      } else roots.push(h);
    }
    const sort = (a, b) => order[a.level] - order[b.level] || (a.id < b.id ? -1 : 1);
    roots.sort(sort);
    for (const list of kids.values()) list.sort(sort);
    return { roots, kids };
  }

  // -- tiles --------------------------------------------------------------------------------------
  function renderTiles() {
    const n = { online: 0, stale: 0, offline: 0, waiting: 0, windows: 0, alarms: 0, overdue: 0 };
    let behind = 0;
    for (const h of halls.values()) {
      if (h.status in n) n[h.status]++;
      n.waiting += h.waiting || 0;
      n.windows += h.open_windows || 0;
      n.alarms += h.alarms_open || 0;
      n.overdue += overdue(h);
      if (published != null && h.catalog_version !== published) behind++;
    }
    for (const k of Object.keys(n)) $("n-" + k).textContent = n[k];
    for (const k of ["stale", "offline", "alarms", "overdue"]) {
      const li = document.querySelector(`.tile[data-key="${k}"]`);
      li.classList.toggle("bad", n[k] > 0);
    }
    $("catalog-state").textContent = published == null ? T["city.catalog_none"]
      : behind ? fill("city.catalog_behind", { n: behind, v: published }) : fill("city.catalog_ok", { v: published });
  }

  // -- the map: an equirectangular sketch of the halls' coordinates ---------------------------
  function renderMap() {
    const placed = [...halls.values()].filter((h) => h.lat != null && h.lon != null);
    const box = $("map");
    if (!placed.length) { box.replaceChildren(); return; }
    const lats = placed.map((h) => h.lat), lons = placed.map((h) => h.lon);
    const mid = (Math.min(...lats) + Math.max(...lats)) / 2;
    const k = Math.cos((mid * Math.PI) / 180);
    const x0 = Math.min(...lons), x1 = Math.max(...lons), y0 = Math.min(...lats), y1 = Math.max(...lats);
    const W = 640, pad = 28;
    const spanX = Math.max((x1 - x0) * k, 1e-3), spanY = Math.max(y1 - y0, 1e-3);
    const scale = (W - 2 * pad) / Math.max(spanX, spanY * 0.8);
    const H = Math.round(spanY * scale + 2 * pad);
    const X = (h) => pad + (h.lon - x0) * k * scale;
    const Y = (h) => H - pad - (h.lat - y0) * scale;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("aria-describedby", "map-desc");
    svg.setAttribute("role", "group");
    svg.setAttribute("aria-labelledby", "map-h");
    const links = document.createElementNS(SVG, "g");
    links.setAttribute("class", "links");
    const dots = document.createElementNS(SVG, "g");
    const labels = document.createElementNS(SVG, "g");
    const byLevel = [...placed].sort((a, b) => order[b.level] - order[a.level]);
    for (const h of byLevel) {
      const p = h.parent && halls.get(h.parent);
      if (p && p.lat != null) {
        const l = document.createElementNS(SVG, "line");
        l.setAttribute("x1", X(h).toFixed(1)); l.setAttribute("y1", Y(h).toFixed(1));
        l.setAttribute("x2", X(p).toFixed(1)); l.setAttribute("y2", Y(p).toFixed(1));
        l.setAttribute("class", "link-" + h.level);
        links.append(l);
      }
      const r = h.level === "city" ? 16 : h.level === "town" ? 10 : 4.5;
      const c = document.createElementNS(SVG, "circle");
      c.setAttribute("cx", X(h).toFixed(1)); c.setAttribute("cy", Y(h).toFixed(1)); c.setAttribute("r", r);
      c.setAttribute("class", "hall " + h.level + (h.alarms_open ? " alarmed" : ""));
      c.dataset.status = h.status;
      const label = `${nameOf(h)}: ${T["city." + h.status]}, ${fill("city.waiting")} ${h.waiting}`;
      const title = document.createElementNS(SVG, "title");
      title.textContent = label;
      c.append(title);
      if (h.level === "village") { dots.append(c); continue; }
      const a = document.createElementNS(SVG, "a");
      a.setAttribute("href", "/city/halls/" + encodeURIComponent(h.id));
      a.setAttribute("aria-label", label);
      a.dataset.hall = h.id;
      a.append(c);
      dots.append(a);
      const t = document.createElementNS(SVG, "text");
      t.setAttribute("x", X(h).toFixed(1)); t.setAttribute("y", (Y(h) + 5).toFixed(1));
      t.setAttribute("text-anchor", "middle");
      t.setAttribute("class", "count " + h.level);
      t.setAttribute("aria-hidden", "true");
      t.textContent = h.waiting;
      const name = document.createElementNS(SVG, "text");
      name.setAttribute("x", X(h).toFixed(1)); name.setAttribute("y", (Y(h) + r + 13).toFixed(1));
      name.setAttribute("text-anchor", "middle");
      name.setAttribute("class", "place");
      name.setAttribute("aria-hidden", "true");
      name.textContent = shortName(h);
      labels.append(t, name);
    }
    svg.append(links, dots, labels);
    box.replaceChildren(svg);
  }

  // -- the table -----------------------------------------------------------------------------------
  function statusCell(h) {
    const td = document.createElement("td");
    const pill = cell("span", T["city." + h.status] || h.status, "pill");
    pill.dataset.status = h.status === "online" ? "open" : h.status === "stale" ? "paused" : "closed";
    if (h.status === "offline") pill.classList.add("down");
    td.append(pill);
    if (h.status !== "online" && h.last_seen) td.append(" ", cell("span", fill("city.since", { time: when(h.last_seen) }), "muted small"));
    else if (h.status === "online" && !h.open_now) td.append(" ", cell("span", T["city.closed"], "muted small"));
    return td;
  }
  function row(h, depth, kids) {
    const tr = document.createElement("tr");
    tr.dataset.hall = h.id;
    tr.dataset.level = h.level;
    tr.dataset.status = h.status;
    if (problem(h)) tr.classList.add("problem");
    const th = document.createElement("th");
    th.scope = "row";
    th.className = "depth-" + depth;
    const a = cell("a", nameOf(h));
    a.href = "/city/halls/" + encodeURIComponent(h.id);
    a.title = T["city.drill"];
    th.append(a);
    if (kids && kids.length) {
      const label = fill("city.villages", { n: kids.length });
      const b = cell("button", label, "btn btn-quiet toggle");
      b.type = "button";
      b.setAttribute("aria-expanded", String(expanded.has(h.id)));
      b.setAttribute("aria-label", label + " · " + nameOf(h));
      b.addEventListener("click", () => {
        if (expanded.has(h.id)) expanded.delete(h.id); else expanded.add(h.id);
        render(true);
      });
      th.append(b);
    }
    const d = today.get(h.id) || {};
    const num = (v, cls) => cell("td", v, "num" + (cls ? " " + cls : ""));
    tr.append(th, statusCell(h), num(h.waiting), num(mins(h.longest_wait_s)), num(h.open_windows),
      num(pct(d.service_level)), num(pct(d.satisfaction)),
      num(overdue(h), overdue(h) ? "bad" : ""), num(h.alarms_open || 0, h.alarms_open ? "bad" : ""));
    return tr;
  }
  function renderTable() {
    const { roots, kids } = tree();
    const only = $("problems-only").checked;
    const rows = [];
    const walk = (h, depth) => {
      const children = kids.get(h.id) || [];
      const villages = children.filter((c) => c.level === "village");
      if (!only || problem(h) || children.some(problem)) rows.push(row(h, depth, villages));
      for (const c of children) {
        if (c.level === "village" && !expanded.has(h.id) && !(only && problem(c))) continue;
        walk(c, depth + 1);
      }
    };
    for (const r of roots) walk(r, 0);
    if (!rows.length && halls.size) {
      const tr = document.createElement("tr");
      const td = cell("td", only ? T["city.no_problems"] : T["city.loading"], "muted");
      td.colSpan = 9;
      tr.append(td);
      rows.push(tr);
    }
    $("halls-body").replaceChildren(...rows);
    $("updated").textContent = new Date().toLocaleTimeString(locale);
  }

  let pending = null;
  function render(now) {
    if (now) { clearTimeout(pending); pending = null; draw(); return; }
    if (!pending) pending = setTimeout(() => { pending = null; draw(); }, 400);
  }
  function draw() { renderTiles(); renderMap(); renderTable(); }
  $("problems-only").addEventListener("change", () => render(true));

  // -- live ----------------------------------------------------------------------------------------
  hallq.liveSocket("/ws/city", {
    onMessage(m) {
      if (m.type === "snapshot") {
        halls.clear();
        for (const h of m.halls) halls.set(h.id, h);
        published = m.catalog_version;
        render(true);
      } else if (m.type === "hall") {
        halls.set(m.hall.id, m.hall);
        render();
      } else if (m.type === "catalog") {
        published = m.version;
        render();
        pilot();
      }
    },
  });

  async function fetchToday() {
    const r = await hallq.api("GET", `/api/v1/report?from=${setup.today}&to=${setup.today}&by=hall`);
    if (r.status === 401) return loginAgain();
    if (!r.ok) return;
    for (const x of r.data.rows) {
      today.set(x.hall, {
        service_level: x.service_level,
        satisfaction: x.ratings ? (x.ratings - x.bad_ratings) / x.ratings : null,
      });
    }
    render();
  }

  // -- ranking -------------------------------------------------------------------------------------
  function rankingQuery() {
    const f = $("ranking-form");
    const q = new URLSearchParams({ from: f.from.value, to: f.to.value, level: f.level.value });
    return q;
  }
  async function ranking() {
    const q = rankingQuery();
    const csv = new URLSearchParams(q);
    csv.set("lang", setup.lang);
    $("ranking-csv").href = "/api/v1/ranking.csv?" + csv;
    const r = await hallq.api("GET", "/api/v1/ranking?" + q);
    const err = $("ranking-error");
    if (r.status === 401) return loginAgain();
    if (!r.ok) {
      err.textContent = errorText(r);
      err.hidden = false;
      $("ranking-body").replaceChildren();
      return;
    }
    err.hidden = true;
    const num = (v) => cell("td", v == null ? "—" : v, "num");
    const rows = r.data.rows.map((x) => {
      const tr = document.createElement("tr");
      tr.dataset.hall = x.hall;
      const th = document.createElement("th");
      th.scope = "row";
      const a = cell("a", en && x.name_en ? x.name_en : x.name);
      a.href = "/city/halls/" + encodeURIComponent(x.hall);
      th.append(a);
      tr.append(num(x.rank), th, num(x.issued), num(x.served), num(x.wait_p90_s == null ? null : mins(x.wait_p90_s)),
        num(x.service_level == null ? null : pct(x.service_level)), num(x.no_show_rate == null ? null : pct(x.no_show_rate)),
        num(x.satisfaction == null ? null : pct(x.satisfaction)), num(x.followups_overdue), num(x.score));
      return tr;
    });
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = cell("td", T["city.no_rows"], "muted");
      td.colSpan = 10;
      tr.append(td);
      rows.push(tr);
    }
    $("ranking-body").replaceChildren(...rows);
  }
  $("ranking-form").addEventListener("submit", (ev) => { ev.preventDefault(); ranking(); });

  // -- pilot targets -----------------------------------------------------------------------------
  async function pilot() {
    const r = await hallq.api("GET", "/api/v1/pilot");
    if (!r.ok) return;
    const rows = r.data.halls.map((x) => {
      const tr = document.createElement("tr");
      tr.dataset.hall = x.hall;
      const th = cell("th", nameOf(x));
      th.scope = "row";
      const verdict = cell("span", x.known ? (x.meets ? T["city.pilot_yes"] : T["city.pilot_no"]) : T["city.pilot_unknown"], "pill");
      verdict.dataset.status = x.known ? (x.meets ? "open" : "paused") : "closed";
      const td = document.createElement("td");
      td.append(verdict);
      tr.append(th, cell("td", x.known ? x.items : "—", "num"), cell("td", x.known ? x.online : "—", "num"),
        cell("td", pct(x.online_share), "num"), td, cell("td", x.deployed == null ? "—" : "v" + x.deployed, "num"));
      return tr;
    });
    $("pilot-body").replaceChildren(...rows);
  }

  fetchToday();
  setInterval(fetchToday, 60000);
  ranking();
  pilot();
  setInterval(pilot, 60000);
})();
