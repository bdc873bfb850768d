/* Offline speech for boards and kiosks: pre-recorded clips (static/board/voice, made by
   scripts/make_voice_clips.py) joined with the Web Audio API, so a fresh machine with no
   internet still speaks. Announcements are queued: one never cuts another off. Where no clip
   exists for a part (an unusual window id), the browser's speechSynthesis says the text, and if
   the machine cannot play sound at all, the queue keeps the same timing silently. */
"use strict";
(function () {
  const BASE = "/static/board/voice/";
  let manifestP = null;
  const buffers = new Map();
  let ctx = null;

  function manifest() {
    manifestP = manifestP || fetch(BASE + "manifest.json").then((r) => r.json()).catch(() => ({ zh: {}, en: {} }));
    return manifestP;
  }

  function audio() {
    if (!ctx) {
      const AC = window.AudioContext || window.webkitAudioContext;
      ctx = AC ? new AC() : null;
      if (ctx) {
        const note = () => { document.body.dataset.sound = ctx.state; };
        ctx.onstatechange = note;
        note();
      }
    }
    return ctx;
  }

  /* Unlock sound after a tap where the browser requires a gesture. */
  function unlock() {
    const c = audio();
    if (c && c.state === "suspended") c.resume();
  }

  function load(lang, name) {
    const key = lang + "/" + name;
    if (!buffers.has(key)) {
      const c = audio();
      buffers.set(key, fetch(BASE + key + ".ogg")
        .then((r) => { if (!r.ok) throw new Error(key); return r.arrayBuffer(); })
        .then((data) => (c ? c.decodeAudioData(data) : null))
        .catch(() => null));
    }
    return buffers.get(key);
  }

  const ZH_DIGIT = (d) => "d" + d;
  function zhCardinal(n) {   // window numbers the way people say them: 10 = 十, 23 = 二十三
    if (n < 10) return [ZH_DIGIT(n)];
    if (n < 20) return ["shi", ...(n % 10 ? [ZH_DIGIT(n % 10)] : [])];
    return [ZH_DIGIT(Math.floor(n / 10)), "shi", ...(n % 10 ? [ZH_DIGIT(n % 10)] : [])];
  }
  function enCardinal(n) {
    if (n < 20) return ["n" + n];
    return ["n" + Math.floor(n / 10) * 10, ...(n % 10 ? ["n" + (n % 10)] : [])];
  }
  /* Ticket numbers are read character by character: A012 = "A 零 一 二". */
  function spell(text, lang) {
    return [...String(text).toUpperCase()].map((ch) => {
      if (/[0-9]/.test(ch)) return lang === "zh" ? ZH_DIGIT(ch) : "n" + ch;
      if (/[A-Z]/.test(ch)) return ch;
      return null;
    });
  }
  function windowParts(id, lang) {
    if (/^[0-9]{1,2}$/.test(id)) return (lang === "zh" ? zhCardinal : enCardinal)(Number(id));
    return spell(id, lang);
  }

  function callClips(lang, number, windowId) {
    if (lang === "en") return ["number", ...spell(number, "en"), "please_go_to", "window", ...windowParts(windowId, "en")];
    return ["qing", ...spell(number, "zh"), "hao", "dao", ...windowParts(windowId, "zh"), "haochuangkou", "banli"];
  }
  function callText(lang, number, windowId) {
    return lang === "en" ? `Number ${number}, please go to window ${windowId}` : `请 ${number} 号到 ${windowId} 号窗口办理`;
  }
  /* The short form said under a backlog: "A012 号，3 号窗口". */
  function shortClips(lang, number, windowId) {
    if (lang === "en") return [...spell(number, "en"), "window", ...windowParts(windowId, "en")];
    return [...spell(number, "zh"), "hao", ...windowParts(windowId, "zh"), "haochuangkou"];
  }
  function shortText(lang, number, windowId) {
    return lang === "en" ? `${number}, window ${windowId}` : `${number} 号，${windowId} 号窗口`;
  }

  /* The two-tone "ding-dong" before a burst of announcements, made with oscillators (no file). */
  const CHIME_S = 1.1;
  async function chime() {
    const c = audio();
    if (c && c.state === "suspended") c.resume().catch(() => {});
    if (c && c.state === "running") {
      [[784, 0], [622, 0.45]].forEach(([hz, offset]) => {
        const osc = c.createOscillator();
        const gain = c.createGain();
        const t0 = c.currentTime + 0.02 + offset;
        osc.frequency.value = hz;
        gain.gain.setValueAtTime(0.0001, t0);
        gain.gain.exponentialRampToValueAtTime(0.4, t0 + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.6);
        osc.connect(gain).connect(c.destination);
        osc.start(t0);
        osc.stop(t0 + 0.65);
      });
    }
    await sleep(CHIME_S * 1000);
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  /* Plays one utterance: clips in a row, or speechSynthesis, or silence of the same length. */
  async function speak(lang, clips, text) {
    const m = await manifest();
    const known = clips.every((c) => c && m[lang] && c in m[lang]);
    const seconds = known ? clips.reduce((s, c) => s + m[lang][c], 0) : text.length * 0.25;
    const c = audio();
    if (known && c) {
      const bufs = await Promise.all(clips.map((name) => load(lang, name)));
      if (c.state === "suspended") c.resume().catch(() => {});
      if (c.state === "running" && bufs.every(Boolean)) {
        let at = c.currentTime + 0.05;
        let last = null;
        for (const b of bufs) {
          last = c.createBufferSource();
          last.buffer = b;
          last.connect(c.destination);
          last.start(at);
          at += b.duration;
        }
        const ended = new Promise((r) => { last.onended = r; });
        await Promise.race([ended, sleep((seconds + 1) * 1000)]);
        return "clips";
      }
    } else if (window.speechSynthesis && window.SpeechSynthesisUtterance) {
      const u = new SpeechSynthesisUtterance(text);
      u.lang = lang === "en" ? "en-US" : "zh-CN";
      u.rate = 0.9;
      const done = new Promise((r) => { u.onend = r; u.onerror = r; });
      speechSynthesis.speak(u);
      await Promise.race([done, sleep((seconds + 2) * 1000)]);
      return "speech";
    }
    await sleep(seconds * 1000);   // no sound possible: keep the pacing so screens stay in step
    return "silent";
  }

  /* A queue of announcements. Each item is said `repeat` times with a pause between, then the
     next starts; one never cuts another off. With `maxLagMs` the queue keeps its voice close to
     the screen it speaks for: while others wait an item is said once, in its `short` form when
     it has one, and an item that has waited longer than `maxLagMs` is skipped (it is still on
     the screen; `skipped` lists it). With `chime` a burst starts with one chime, not one per
     call. `announced` (items as they start) is what tests and the screen observe. */
  class Announcer {
    constructor({ gapMs = 700, onChange = () => {}, maxLagMs = 0, chime: withChime = false } = {}) {
      this.queue = [];
      this.announced = [];
      this.skipped = [];
      this.chimes = 0;
      this.current = null;
      this.gapMs = gapMs;
      this.maxLagMs = maxLagMs;
      this.withChime = withChime;
      this.onChange = onChange;
    }
    say(item) {
      const entry = { ...item, queuedAt: Date.now(), startedAt: null, endedAt: null, via: null };
      this.queue.push(entry);
      this.onChange(this);
      this.pump();
      return entry;
    }
    async pump() {
      if (this.pumping) return;
      this.pumping = true;
      if (this.withChime && this.queue.length) {
        this.chimes += 1;
        await chime();
      }
      while (this.queue.length) {
        const it = this.queue.shift();
        if (this.maxLagMs && Date.now() - it.queuedAt > this.maxLagMs) {
          it.skippedAt = Date.now();
          this.skipped.push(it);
          this.onChange(this);
          continue;
        }
        this.current = it;
        it.startedAt = Date.now();
        it.backlog = this.maxLagMs > 0 && this.queue.length > 0;
        this.announced.push(it);
        this.onChange(this);
        it.said = 0;
        const parts = it.backlog && it.short ? it.short : it.parts;
        for (let i = 0; i < (it.repeat || 1); i++) {
          for (const [lang, clips, text] of parts) it.via = await speak(lang, clips, text);
          it.said += 1;
          this.onChange(this);
          await sleep(this.gapMs);
          if (this.maxLagMs && this.queue.length) break;  // others are waiting: once is enough
        }
        it.endedAt = Date.now();
        this.current = null;
        this.onChange(this);
      }
      this.pumping = false;
    }
  }

  window.hallqVoice = { Announcer, callClips, callText, shortClips, shortText, spell, speak, chime, unlock, manifest, audio };
})();
