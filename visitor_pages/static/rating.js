/* The 好差评 form, shared by the evaluator pad and the progress page: five levels, and for the
   two lowest (差评) the reasons and a comment. `send(level, options, comment)` posts the rating
   and answers the API's {ok, error}; the form shows the error or calls `done(level)`. */
"use strict";
(function () {
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function form(root, { T, choices, send, done, errorText }) {
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
    const submit = el("button", "btn btn-primary wide", T["rate.send"]);
    submit.type = "button";
    submit.dataset.action = "send-rating";
    submit.addEventListener("click", () => post());
    const error = el("p", "notice notice-error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    bad.append(reasonsLabel, reasons, commentLabel, comment, submit);
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

    async function post() {
      if (chosen <= 2 && picked.size === 0) {
        error.textContent = T["rate.need_reason"];
        error.hidden = false;
        return;
      }
      for (const b of root.querySelectorAll("button")) b.disabled = true;
      const res = await send(chosen, [...picked], comment.value);
      for (const b of root.querySelectorAll("button")) b.disabled = false;
      if (res.ok || (res.error && res.error.code === "already_rated")) { done(chosen); return; }
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
