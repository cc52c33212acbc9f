"""A tiny, safe templating language for task prompts and answers.

`{field}` reads a row field, `{meta.key}` a key of the row's parsed `meta` JSON, and
`{field|filter}` passes the value through one of FILTERS. `{{` and `}}` are literal braces.
Nothing else is evaluated (no attribute access, no indexing, no code): a template from a user's
YAML file can only read the fields its task declares, and that is checked when the file loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

# ISO 639-1 -> English name; the names the language_id answers and translation prompts use
LANGUAGE_NAMES = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "az": "Azerbaijani", "be": "Belarusian",
    "bg": "Bulgarian", "bn": "Bengali", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech", "cy": "Welsh",
    "da": "Danish", "de": "German", "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French", "ga": "Irish",
    "gd": "Scottish Gaelic", "gl": "Galician", "gu": "Gujarati", "he": "Hebrew", "hi": "Hindi",
    "hr": "Croatian", "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "is": "Icelandic",
    "it": "Italian", "ja": "Japanese", "ka": "Georgian", "kk": "Kazakh", "km": "Khmer", "kn": "Kannada",
    "ko": "Korean", "la": "Latin", "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian",
    "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi", "ms": "Malay", "mt": "Maltese", "my": "Burmese",
    "nb": "Norwegian", "ne": "Nepali", "nl": "Dutch", "no": "Norwegian", "pa": "Punjabi", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian",
    "sq": "Albanian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "te": "Telugu",
    "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek",
    "vi": "Vietnamese", "yue": "Cantonese", "zh": "Chinese", "zu": "Zulu",
}  # fmt: skip


def language_name(code: str) -> str:
    """'fr' -> 'French'; an unknown code is returned as is (a user's corpus may use its own)."""
    return LANGUAGE_NAMES.get(str(code).lower(), str(code))


def language_tag(code: str) -> str:
    """The audio/text language slot of a Qwen-Audio tag sequence: the code, or 'unknown'."""
    return str(code).lower() if code else "unknown"


FILTERS: dict[str, Callable[[str], str]] = {
    "language_name": language_name,
    "tag": language_tag,
    "lower": str.lower,
    "upper": str.upper,
    "capitalize": lambda s: s[:1].upper() + s[1:],
    "lowerfirst": lambda s: s[:1].lower() + s[1:],  # a question spliced mid-sentence
    "strip": str.strip,
}

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_FIELD = re.compile(r"^(meta\.)?([A-Za-z_][A-Za-z0-9_]*)((?:\|[A-Za-z_]+)*)$")


@dataclass(frozen=True)
class Ref:
    """One `{...}` reference: a row field or a meta key, and its filters."""

    name: str
    meta: bool
    filters: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"meta.{self.name}" if self.meta else self.name


class TemplateError(ValueError):
    """A template that does not parse; the task loader turns it into a UserError naming the file."""


class Template:
    """A parsed template: literal text and field references, rendered against a row."""

    def __init__(self, source: str):
        if not isinstance(source, str):
            raise TemplateError(f"template must be a string, got {type(source).__name__}: {source!r}")
        self.source = source
        self.parts: list[str | Ref] = []
        pos = 0
        for m in _TOKEN.finditer(source):
            if m.start() > pos:
                self.parts.append(source[pos : m.start()])
            tok = m.group(0)
            if tok in ("{{", "}}"):
                self.parts.append(tok[0])
            elif m.group(1) is None:
                raise TemplateError(
                    f"unbalanced {tok!r} at character {m.start()} of {source!r} (write {tok * 2} for a literal)"
                )
            else:
                f = _FIELD.match(m.group(1).strip())
                if not f:
                    raise TemplateError(
                        f"bad reference {{{m.group(1)}}} in {source!r}: use {{field}}, {{meta.key}} or {{field|filter}}"
                    )
                filters = tuple(x for x in f.group(3).split("|") if x)
                for x in filters:
                    if x not in FILTERS:
                        raise TemplateError(f"unknown filter {x!r} in {source!r} (known: {', '.join(sorted(FILTERS))})")
                self.parts.append(Ref(f.group(2), bool(f.group(1)), filters))
            pos = m.end()
        if pos < len(source):
            self.parts.append(source[pos:])

    @property
    def refs(self) -> list[Ref]:
        return [p for p in self.parts if isinstance(p, Ref)]

    def render(self, row: Mapping[str, Any], meta: Mapping[str, Any]) -> str:
        """Fill the template; a missing field raises KeyError with the reference's key."""
        out = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
                continue
            src = meta if p.meta else row
            if p.name not in src or src[p.name] is None:
                raise KeyError(p.key)
            v = src[p.name]
            v = format(v, "g") if isinstance(v, float) else str(v)
            for f in p.filters:
                v = FILTERS[f](v)
            out.append(v)
        return "".join(out)

    def __repr__(self) -> str:
        return f"Template({self.source!r})"
