/* /book: choose a service, a day and a time, say who is coming, get a code and its QR; find or
   cancel an appointment by its code. Everything goes through the public API. */
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("page-data").textContent);
  const T = D.T, en = D.lang === "en";
  const $ = (id) => document.getElementById(id);
  const fmt = (s, v) => s.replace(/\{(\w+)\}/g, (m, k) => (k in v ? v[k] : m));
  const pick = { service: null, date: null, slot: null };
  let services = [];

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function errorText(err) {
    if (!err) return "";
    const key = "err." + err.code;
    if (T[key]) return fmt(T[key], { until: (err.until || "").slice(0, 10) });
    return fmt(T["err.other"], { message: err.message });
  }
  function showError(err) {
    $("error").textContent = errorText(err);
    $("error").hidden = !err;
    if (err) $("error").scrollIntoView({ block: "center" });
  }

  /* A group of toggle buttons where one is chosen. */
  function choices(root, items, onPick) {
    root.replaceChildren();
    for (const it of items) {
      const b = el("button", "btn");
      b.type = "button";
      b.dataset.value = it.value;
      b.setAttribute("aria-pressed", "false");
      b.append(el("span", "", it.label));
      if (it.sub) b.append(el("small", "", it.sub));
      b.disabled = !!it.disabled;
      b.addEventListener("click", () => {
        for (const o of root.children) o.setAttribute("aria-pressed", String(o === b));
        onPick(it.value);
      });
      root.append(b);
    }
  }

  const svcName = (code) => {
    const s = services.find((x) => x.code === code);
    return s ? (en && s.name_en ? s.name_en : s.name) : code;
  };
  const dayLabel = (iso, weekday) => {
    const [, m, d] = iso.split("-");
    return { label: `${Number(m)}-${Number(d)}`, sub: T["weekday." + weekday] };
  };

  async function loadServices() {
    const r = await hallq.api("GET", "/api/v1/services");
    if (!r.ok) return showError(r.error);
    services = r.data;
    choices($("services"), services.map((s) => ({ value: s.code, label: svcName(s.code) })), (code) => {
      pick.service = code;
      pick.slot = null;
      $("who-step").hidden = true;
      loadDays();
    });
  }

  async function loadDays() {
    const r = await hallq.api("GET", "/api/v1/appointments/days");
    if (!r.ok) return showError(r.error);
    $("day-step").hidden = false;
    choices($("days"), r.data.map((d) => ({ value: d.date, ...dayLabel(d.date, d.weekday) })), (day) => {
      pick.date = day;
      pick.slot = null;
      $("who-step").hidden = true;
      loadSlots();
    });
    if (pick.date && r.data.some((d) => d.date === pick.date)) {
      $("days").querySelector(`[data-value="${pick.date}"]`).click();
    } else {
      $("slot-step").hidden = true;
    }
  }

  async function loadSlots() {
    const q = `service=${encodeURIComponent(pick.service)}&date=${pick.date}`;
    const r = await hallq.api("GET", "/api/v1/appointments/slots?" + q);
    if (!r.ok) return showError(r.error);
    $("slot-step").hidden = false;
    const open = r.data.slots.some((s) => s.available > 0);
    $("no-slots").hidden = open;
    choices($("slots"), r.data.slots.filter((s) => s.capacity > 0).map((s) => ({
      value: s.slot,
      label: `${s.slot}–${s.end}`,
      sub: s.available > 0 ? fmt(T["book.left"], { n: s.available }) : T["book.full"],
      disabled: s.available <= 0,
    })), (slot) => {
      pick.slot = slot;
      $("who-step").hidden = false;
      $("name").focus();
    });
  }

  $("booking").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError(null);
    const idNumber = $("id_number").value.trim(), phone = $("phone").value.trim();
    const body = { service: pick.service, date: pick.date, slot: pick.slot, name: $("name").value.trim() };
    if (idNumber) body.id_number = idNumber; else if (phone) body.phone = phone;
    $("submit").disabled = true;
    const r = await hallq.api("POST", "/api/v1/appointments", body);
    $("submit").disabled = false;
    if (!r.ok) {
      showError(r.error);
      if (r.error.code === "slot_full") loadSlots();
      return;
    }
    show(r.data);
  });

  function show(a) {
    showError(null);
    $("booking").hidden = true;
    $("result").hidden = false;
    $("result-code").textContent = a.code.slice(0, 4) + " " + a.code.slice(4);
    $("result-code").dataset.code = a.code;
    $("result-qr").src = a.qr;
    $("result-service").textContent = en && a.service_name_en ? a.service_name_en : a.service_name;
    $("result-when").textContent = `${a.date} ${a.slot}–${a.slot_end}`;
    $("result-name").textContent = `${a.name_masked} (${a.contact_masked.slice(-4)})`;
    const booked = a.status === "booked";
    $("result-title").textContent = booked ? T["book.done"] : T["book.status." + a.status];
    $("result-status").textContent = booked ? "" : T["book.status." + a.status];
    $("result-arrive").hidden = !booked;
    $("result-arrive").textContent = fmt(T["book.arrive"], { start: a.arrive_from.slice(11, 16), end: a.arrive_until.slice(11, 16) });
    $("result-cancel-until").hidden = !a.cancellable;
    $("result-cancel-until").textContent = fmt(T["book.cancel_until"], { until: a.cancel_until.slice(0, 16).replace("T", " ") });
    $("cancel").hidden = !a.cancellable;
    const url = new URL(location.href);
    url.searchParams.set("code", a.code);
    history.replaceState(null, "", url.pathname + url.search);
    $("result").scrollIntoView({ block: "start" });
  }

  async function find(code) {
    const r = await hallq.api("GET", "/api/v1/appointments/" + encodeURIComponent(code.replace(/[\s-]/g, "")));
    if (!r.ok) return showError(r.error);
    show(r.data);
  }

  $("find").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const code = $("find-code").value.trim();
    if (code) find(code);
  });

  $("cancel").addEventListener("click", async () => {
    if (!confirm(T["book.cancel_confirm"])) return;
    const r = await hallq.api("DELETE", "/api/v1/appointments/" + $("result-code").dataset.code);
    if (!r.ok) return showError(r.error);
    show(r.data);
    $("result-status").textContent = T["book.cancelled"];
  });

  loadServices();
  const code = new URL(location.href).searchParams.get("code");
  if (code) find(code);
})();
