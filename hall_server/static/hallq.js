/* Shared by every hallq page: the language switch keeps the rest of the query string, JSON
   calls to the API return {ok, status, data, error} with the API's own error message, and a
   websocket that reconnects by itself. */
"use strict";
(function () {
  for (const a of document.querySelectorAll("a.lang-switch")) {
    const want = new URL(a.href, location.href).searchParams.get("lang");
    const url = new URL(location.href);
    url.searchParams.set("lang", want);
    a.href = url.pathname + url.search;
  }

  async function api(method, path, body) {
    // API errors come back in the page's language, whatever the browser's own is
    const lang = document.documentElement.lang === "en" ? "en" : "zh";
    const headers = { Accept: "application/json", "Accept-Language": lang };
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      return { ok: false, status: 0, data: null, error: { code: "network", message: String(e) } };
    }
    let data = null;
    const text = await resp.text();
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    const error = resp.ok ? null : (data && data.error) || { code: "http_" + resp.status, message: resp.statusText };
    return { ok: resp.ok, status: resp.status, data, error };
  }

  /* A websocket that reconnects with capped exponential backoff (with jitter) and treats
     `silenceMs` without any message (the server sends heartbeats every 10 s) as a dead link.
     Every new connection starts with a snapshot from the server, so `onMessage` resyncs. */
  function liveSocket(path, { onMessage, onState, silenceMs = 25000, maxDelayMs = 5000 }) {
    let ws = null, delay = 250, watchdog = null, stopped = false;
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
    const state = (s) => { document.body.dataset.link = s; if (onState) onState(s); };
    function arm() {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => { if (ws) ws.close(); }, silenceMs);
    }
    function connect() {
      if (stopped) return;
      state("connecting");
      ws = new WebSocket(url);
      ws.onopen = () => { delay = 250; state("open"); arm(); };
      ws.onmessage = (ev) => {
        arm();
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        onMessage(msg);
      };
      ws.onclose = () => {
        clearTimeout(watchdog);
        ws = null;
        state("closed");
        if (stopped) return;
        const wait = delay * (0.75 + Math.random() * 0.5);
        delay = Math.min(delay * 2, maxDelayMs);
        setTimeout(connect, wait);
      };
      ws.onerror = () => { if (ws) ws.close(); };
    }
    connect();
    return { close() { stopped = true; if (ws) ws.close(); } };
  }

  function fmtRange(t, range) {
    if (!range) return "";
    const low = Math.max(1, Math.round(range[0] / 60));
    const high = Math.max(low + 1, Math.round(range[1] / 60));
    return t("about_minutes").replace("{low}", low).replace("{high}", high);
  }

  window.hallq = { api, liveSocket, fmtRange };
})();
