"""Recorded human speech from Debian packages: KTuberling words (25 languages), KLettres letters
and syllables (20 languages), Tux Paint stamp descriptions (spoken captions, with the caption text
in ~100 languages, a parallel corpus) and spoken digits.

All three are real voices; their transcripts come from the packages' own metadata files.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

KTUBERLING = Path("/usr/share/ktuberling/sounds")
KLETTRES = Path("/usr/share/klettres")
TUXPAINT = Path("/usr/share/tuxpaint/stamps")

LICENCES = {
    "ktuberling": "KTuberling sounds (GPL-2.0-or-later, Debian ktuberling-data)",
    "klettres": "KLettres sounds (GPL-2.0-or-later, Debian klettres-data)",
    "tuxpaint": "Tux Paint stamps: sounds, spoken descriptions and captions (GPL-2.0-or-later, Debian tuxpaint-stamps-default)",
}


@dataclass(frozen=True)
class Recording:
    id: str
    path: str
    lang: str  # ISO code
    text: str  # what is said ("" when only a translation key is known)
    source: str
    key: str = ""  # language-independent item key (English word, stamp name)


@lru_cache(maxsize=1)
def ktuberling_words() -> tuple[Recording, ...]:
    """Words said by KTuberling's speakers; `text` is set for English, `key` is the English word."""
    out = []
    if not KTUBERLING.is_dir():
        return ()
    for theme in sorted(KTUBERLING.glob("*.soundtheme")):
        lang = theme.stem
        if not re.fullmatch(r"[a-z]{2}", lang):
            continue
        root = ET.fromstring(theme.read_text(encoding="utf-8"))
        for snd in root.iter("sound"):
            path = KTUBERLING / snd.get("file", "")
            if path.is_file():
                key = snd.get("name", "")
                out.append(Recording(f"ktuberling:{lang}/{path.name}", str(path), lang,
                                     ktuberling_text(key) if lang == "en" else "", "ktuberling", key))
    return tuple(sorted(out, key=lambda r: r.id))


# Sound names are "<playground>_<object>" and some run words together or misspell them; the English
# speaker says the object's name.
_KT_SPELLING = {"palmtree": "palm tree", "fallingstar": "falling star", "sphynx": "sphinx", "brocolli": "broccoli",
                "ufo": "UFO"}


def ktuberling_text(key: str) -> str:
    """What KTuberling's English speaker says for sound `key`: "egypt_palmtree" -> "palm tree"."""
    word = key.split("_", 1)[1] if "_" in key else key
    return _KT_SPELLING.get(word, word)


@lru_cache(maxsize=1)
def klettres_sounds() -> tuple[Recording, ...]:
    """Letters and syllables with their written form, from each language's sounds.xml."""
    out = []
    if not KLETTRES.is_dir():
        return ()
    for xml in sorted(KLETTRES.glob("*/sounds.xml")):
        try:
            root = ET.fromstring(xml.read_text(encoding="utf-8"))
        except ET.ParseError:
            continue
        for langel in root.iter("language"):
            lang = langel.get("code", xml.parent.name)
            for snd in langel.iter("sound"):
                path = KLETTRES / snd.get("file", "")
                if path.is_file():
                    text = snd.get("name", "")
                    out.append(Recording(f"klettres:{path.relative_to(KLETTRES)}", str(path), lang, text,
                                         "klettres", text))
    return tuple(sorted(out, key=lambda r: r.id))


@dataclass(frozen=True)
class Stamp:
    id: str  # path of the stamp without extension, relative to the stamps folder
    captions: dict[str, str] = field(hash=False)  # lang -> caption
    spoken: dict[str, str] = field(hash=False)  # lang -> path of the spoken description
    sound: str = ""  # the stamp's sound effect, if any


def _caption_lang(key: str) -> str:
    return key.split(".")[0].split("@")[0]


@lru_cache(maxsize=1)
def tuxpaint_stamps() -> tuple[Stamp, ...]:
    """Every stamp with a caption file; spoken descriptions and sound effects where present."""
    if not TUXPAINT.is_dir():
        return ()
    out = []
    for dirpath, _dirs, files in os.walk(TUXPAINT):
        fs = set(files)
        for name in sorted(fs):
            if not name.endswith(".txt"):
                continue
            stem = name[:-4]
            lines = (Path(dirpath) / name).read_text(encoding="utf-8", errors="replace").splitlines()
            if not lines or not lines[0].strip():
                continue
            caps = {"en": " ".join(lines[0].split())}
            for line in lines[1:]:
                if "=" in line and ".utf8" in line.split("=", 1)[0]:
                    k, v = line.split("=", 1)
                    lang = _caption_lang(k)
                    v = " ".join(v.split())
                    if v and lang not in caps and re.fullmatch(r"[a-z]{2}", lang):
                        caps[lang] = v
            spoken = {}
            for f in fs:
                m = re.fullmatch(re.escape(stem) + r"_desc(?:_([a-z]{2}))?\.ogg", f)
                if m:
                    spoken[m.group(1) or "en"] = str(Path(dirpath) / f)
            sound = str(Path(dirpath) / f"{stem}.ogg") if f"{stem}.ogg" in fs else ""
            rel = str((Path(dirpath) / stem).relative_to(TUXPAINT))
            out.append(Stamp(rel, caps, spoken, sound))
    return tuple(sorted(out, key=lambda s: s.id))
