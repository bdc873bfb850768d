/* Item search shared by the kiosk and the hub's 就近办 page (one set of rules): what a visitor
   types against catalog entries built by kiosk_ui/search.py (``name``, ``keywords`` with the
   everyday short names, ``name_en``, ``kind``, and per word its ``initials`` and ``pinyin``
   with a space between syllables). */
"use strict";
(function () {
  /* Each word of an entry (its name, then its keywords and short names such as 社保, 医保):
     lower-case text, pinyin initials, and full pinyin joined with where its syllables start. */
  function prepare(catalog) {
    for (const item of catalog) {
      item.words = [item.name, ...item.keywords].map((w, i) => {
        const spaced = item.pinyin[i] || "";
        const starts = [0];
        for (let j = 0, at = 0; j < spaced.length; j++) {
          if (spaced[j] === " ") starts.push(at); else at++;
        }
        return { text: w.toLowerCase(), initials: item.initials[i] || "", pinyin: spaced.replace(/ /g, ""), starts, keyword: i > 0 };
      });
    }
    return catalog;
  }

  /* Lower is better. Whole-word matches first (the name, or a short name like 社保 / shebao),
     then a word's beginning (text, full pinyin, initials), then from any syllable inside it
     ("baozhang"), then anywhere in the initials, the English name, and last initials in order
     with gaps ("sbk" finds 社会保障卡). What the name itself matches comes before what only a
     keyword or short name matches (户口 lists 户口迁出 before 夫妻投靠入户). */
  function score(item, q, latin) {
    let best = null;
    const take = (v, w) => { v += w.keyword ? 2.5 : 0; if (best === null || v < best) best = v; };
    for (const w of item.words) {
      if (!latin) {
        if (w.text === q) take(0, w);
        else if (w.text.startsWith(q)) take(1, w);
        else if (w.text.includes(q)) take(2, w);
        continue;
      }
      if (w.initials === q || w.pinyin === q) take(0, w);
      else if (w.pinyin.startsWith(q) || w.initials.startsWith(q)) take(1, w);
      else if (w.starts.some((at) => at > 0 && w.pinyin.startsWith(q, at))) take(2.5, w);
      else if (w.initials.includes(q)) take(3, w);
    }
    if (latin && best === null) {
      const en = (item.name_en || "").toLowerCase();
      if (new RegExp("\\b" + q).test(en)) best = 3.5;
      else if (en.includes(q)) best = 4;
      else if (item.words.some((w) => subsequence(q, w.initials))) best = 6;
    }
    return best;
  }
  function subsequence(q, s) {
    let j = 0;
    for (let i = 0; i < s.length && j < q.length; i++) if (s[i] === q[j]) j++;
    return j === q.length;
  }
  function search(catalog, raw, limit = 30) {
    const q = raw.trim().toLowerCase().replace(/\s+/g, "");
    if (!q) return [];
    const latin = /^[a-z0-9]+$/.test(q);
    const hits = [];
    for (const item of catalog) {
      const s = score(item, q, latin);
      if (s !== null) hits.push([s, item.kind === "service" ? 0 : 1, item.name.length, item]);
    }
    hits.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
    return hits.slice(0, limit).map((h) => h[3]);
  }
  window.hallqSearch = { prepare, search };
})();
