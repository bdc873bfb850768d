"""Generate the offline voice clips the boards and kiosks join into announcements.

Run once (the clips are committed): ``python scripts/make_voice_clips.py``. Needs espeak-ng
(Mandarin voice ``cmn``) and sox. A hall is often offline and a board PC is a fresh machine, so
speech must not depend on a cloud voice or on the browser's speechSynthesis: each part of a call
("请", "A", "0", "号", "到", "3", "号窗口", "办理") is a short Ogg Vorbis clip, and the browser
plays the parts one after another.

Output: ``display_board/static/voice/{zh,en}/NAME.ogg`` and ``manifest.json`` (clip names and
durations) beside them.
"""

from __future__ import annotations

import json
import string
import subprocess
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "display_board" / "static" / "voice"
ZH_DIGITS = "零一二三四五六七八九"
EN_NUMBERS = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen"),
    *("sixteen", "seventeen", "eighteen", "nineteen"),
]
EN_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

#: Kiosk prompts, by clip name: Chinese, English.
PROMPTS = {
    "p_choose": ("请选择要办理的业务", "Please choose a service"),
    "p_your_number": ("您的号码是", "Your number is"),
    "p_wait": ("请留意屏幕和语音叫号", "Please watch the screen and listen for your number"),
    "p_card": ("已读取身份证，请选择业务", "ID card read. Please choose a service"),
    "p_swipe": ("请把身份证放在感应区", "Please place your ID card on the reader"),
}


def clips() -> dict[str, dict[str, tuple[str, str]]]:
    """``{lang: {clip name: (espeak voice, text)}}``. Chinese words use the pinyin-aware voice;
    letters use ``cmn``, which reads Latin letters the way Chinese speakers do (A = "ei")."""
    zh: dict[str, tuple[str, str]] = {
        "qing": ("cmn-latn-pinyin", "请"),
        "hao": ("cmn-latn-pinyin", "号"),
        "dao": ("cmn-latn-pinyin", "到"),
        "haochuangkou": ("cmn-latn-pinyin", "号窗口"),
        "banli": ("cmn-latn-pinyin", "办理"),
        "shi": ("cmn-latn-pinyin", "十"),
    }
    zh |= {f"d{i}": ("cmn-latn-pinyin", ch) for i, ch in enumerate(ZH_DIGITS)}
    zh |= {c: ("cmn", c) for c in string.ascii_uppercase}
    zh |= {name: ("cmn-latn-pinyin", texts[0]) for name, texts in PROMPTS.items()}
    en: dict[str, tuple[str, str]] = {
        "number": ("en-us", "number"),
        "please_go_to": ("en-us", "please go to"),
        "window": ("en-us", "window"),
    }
    en |= {f"n{i}": ("en-us", w) for i, w in enumerate(EN_NUMBERS)}
    en |= {f"n{(i + 2) * 10}": ("en-us", w) for i, w in enumerate(EN_TENS)}
    en |= {c: ("en-us", c) for c in string.ascii_uppercase}
    en |= {name: ("en-us", texts[1]) for name, texts in PROMPTS.items()}
    return {"zh": zh, "en": en}


def render(voice: str, text: str, dest: Path, tmp: Path) -> float:
    """One clip: spoken slowly (the elderly), silence trimmed, mono 16 kHz Ogg Vorbis."""
    wav = tmp / "raw.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "140", "-w", str(wav), text],
        check=True,
        capture_output=True,
    )
    trim = ["silence", "1", "0.01", "0.5%", "reverse", "silence", "1", "0.01", "0.5%", "reverse"]
    encode = ["-r", "16000", "-c", "1", "-C", "0"]
    subprocess.run(
        ["sox", str(wav), *encode, str(dest), *trim, "pad", "0", "0.04"],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(["soxi", "-D", str(dest)], check=True, capture_output=True, text=True)
    return round(float(out.stdout), 3)


def main() -> None:
    manifest: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lang, table in clips().items():
            (OUT / lang).mkdir(parents=True, exist_ok=True)
            manifest[lang] = {
                name: render(voice, text, OUT / lang / f"{name}.ogg", Path(tmp))
                for name, (voice, text) in table.items()
            }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*.ogg"))
    print(f"{sum(len(v) for v in manifest.values())} clips, {total / 1024:.0f} KiB in {OUT}")


if __name__ == "__main__":
    main()
