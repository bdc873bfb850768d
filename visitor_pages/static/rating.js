/* The 好差评 form, shared by the evaluator pad and the progress page: five levels, and for the
   two lowest (差评) the reasons, a comment and, optional, a mobile number so the hall can call
   back (its use said beside it; skipping it is the one tap on 不留号码，直接提交). On the pad
   (`keypad: true`) the number is typed on big on-screen keys, not the tablet's keyboard.
   `send(level, options, comment, phone)` posts the rating and answers the API's {ok, error};
   the form shows the error or calls `done(level, rating)`. */
"use strict";
(function () {
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /* What the server accepts too (core/phone.py): 11 digits, 1 and 3-9 first; spaces, dashes
     and +86 typed around them are fine. */
  function mobile(typed) {
    const digits = typed.replace(/[\s\-()（）]/g, "").replace(/^(\+86|0086|86(?=1\d{10}$))/, "");
    return /^1[3-9]\d{9}$/.test(digits) ? digits : null;
  }

  function phoneBox(T, keypad, onInput) {
    const box = el("fieldset", "phone-box");
    const legend = el("legend");
    // one piece per clause, each kept whole: a narrow phone breaks after the comma
    legend.append(...T["rate.phone_h"].split(/(?<=，)/).map((part) => el("span", "", part)));
    const label = el("label", "", T["rate.phone_label"]);
    const input = el("input");
    input.id = "rating-phone-" + Math.random().toString(36).slice(2);
    label.htmlFor = input.id;
    input.type = "tel";
    input.name = "phone";
    input.autocomplete = "tel-national";
    input.maxLength = 24;
    input.inputMode = keypad ? "none" : "numeric";  // the pad has its own keys
    input.addEventListener("input", onInput);
    const privacy = el("p", "hint privacy", T["rate.phone_privacy"]);
    privacy.id = input.id + "-use";
    input.setAttribute("aria-describedby", privacy.id);
    box.append(legend, label, input, privacy);
    if (keypad) {
      const keys = el("div", "keypad");
      keys.setAttribute("role", "group");
      keys.setAttribute("aria-label", T["rate.keypad"]);
      const type = (f) => { input.value = f(input.value).slice(0, 11); onInput(); };
      for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "back"]) {
        const b = el("button", "btn key", k === "clear" ? T["rate.key_clear"] : k === "back" ? T["rate.key_back"] : k);
        b.type = "button";
        b.dataset.key = k;
        b.addEventListener("click", () =>
          type(k === "clear" ? () => "" : k === "back" ? (v) => v.slice(0, -1) : (v) => v + k));
        keys.append(b);
      }
      box.append(keys);
    }
    return { box, input };
  }

  function form(root, { T, choices, send, done, errorText, keypad = false }) {
    root.replaceChildren();
    const ask = el("h2", "", T["rate.ask"]);
    const levels = el("div", "levels");
    levels.setAttribute("role", "group");
    levels.setAttribute("aria-label", T["rate.ask"]);
    const bad = el("div", "bad-form");
    bad.hidden = true;
    const reasonsLabel = el("p", "", T["rate.reason"]);
    const reasons = el("div", "reasons");
    const commentLabel = el("label", "", T["rate.comment"]);
    const comment = el("textarea");
    comment.id = "rating-comment-" + Math.random().toString(36).slice(2);
    comment.maxLength = 500;
    commentLabel.htmlFor = comment.id;
    const error = el("p", "notice notice-error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    const phone = phoneBox(T, keypad, () => { error.hidden = true; });
    const submit = el("button", "btn btn-primary wide", T["rate.send"]);
    submit.type = "button";
    submit.dataset.action = "send-rating";
    submit.addEventListener("click", () => post(true));
    const skip = el("button", "btn wide skip-phone", T["rate.phone_skip"]);
    skip.type = "button";
    skip.dataset.action = "send-without-phone";
    skip.addEventListener("click", () => post(false));
    const buttons = el("div", "send-row");
    buttons.append(submit, skip);
    bad.append(reasonsLabel, reasons, commentLabel, comment, phone.box, buttons);
    root.append(ask, levels, bad, error);

    let chosen = null;
    const picked = new Set();
    for (const c of choices.reasons) {
      const b = el("button", "btn", c.name);
      b.type = "button";
      b.dataset.reason = c.code;
      b.setAttribute("aria-pressed", "false");
      b.addEventListener("click", () => {
        if (picked.has(c.code)) picked.delete(c.code); else picked.add(c.code);
        error.hidden = true;
        b.setAttribute("aria-pressed", String(picked.has(c.code)));
      });
      reasons.append(b);
    }

    async function post(withPhone) {
      const isBad = chosen <= 2;
      if (isBad && picked.size === 0) {
        error.textContent = T["rate.need_reason"];
        error.hidden = false;
        return;
      }
      let number = null;
      if (isBad && withPhone && phone.input.value.trim()) {
        number = mobile(phone.input.value);
        if (!number) {
          error.textContent = T["rate.phone_invalid"];
          error.hidden = false;
          phone.input.focus();
          return;
        }
      }
      if (isBad && !withPhone) phone.input.value = "";  // skipping keeps nothing typed
      for (const b of root.querySelectorAll("button")) b.disabled = true;
      const res = await send(chosen, [...picked], comment.value, number);
      for (const b of root.querySelectorAll("button")) b.disabled = false;
      if (res.ok || (res.error && res.error.code === "already_rated")) {
        phone.input.value = "";
        done(chosen, res.ok ? res.data : null);
        return;
      }
      error.textContent = errorText(res.error);
      error.hidden = false;
    }

    for (const c of choices.levels) {
      const b = el("button", "btn");
      b.type = "button";
      b.dataset.level = String(c.level);
      b.setAttribute("aria-pressed", "false");
      b.append(el("span", "stars", "★".repeat(c.level) + "☆".repeat(5 - c.level)), el("span", "", c.name));
      b.addEventListener("click", () => {
        chosen = c.level;
        for (const o of levels.children) o.setAttribute("aria-pressed", String(o === b));
        error.hidden = true;
        bad.hidden = c.level > 2;
        if (c.level > 2) post();
        else reasons.querySelector("button").focus();
      });
      levels.append(b);
    }
  }

  window.hallqRating = { form };
})();
