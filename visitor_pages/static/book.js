/* /book: choose a service, a day and a time, say who is coming, get a code and its QR; find or
   cancel an appointment by its code. Everything goes through the public API. */
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("page-data").textContent);
  const T = D.T, en = D.lang === "en";
  const $ = (id) => document.getElementById(id);
  const fmt = (s, v) => s.replace(/\{(\w+)\}/g, (m, k) => (k in v ? v[k] : m));
  const pick = { service: null, item: null, date: null, slot: null };
  const itemsOf = (code) => (D.items || {})[code] || [];
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
  /* 12月1日 周二 (Tue 1 Dec): how people read a date, not 12-1. */
  const dateText = (iso) => {
    const [y, m, d] = iso.split("-").map(Number);
    const weekday = new Date(Date.UTC(y, m - 1, d)).getUTCDay() || 7;
    return fmt(T["book.date_fmt"], { d, month: T["month." + m], weekday: T["weekday." + weekday] });
  };
  const dayLabel = (iso, weekday) => {
    const [, m, d] = iso.split("-").map(Number);
    return { label: fmt(T["book.day_fmt"], { d, month: T["month." + m] }), sub: T["weekday." + weekday] };
  };

  async function loadServices() {
    const r = await hallq.api("GET", "/api/v1/services");
    if (!r.ok) return showError(r.error);
    services = r.data;
    choices($("services"), services.map((s) => ({ value: s.code, label: svcName(s.code) })), (code) => {
      pick.service = code;
      pick.item = null;
      pick.slot = null;
      $("who-step").hidden = true;
      $("day-step").hidden = true;
      $("slot-step").hidden = true;
      showItems(code);
    });
  }

  /* People book what they need done (社会保障卡补领), not a category; "not sure" books the
     category. */
  function showItems(code) {
    const items = itemsOf(code);
    $("item-step").hidden = false;
    choices($("items"), [
      ...items.map((i) => ({ value: i.code, label: i.name })),
      { value: "", label: T["book.item_other"], sub: T["book.item_other_sub"] },
    ], (item) => {
      pick.item = item || null;
      pick.slot = null;
      $("who-step").hidden = true;
      loadDays();
    });
    $("item-step").scrollIntoView({ block: "start" });
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

  let lastContact = null;

  /* The nonce whose SHA-256 with the challenge starts with `bits` zero bits (guard/pow.py). */
  async function work(challenge, bits) {
    const enc = new TextEncoder();
    for (let n = 0; ; n++) {
      const d = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(challenge + ":" + n)));
      let zeros = 0;
      for (const byte of d) {
        if (byte === 0) { zeros += 8; continue; }
        zeros += Math.clz32(byte) - 24;
        break;
      }
      if (zeros >= bits) return String(n);
    }
  }
  if ($("send-code")) {
    $("send-code").addEventListener("click", async () => {
      showError(null);
      const r = await hallq.api("POST", "/api/v1/appointments/phone-code", { phone: $("phone").value.trim() });
      if (!r.ok) return showError(r.error);
      $("send-code").textContent = T["book.code_sent"];
      $("phone_code").focus();
    });
  }

  $("booking").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError(null);
    const idNumber = $("id_number").value.trim(), phone = $("phone").value.trim();
    const body = { service: pick.service, date: pick.date, slot: pick.slot, name: $("name").value.trim() };
    if (pick.item) body.item = pick.item;
    if (idNumber) body.id_number = idNumber;
    if (phone && (!idNumber || $("phone_code"))) body.phone = phone;
    if ($("phone_code")) body.phone_code = $("phone_code").value.trim();
    lastContact = idNumber || phone;
    $("submit").disabled = true;
    let r = await hallq.api("POST", "/api/v1/appointments", body);
    if (r.status === 428 && r.error.challenge) {
      // the hall is flooded with bookings: prove a little work (about a second), then retry
      body.pow = { challenge: r.error.challenge, nonce: await work(r.error.challenge, r.error.difficulty) };
      r = await hallq.api("POST", "/api/v1/appointments", body);
    }
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
    const service = en && a.service_name_en ? a.service_name_en : a.service_name;
    const item = a.item ? (en && a.item_name_en ? a.item_name_en : a.item_name) : "";
    $("result-service").textContent = item ? `${item}（${service}）` : service;
    $("result-when").textContent = `${dateText(a.date)} ${a.slot}–${a.slot_end}`;
    const known = itemsOf(a.service).find((i) => i.code === a.item);
    const materials = known && known.materials.length ? known.materials : [T["book.materials_default"]];
    $("materials").replaceChildren(...materials.map((m) => el("li", "", m)));
    const where = D.where || {};
    $("where-box").hidden = !where.address;
    $("where-address").textContent = where.address || "";
    $("where-map").hidden = !where.map_url;
    if (where.map_url) $("where-map").href = where.map_url;
    $("save-code").hidden = a.status !== "booked";
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

  /* A code alone does not cancel: the holder gives the ID or phone number they booked with
     (remembered when the booking was made on this page). */
  $("cancel").addEventListener("click", async () => {
    if (!confirm(T["book.cancel_confirm"])) return;
    const contact = lastContact || prompt(T["book.cancel_contact"]);
    if (!contact) return;
    const r = await hallq.api("DELETE", "/api/v1/appointments/" + $("result-code").dataset.code,
                              { contact: contact.trim() });
    if (!r.ok) return showError(r.error);
    show(r.data);
    $("result-status").textContent = T["book.cancelled"];
  });

  loadServices();
  const code = new URL(location.href).searchParams.get("code");
  if (code) find(code);
})();
