/* 差评 follow-up (/manager/ratings): the bad ratings (levels 1-2) from /api/v1/ratings, each
   with its reasons, comment, window, clerk and deadline, moved open → contacted → resolved with
   PATCH /api/v1/ratings/{id} (resolving asks how). A changed rating is redrawn in place and
   keeps the focus, so the page works from the keyboard. A visitor's phone number shows masked;
   查看号码 asks the server for the full number (POST .../phone/reveal: managers only, each
   time logged with who and when, listed under 号码查看记录); marking the rating contacted
   erases the number (the record of who saw it stays). */
"use strict";
(function () {
  const setup = JSON.parse(document.getElementById("followup-setup").textContent);
  const T = JSON.parse(document.getElementById("followup-texts").textContent);
  const $ = (id) => document.getElementById(id);
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : ""));
  const locale = setup.lang === "en" ? "en-GB" : "zh-CN";
  /* Times in the hall's zone (setup.tz), as the kiosk and board clocks: a manager reading from
     a laptop set to another zone sees the times the visitor and the clerk saw. */
  const when = (iso) => new Date(iso).toLocaleString(locale, { timeZone: setup.tz, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
  const dueDay = (iso) => new Date(iso).toLocaleDateString(locale, { timeZone: setup.tz, year: "numeric", month: "2-digit", day: "2-digit", weekday: "short" });
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text != null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  };
  const ratings = new Map();
  let resolving = null;

  function daysBefore(day, n) {
    const d = new Date(day + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() - n);
    return d.toISOString().slice(0, 10);
  }

  async function load() {
    const show = $("r-show").value;
    const range = `from=${daysBefore(setup.today, 29)}&to=${setup.today}`;
    const queries = show === "todo" ? ["followup=open", "followup=contacted"]
      : show === "resolved" ? ["followup=resolved&" + range] : [range];
    $("ratings").setAttribute("aria-busy", "true");
    const answers = await Promise.all(queries.map((q) => hallq.api("GET", "/api/v1/ratings?max_level=2&" + q)));
    $("ratings").setAttribute("aria-busy", "false");
    const failed = answers.find((a) => !a.ok);
    $("r-error").hidden = !failed;
    if (failed) {
      if (failed.status === 401 || failed.status === 403) location.href = "/login?next=/manager/ratings";
      $("r-error").textContent = failed.status === 0 ? T.network : failed.error.message;
      return;
    }
    const list = answers.flatMap((a) => a.data);
    list.sort(show === "todo" ? (a, b) => (a.due_at < b.due_at ? -1 : 1) : (a, b) => (a.at < b.at ? 1 : -1));
    ratings.clear();
    for (const r of list) ratings.set(r.id, r);
    $("ratings").replaceChildren(...list.map(item));
    $("r-none").hidden = list.length > 0;
    count();
  }

  function count() {
    const all = [...ratings.values()];
    $("r-count").textContent = all.length ? fill(T.count, { n: all.length, overdue: all.filter((r) => r.overdue).length }) : "";
  }

  function fact(dl, term, ...content) {
    dl.append(el("dt", term));
    const dd = el("dd");
    dd.append(...content);
    dl.append(dd);
    return dd;
  }

  function item(r) {
    const li = el("li", null, "card rating");
    li.dataset.id = r.id;
    li.dataset.followup = r.followup;
    li.dataset.overdue = String(r.overdue);
    li.tabIndex = -1;
    const head = el("h2", null, "r-head");
    const level = el("span", setup.levels[r.level] || r.level_name, "pill r-level");
    level.dataset.level = r.level;
    head.append(level, " ", el("span", r.number, "r-number"), " ", el("span", setup.services[r.service] || r.service_name));
    li.append(head);
    const dl = el("dl", null, "r-facts");
    fact(dl, T.window, setup.windows[r.window] || r.window || "—");
    fact(dl, T.staff, r.staff || "—");
    fact(dl, T.at, when(r.at));
    fact(dl, T.reason, r.options.map((o) => setup.reasons[o] || o).join("、") || "—");
    fact(dl, T.comment, r.comment || "—").classList.add("r-comment");
    phoneFact(dl, r);
    const due = fact(dl, T.due, r.due_at ? dueDay(r.due_at) : "—");
    if (r.overdue) due.append(" ", el("span", T.overdue, "pill overdue"));
    const state = el("span", T[r.followup] || r.followup, "pill r-state");
    state.dataset.status = { open: "paused", contacted: "paused", resolved: "open" }[r.followup] || "";
    const st = fact(dl, T.state, state);
    if (r.followup_by) st.append(" ", el("span", fill(T.by, { who: r.followup_by, at: when(r.followup_at) }), "muted"));
    if (r.followup_note) st.append(el("p", r.followup_note, "r-note"));
    li.append(dl);
    const actions = el("div", null, "r-actions");
    if (r.followup === "open") {
      const b = el("button", T.mark_contacted, "btn contacted");
      b.type = "button";
      b.addEventListener("click", () => patch(r, { followup: "contacted" }, b));
      actions.append(b);
    }
    if (r.followup !== "resolved") {
      const b = el("button", T.resolve, "btn btn-primary resolve");
      b.type = "button";
      b.setAttribute("aria-haspopup", "dialog");
      b.addEventListener("click", () => openResolve(r));
      actions.append(b);
    }
    if (actions.childElementCount) li.append(actions);
    return li;
  }

  /* Who opened the number and when (the audit log, as the API gives it), kept after erasure. */
  function reveals(r) {
    const list = r.phone_reveals || [];
    if (!list.length) return el("span", T.no_reveals, "muted");
    const ul = el("ul", null, "r-reveals");
    for (const a of list) ul.append(el("li", fill(T.reveal_entry, { who: a.by, at: when(a.at) })));
    return ul;
  }

  function phoneFact(dl, r) {
    if (!r.phone_masked) {
      const text = r.phone_erased_at ? fill(T.phone_erased, { at: when(r.phone_erased_at) }) : T.no_phone;
      fact(dl, T.phone, el("span", text, "muted r-phone-none"));
      if (r.phone_erased_at) fact(dl, T.reveals, reveals(r)).classList.add("r-reveals-fact");
      return;
    }
    const number = el("span", r.phone_masked, "r-phone");
    const reveal = el("button", T.reveal, "btn btn-quiet reveal");
    reveal.type = "button";
    const note = el("span", T.reveal_note + "；" + T.erase_note, "muted r-phone-note");
    const dd = fact(dl, T.phone, number, " ", reveal, " ", note);
    dd.classList.add("r-phone-fact");
    const history = fact(dl, T.reveals, reveals(r));
    history.classList.add("r-reveals-fact");
    reveal.addEventListener("click", async () => {
      reveal.disabled = true;
      const res = await hallq.api("POST", `/api/v1/ratings/${r.id}/phone/reveal`);
      if (!res.ok) {
        reveal.disabled = false;
        note.textContent = res.status === 0 ? T.network : res.error.message;
        note.setAttribute("role", "alert");
        return;
      }
      const call = el("a", res.data.phone, "r-phone revealed");
      call.href = "tel:" + res.data.phone;
      number.replaceWith(call);
      reveal.remove();
      note.textContent = fill(T.revealed, { who: res.data.revealed_by, at: when(res.data.revealed_at) }) + "；" + T.erase_note;
      r.phone_reveals = [...(r.phone_reveals || []), { by: res.data.revealed_by, at: res.data.revealed_at }];
      history.replaceChildren(reveals(r));
      call.focus();
    });
  }

  /* Send the change; the answer replaces the rating where it stands and takes the focus. */
  async function patch(r, change, button) {
    if (button) button.disabled = true;
    const res = await hallq.api("PATCH", `/api/v1/ratings/${r.id}`, change);
    if (!res.ok) {
      if (button) button.disabled = false;
      return res;
    }
    ratings.set(r.id, res.data);
    const old = $("ratings").querySelector(`li[data-id="${r.id}"]`);
    const fresh = item(res.data);
    old.replaceWith(fresh);
    (fresh.querySelector(".r-actions button") || fresh).focus();
    count();
    return res;
  }

  function openResolve(r) {
    resolving = r;
    $("resolve-h").textContent = fill(T.resolve_h, { number: r.number });
    $("resolve-note").value = "";
    $("resolve-error").hidden = true;
    $("resolve-dialog").showModal();
    $("resolve-note").focus();
  }

  function resolveError(text) {
    $("resolve-error").textContent = text;
    $("resolve-error").hidden = false;
    $("resolve-note").focus();
  }

  $("resolve-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const note = $("resolve-note").value.trim();
    if (!note) { resolveError(T.note_required); return; }
    const res = await patch(resolving, { followup: "resolved", note });
    if (!res.ok) { resolveError(res.status === 0 ? T.network : res.error.message); return; }
    $("resolve-dialog").close();
    const li = $("ratings").querySelector(`li[data-id="${resolving.id}"]`);
    if (li) li.focus();
  });
  $("resolve-cancel").addEventListener("click", () => $("resolve-dialog").close());
  $("r-show").addEventListener("change", load);
  load();
})();
