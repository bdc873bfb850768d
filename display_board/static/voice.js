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
     next starts. `announced` (items as they start) is what tests and the screen observe. */
  class Announcer {
    constructor({ gapMs = 700, onChange = () => {} } = {}) {
      this.queue = [];
      this.announced = [];
      this.current = null;
      this.gapMs = gapMs;
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
      if (this.current) return;
      while (this.queue.length) {
        const it = (this.current = this.queue.shift());
        it.startedAt = Date.now();
        this.announced.push(it);
        this.onChange(this);
        it.said = 0;
        for (let i = 0; i < (it.repeat || 1); i++) {
          for (const [lang, clips, text] of it.parts) it.via = await speak(lang, clips, text);
          it.said += 1;
          this.onChange(this);
          await sleep(this.gapMs);
        }
        it.endedAt = Date.now();
        this.current = null;
        this.onChange(this);
      }
    }
  }

  window.hallqVoice = { Announcer, callClips, callText, spell, speak, unlock, manifest, audio };
})();
