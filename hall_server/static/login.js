/* The login form (the hall's staff, the city hub's supervisors): a JSON call (the API takes
   nothing else), then back to where the user was going (a local path, checked by the server),
   or the page's home, or their console. A file of its own, not an inline script, so that the
   pages' Content-Security-Policy can forbid inline scripts. */
"use strict";
document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const err = document.getElementById("login-error");
  const body = { username: form.username.value.trim(), password: form.password.value };
  if (form.window && form.window.value) body.window = form.window.value;
  const res = await hallq.api("POST", "/api/v1/auth/login", body);
  if (!res.ok) {
    const wait = res.error && res.error.retry_after_s;
    err.textContent = res.status === 401 ? form.dataset.failed
      : res.status === 429 ? form.dataset.throttled.replace("{retry_after_s}", wait)
      : res.status === 503 ? form.dataset.busy
      : res.status === 0 ? form.dataset.network
      : res.error.message;
    err.hidden = false;
    return;
  }
  const home = form.dataset.home || (res.data.role === "staff" ? "/staff" : "/manager");
  location.assign(form.dataset.next || home);
});
