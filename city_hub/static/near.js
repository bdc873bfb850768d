/* 就近办: find an item (the kiosk's search: name, short name, pinyin initials), then the halls
   that handle it from /api/v1/near, nearest first when the phone's location (or a chosen town)
   is known, else shortest wait first. Refreshed every 30 s while shown. */
"use strict";
(function () {
  const PAGE = 6;
  const setup = JSON.parse(document.getElementById("near-setup").textContent);
  const T = setup.texts;
  const en = setup.lang === "en";
  const $ = (id) => document.getElementById(id);
  const fill = (key, values) => (T[key] || key).replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : ""));
  let items = [], towns = [], where = null, current = null, timer = null, shown = PAGE;

  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text != null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  };
  function showError(res) {
    const e = $("error");
    if (!res) { e.hidden = true; return; }
    e.textContent = res.status === 0 ? T["near.err.network"] : T["near.err." + (res.error && res.error.code)] || T["near.err.generic"];
    e.hidden = false;
  }
  const nameOf = (x) => (en && x.name_en ? x.name_en : x.name);

  async function load() {
    const r = await hallq.api("GET", "/api/v1/near/items");
    if (!r.ok) return showError(r);
    items = hallqSearch.prepare(r.data.items);
    towns = r.data.towns;
    const sel = $("town");
    for (const t of towns) {
      const o = el("option", nameOf(t));
      o.value = t.id;
      sel.append(o);
    }
    const code = new URLSearchParams(location.search).get("item");
    if (code) choose(code, false);
    else if ($("q").value) renderItems();
  }

  function renderItems() {
    const q = $("q").value;
    const hits = hallqSearch.search(items, q, 12);
    $("items").replaceChildren(...hits.map((it) => {
      const li = el("li");
      const b = el("button", null, "btn item");
      b.type = "button";
      b.dataset.item = it.code;
      b.append(el("span", nameOf(it), "item-name"));
      if (it.online) b.append(el("span", T["near.online"], "tag"));
      b.addEventListener("click", () => choose(it.code, true));
      li.append(b);
      return li;
    }));
    $("no-match").hidden = !q.trim() || hits.length > 0;
  }
  $("q").addEventListener("input", renderItems);

  function choose(code, push) {
    current = code;
    shown = PAGE;
    if (push) {
      const url = new URL(location.href);
      url.searchParams.set("item", code);
      history.pushState({ item: code }, "", url);
    }
    $("find").hidden = true;
    $("answer").hidden = false;
    document.body.classList.add("answering");
    ask();
  }
  window.addEventListener("popstate", () => {
    const code = new URLSearchParams(location.search).get("item");
    if (code) choose(code, false); else back();
  });
  function back() {
    current = null;
    clearTimeout(timer);
    $("answer").hidden = true;
    $("find").hidden = false;
    document.body.classList.remove("answering");
    $("q").focus();
  }
  $("again").addEventListener("click", () => {
    const url = new URL(location.href);
    url.searchParams.delete("item");
    history.pushState({}, "", url);
    back();
  });

  function distance(m) {
    if (m == null) return null;
    return m < 1000 ? fill("near.distance_m", { n: Math.round(m / 10) * 10 }) : fill("near.distance_km", { n: (m / 1000).toFixed(1) });
  }

  async function ask() {
    clearTimeout(timer);
    if (!current) return;
    const q = new URLSearchParams({ item: current });
    if (where) { q.set("lat", where.lat); q.set("lon", where.lon); }
    $("answer-state").textContent = T["near.loading"];
    const r = await hallq.api("GET", "/api/v1/near?" + q);
    timer = setTimeout(ask, 30000);
    if (!r.ok) {
      $("answer-state").textContent = "";
      $("halls").replaceChildren();
      return showError(r);
    }
    showError(null);
    const item = r.data.item;
    $("answer-h").textContent = fill("near.halls_for", { item: nameOf(item) });
    document.title = nameOf(item) + " · " + T["near.title"];
    $("online").hidden = !item.online;
    $("online-link").href = setup.online_url;
    $("answer-state").textContent = fill("near.updated", { time: new Date().toLocaleTimeString(en ? "en-GB" : "zh-CN", { hour: "2-digit", minute: "2-digit" }) });
    $("no-halls").hidden = r.data.halls.length > 0;
    $("more").hidden = r.data.halls.length <= shown;
    $("halls").replaceChildren(...r.data.halls.slice(0, shown).map((h) => {
      const li = el("li", null, "hall");
      li.dataset.hall = h.id;
      li.dataset.status = h.status;
      li.dataset.open = String(h.open_now);
      const head = el("div", null, "hall-head");
      head.append(el("h3", nameOf(h)), el("span", T["near.level." + h.level], "tag"));
      const facts = el("p", null, "facts");
      facts.append(el("span", h.open_now ? T["near.open"] : T["near.closed"], h.open_now ? "open" : "closed"));
      const d = distance(h.distance_m);
      if (d) facts.append(el("span", d, "dist"));
      const live = el("p", null, "live");
      live.append(el("strong", fill("near.waiting", { n: h.waiting })));
      if (h.open_now) {
        live.append(el("span", h.waiting && h.estimated_wait_s ? fill("near.eta", { n: Math.max(1, Math.round(h.estimated_wait_s / 60)) }) : T["near.eta_none"]));
      }
      li.append(head, facts, live);
      if (h.status !== "online") li.append(el("p", h.status === "stale" ? T["near.stale"] : T["near.offline"], "flag"));
      if (h.public_url) {
        const a = el("a", T["near.book"], "btn book");
        a.href = h.public_url.replace(/\/$/, "") + "/book" + (en ? "?lang=en" : "");
        a.setAttribute("aria-label", T["near.book"] + " · " + nameOf(h));
        li.append(a);
      }
      return li;
    }));
  }

  $("more").addEventListener("click", () => { shown += PAGE; ask(); });
  $("locate").addEventListener("click", () => {
    const state = $("where-state");
    if (!navigator.geolocation) { state.textContent = T["near.location_denied"]; return; }
    state.textContent = T["near.locating"];
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        where = { lat: pos.coords.latitude.toFixed(5), lon: pos.coords.longitude.toFixed(5) };
        $("town").value = "";
        state.textContent = T["near.located"];
        ask();
      },
      () => { state.textContent = T["near.location_denied"]; $("town").focus(); },
      { timeout: 10000, maximumAge: 300000 },
    );
  });
  $("town").addEventListener("change", (ev) => {
    const t = towns.find((x) => x.id === ev.target.value);
    where = t ? { lat: t.lat, lon: t.lon } : null;
    $("where-state").textContent = "";
    ask();
  });

  load();
})();
