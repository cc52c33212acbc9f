"""Text normalisers for WER/CER, re-implementing the behaviour of openai/whisper's normalisers.

`EnglishTextNormalizer` follows whisper/normalizers/english.py step by step (lowercase, drop
bracketed text and fillers, expand contractions and titles, spelled numbers -> digits, British ->
American spelling, strip symbols); `BasicTextNormalizer` follows whisper/normalizers/basic.py
(for any language: NFKC, symbols and punctuation -> spaces, optional diacritic removal).

Written from the documented behaviour, not copied. Known differences from Whisper:
- the British->American table is a small built-in one (~300 forms generated from ~120 stems),
  not Whisper's 1,700-entry english.json;
- the number normaliser covers cardinals up to trillions, digit sequences ("one oh one" -> 101),
  years ("nineteen ninety" -> 1990), decimals ("point five" -> 0.5; Whisper writes .5), ordinals,
  plurals ("sixties" -> 60s), digits with multipliers ("1.5 million" -> 1500000),
  "percent", currencies and signs; it does not do "and a half" or "double/triple" digits;
- curly apostrophes are mapped to "'" first, so "don’t" expands like "don't" (Whisper splits it).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from fractions import Fraction
from typing import Callable, Iterator

from qwenlike.errors import UserError

# Letters that NFKD does not decompose but that Whisper still maps to ASCII when removing diacritics.
_EXTRA_DIACRITICS = {
    "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ẞ": "SS",
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "th", "ł": "l", "Ł": "L",
}
_BRACKETS = re.compile(r"[<\[][^>\]]*[>\]]")  # [noise], <unk>
_PARENS = re.compile(r"\(([^)]+?)\)")  # (laughs)


def remove_symbols_and_diacritics(s: str, keep: str = "") -> str:
    """NFKD, drop combining marks, map a few extra letters to ASCII, symbols/punctuation -> space."""
    out = []
    for c in unicodedata.normalize("NFKD", s):
        if c in keep:
            out.append(c)
        elif c in _EXTRA_DIACRITICS:
            out.append(_EXTRA_DIACRITICS[c])
        elif unicodedata.category(c) == "Mn":
            continue
        elif unicodedata.category(c)[0] in "MSP":
            out.append(" ")
        else:
            out.append(c)
    return "".join(out)


def remove_symbols(s: str) -> str:
    """NFKC, then every mark, symbol and punctuation character becomes a space (keeps diacritics)."""
    return "".join(" " if unicodedata.category(c)[0] in "MSP" else c for c in unicodedata.normalize("NFKC", s))


class BasicTextNormalizer:
    """Language-independent normaliser (Whisper's BasicTextNormalizer).

    Lowercase, drop [bracketed]/<angled>/(parenthesised) text, NFKC, replace symbols and
    punctuation with spaces (optionally also remove diacritics), collapse whitespace.
    """

    def __init__(self, remove_diacritics: bool = False):
        self.clean: Callable[[str], str] = remove_symbols_and_diacritics if remove_diacritics else remove_symbols

    def __call__(self, s: str) -> str:
        s = s.lower()
        s = _BRACKETS.sub("", s)
        s = _PARENS.sub("", s)
        s = self.clean(s).lower()
        return " ".join(s.split())


# ----------------------------------------------------------------------------------------------
# Spelled numbers -> digits
# ----------------------------------------------------------------------------------------------
_ONES = {w: i for i, w in enumerate(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split(), start=1)}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_MULTIPLIERS = {"hundred": 100, "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_ZEROS = {"zero", "oh", "o"}
_CARDINAL = {**_ONES, **_TENS, **_MULTIPLIERS}


def _ordinal_word(w: str) -> str:
    irregular = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                 "nine": "ninth", "twelve": "twelfth"}
    if w in irregular:
        return irregular[w]
    if w.endswith("y"):
        return w[:-1] + "ieth"
    return w + "th"


def _suffixed_words() -> dict[str, tuple[str, str]]:
    """Ordinals and plurals ("first", "twentieth", "sixties", "hundreds") -> (cardinal, suffix)."""
    out = {"zeroth": ("zero", "th")}
    for w in _CARDINAL:
        ordinal = _ordinal_word(w)
        out[ordinal] = (w, {"first": "st", "second": "nd", "third": "rd"}.get(ordinal, "th"))
        plural = "sixes" if w == "six" else w[:-1] + "ies" if w.endswith("y") else w + "s"
        out[plural] = (w, "s")
    return out


# Suffixed number words end a number: "twenty first" -> 21st, "nineteen sixties" -> 1960s.
_SUFFIXED = _suffixed_words()

_CURRENCY = {"dollar": "$", "dollars": "$", "pound": "£", "pounds": "£", "euro": "€", "euros": "€",
             "cent": "¢", "cents": "¢"}
_SIGNS = {"minus": "-", "negative": "-", "plus": "+", "positive": "+"}
_NUMERIC = re.compile(r"^\d+(\.\d+)?$")


def _is_number_word(w: str | None) -> bool:
    return w is not None and (w in _CARDINAL or w in _SUFFIXED or w == "zero" or bool(_NUMERIC.match(w)))


def _digits(words: list[str]) -> str:
    """Spelled cardinal words (no suffixes) -> digit string.

    Compositional numbers accumulate ("two hundred and five" -> 205); a word that cannot extend the
    current number starts a new one and the pieces are concatenated, which is how people say years,
    phone and room numbers ("nineteen ninety" -> 1990, "one oh one" -> 101).
    """
    pieces: list[str] = []
    # Fractions, so that "1.5 million" is exactly 1500000
    total, cur = Fraction(0), Fraction(0)
    active = False
    last = ""  # kind of the previous word: one, teen, ten, hundred, big, zero, digits

    def flush() -> None:
        nonlocal total, cur, active
        if active:
            v = total + cur
            pieces.append(str(v.numerator) if v.denominator == 1
                          else str(Decimal(v.numerator) / Decimal(v.denominator)))
        total, cur = Fraction(0), Fraction(0)
        active = False

    for w in words:
        if w in _ZEROS:
            flush()
            pieces.append("0")
            last = "zero"
        elif _NUMERIC.match(w):  # digits already written inside a spelled run, e.g. "20 million"
            flush()
            cur, active, last = Fraction(w), True, "digits"
        elif w in _ONES:
            v = _ONES[w]
            if active and (last in ("one", "teen", "digits") or (v >= 10 and last == "ten")):
                flush()
            cur += v
            active, last = True, ("teen" if v >= 10 else "one")
        elif w in _TENS:
            if active and last in ("one", "teen", "ten", "digits"):
                flush()
            cur += _TENS[w]
            active, last = True, "ten"
        elif w == "hundred":
            if active and cur >= 100:
                flush()
            cur = (cur or 1) * 100
            active, last = True, "hundred"
        else:  # thousand, million, ...
            m = _MULTIPLIERS[w]
            if 0 < total < m:  # "two thousand million": scale everything so far
                total = (total + cur) * m
            else:
                total += (cur or (0 if total else 1)) * m
            cur = 0
            active, last = True, "big"
    flush()
    return "".join(pieces)


class EnglishNumberNormalizer:
    """Spelled-out English numbers -> arabic digits, keeping suffixes ("twenty first" -> 21st),
    currencies ("five dollars" -> $5), percentages ("ten percent" -> 10%) and signs."""

    def _runs(self, words: list[str]) -> Iterator[str]:
        i, n = 0, len(words)
        while i < n:
            w = words[i]
            sign = ""
            if w in _SIGNS and i + 1 < n and _is_number_word(words[i + 1]):
                sign, i, w = _SIGNS[w], i + 1, words[i + 1]
            elif w[:1] in "$£€" and _NUMERIC.match(w[1:]) and i + 1 < n and words[i + 1] in _MULTIPLIERS:
                sign, w = w[0], w[1:]  # "$20 million" -> $20000000
                words[i] = w
            starts_run = w in _CARDINAL or w in _SUFFIXED or w == "zero" or (
                _NUMERIC.match(w) is not None and i + 1 < n and words[i + 1] in _MULTIPLIERS)
            if w == "point" and i + 1 < n and (words[i + 1] in _ONES or words[i + 1] in _ZEROS):
                starts_run = True
            if not starts_run:
                if sign:
                    yield words[i - 1]
                yield w
                i += 1
                continue
            # Collect the run: cardinal words, "oh" between number words, "and" after a multiplier.
            run: list[str] = []
            start = i
            suffix = ""
            decimal: list[str] | None = None
            while i < n:
                w = words[i]
                nxt = words[i + 1] if i + 1 < n else None
                if decimal is None and (w in _CARDINAL or (_NUMERIC.match(w) and not run)):
                    run.append(w)
                elif decimal is not None and (w in _ONES or w in _TENS or w in _ZEROS):
                    decimal.append(w)
                elif w in _ZEROS and (run or decimal is not None or w == "zero" or nxt in _CARDINAL or nxt in _ZEROS):
                    (run if decimal is None else decimal).append(w)
                elif (w == "and" and decimal is None and run and run[-1] in _MULTIPLIERS
                      and nxt is not None and (nxt in _ONES or nxt in _TENS or nxt in _SUFFIXED)):
                    pass  # "one hundred and five": the "and" belongs to the number
                elif w in _SUFFIXED and decimal is None:
                    base, suffix = _SUFFIXED[w]
                    run.append(base)
                    i += 1
                    break
                elif w == "point" and decimal is None and nxt is not None and (nxt in _ONES or nxt in _ZEROS):
                    decimal = []
                else:
                    break
                i += 1
            if i == start:  # nothing consumed (cannot happen by construction; guard against a hang)
                yield w
                i += 1
                continue
            value = _digits(run) if run else "0"
            if decimal is not None:
                value += "." + _digits(decimal)
            # What follows the number: percent, currency ("twenty dollars" -> $20).
            nxt = words[i] if i < n else None
            if not suffix and nxt in ("percent", "per") and (nxt == "percent" or (i + 1 < n and words[i + 1] == "cent")):
                value += "%"
                i += 1 if nxt == "percent" else 2
            elif not suffix and nxt in _CURRENCY:
                value = _CURRENCY[nxt] + value
                i += 1
            yield sign + value + suffix

    def __call__(self, s: str) -> str:
        # Split letter/digit boundaries, then re-attach ordinal/plural suffixes (10th, 1960s).
        s = re.sub(r"([a-z])([0-9])", r"\1 \2", s)
        s = re.sub(r"([0-9])([a-z])", r"\1 \2", s)
        s = re.sub(r"([0-9])\s+(st|nd|rd|th|s)\b", r"\1\2", s)
        s = " ".join(self._runs(s.split()))
        # "$2 and ¢7" -> "$2.07"; "$0.07" stays as written.
        s = re.sub(r"([€£$])([0-9]+) (?:and )?¢([0-9]{1,2})\b",
                   lambda m: f"{m.group(1)}{m.group(2)}.{int(m.group(3)):02d}", s)
        # Whisper writes a lone 1 as "one" ("one of them" must not become "1 of them").
        return re.sub(r"\b1(s?)\b", r"one\1", s)


# ----------------------------------------------------------------------------------------------
# British -> American spelling (small built-in table; Whisper ships a 1,700-entry list)
# ----------------------------------------------------------------------------------------------
def _spelling_table() -> dict[str, str]:
    table: dict[str, str] = {}
    # -our -> -or, with inflections
    for stem in ("colo", "favo", "hono", "humo", "labo", "neighbo", "behavio", "flavo", "harbo", "rumo",
                 "savo", "vapo", "vigo", "armo", "endeavo", "paralo", "odo", "glamo", "cando", "valo", "splendo",
                 "clamo", "tumo", "rigo", "fervo", "ardo", "demeano", "parlo"):
        for end in ("", "s", "ed", "ing", "ful", "less", "ite", "ites", "able", "ably", "ful", "er", "ers"):
            table[stem + "ur" + end] = stem + "r" + end
    for b, a in (("neighbourhood", "neighborhood"), ("neighbourhoods", "neighborhoods"),
                 ("behavioural", "behavioral"), ("favouritism", "favoritism"), ("labourer", "laborer")):
        table[b] = a
    # -re -> -er
    for stem in ("cent", "theat", "met", "lit", "fib", "calib", "sab", "somb", "spect", "lust", "meag",
                 "kilomet", "centimet", "millimet", "manoeuv"):
        for end in ("", "s", "d"):
            table[stem + "re" + end] = stem + "er" + end
    table["manoeuvre"] = "maneuver"
    table["manoeuvres"] = "maneuvers"
    table["manoeuvred"] = "maneuvered"
    # -ise -> -ize (verbs and -isation nouns)
    for stem in ("organ", "real", "recogn", "apolog", "author", "categor", "critic", "emphas", "final",
                 "general", "harmon", "memor", "minim", "maxim", "modern", "normal", "optim", "prior",
                 "special", "standard", "summar", "symbol", "util", "visual", "civil", "colon", "custom",
                 "econom", "familiar", "fertil", "global", "hospital", "legal", "mobil", "neutral",
                 "personal", "popular", "character", "capital", "central", "initial", "synchron",
                 "agon", "antagon", "fantas", "sympath", "patron", "scrutin", "terror", "vapor"):
        for b, a in (("ise", "ize"), ("ised", "ized"), ("ises", "izes"), ("ising", "izing"),
                     ("isation", "ization"), ("isations", "izations"), ("iser", "izer"), ("isers", "izers")):
            table[stem + b] = stem + a
    # -yse -> -yze
    for stem in ("anal", "paral", "catal", "breathal"):
        for b, a in (("yse", "yze"), ("ysed", "yzed"), ("yses", "yzes"), ("ysing", "yzing")):
            table[stem + b] = stem + a
    table["analyses"] = "analyses"  # plural of analysis is the same in both
    # doubled l before a suffix
    for stem in ("travel", "cancel", "model", "label", "fuel", "signal", "level", "total", "channel",
                 "counsel", "dial", "duel", "equal", "marvel", "quarrel", "shovel", "tunnel", "jewel", "panel"):
        for end in ("led", "ling", "ler", "lers"):
            table[stem + end] = stem + end[1:]
    table["jewellery"] = "jewelry"
    table["marvellous"] = "marvelous"
    # single words
    table.update({
        "programme": "program", "programmes": "programs", "catalogue": "catalog", "catalogues": "catalogs",
        "dialogue": "dialog", "analogue": "analog", "defence": "defense", "offence": "offense",
        "licence": "license", "pretence": "pretense", "grey": "gray", "greys": "grays", "tyre": "tire",
        "tyres": "tires", "kerb": "curb", "aluminium": "aluminum", "mould": "mold", "moulds": "molds",
        "mouldy": "moldy", "plough": "plow", "ploughs": "plows", "cheque": "check", "cheques": "checks",
        "paediatric": "pediatric", "encyclopaedia": "encyclopedia", "anaemia": "anemia",
        "anaesthetic": "anesthetic", "oestrogen": "estrogen", "aeroplane": "airplane",
        "aeroplanes": "airplanes", "ageing": "aging", "judgement": "judgment", "fulfil": "fulfill",
        "fulfils": "fulfills", "enrol": "enroll", "enrols": "enrolls", "skilful": "skillful",
        "wilful": "willful", "instalment": "installment", "enrolment": "enrollment", "distil": "distill",
        "practise": "practice", "practised": "practiced", "practising": "practicing", "sceptical": "skeptical",
        "sceptic": "skeptic", "storey": "story", "storeys": "stories", "pyjamas": "pajamas",
        "moustache": "mustache", "draught": "draft", "draughts": "drafts", "gaol": "jail", "doughnut": "donut",
        "cosy": "cozy", "artefact": "artifact", "artefacts": "artifacts", "axe": "ax", "whisky": "whiskey",
        "learnt": "learned", "spelt": "spelled", "dreamt": "dreamed", "burnt": "burned", "smelt": "smelled",
        "towards": "toward", "afterwards": "afterward", "amongst": "among", "whilst": "while",
        "mum": "mom", "mums": "moms", "oesophagus": "esophagus", "foetus": "fetus", "manoeuvring": "maneuvering",
    })
    return table


SPELLINGS: dict[str, str] = _spelling_table()

# Contractions, titles and colloquialisms, applied in this order (specific before general).
_REPLACERS: list[tuple[re.Pattern[str], str]] = [(re.compile(p), r) for p, r in [
    (r"\bwon't\b", "will not"), (r"\bcan't\b", "can not"), (r"\blet's\b", "let us"), (r"\bain't\b", "aint"),
    (r"\by'all\b", "you all"), (r"\bwanna\b", "want to"), (r"\bgotta\b", "got to"), (r"\bgonna\b", "going to"),
    (r"\bi'ma\b", "i am going to"), (r"\bimma\b", "i am going to"), (r"\bwoulda\b", "would have"),
    (r"\bcoulda\b", "could have"), (r"\bshoulda\b", "should have"), (r"\bma'am\b", "madam"),
    (r"\bmr\b", "mister "), (r"\bmrs\b", "missus "), (r"\bst\b", "saint "), (r"\bdr\b", "doctor "),
    (r"\bprof\b", "professor "), (r"\bcapt\b", "captain "), (r"\bgov\b", "governor "), (r"\bald\b", "alderman "),
    (r"\bgen\b", "general "), (r"\bsen\b", "senator "), (r"\brep\b", "representative "),
    (r"\bpres\b", "president "), (r"\brev\b", "reverend "), (r"\bhon\b", "honorable "),
    (r"\basst\b", "assistant "), (r"\bassoc\b", "associate "), (r"\blt\b", "lieutenant "),
    (r"\bcol\b", "colonel "), (r"\bjr\b", "junior "), (r"\bsr\b", "senior "), (r"\besq\b", "esquire "),
    # perfect tenses, where "'s"/"'d" is has/had rather than is/would
    (r"'d been\b", " had been"), (r"'s been\b", " has been"), (r"'d gone\b", " had gone"),
    (r"'s gone\b", " has gone"), (r"'d done\b", " had done"), (r"'s got\b", " has got"),
    (r"n't\b", " not"), (r"'re\b", " are"), (r"'s\b", " is"), (r"'d\b", " would"), (r"'ll\b", " will"),
    (r"'t\b", " not"), (r"'ve\b", " have"), (r"'m\b", " am"),
]]
_FILLERS = re.compile(r"\b(hmm|mm|mhm|mmm|uh|um)\b")


class EnglishTextNormalizer:
    """Whisper-style English normaliser: the text is compared after this on both sides of WER."""

    def __init__(self) -> None:
        self.numbers = EnglishNumberNormalizer()

    def __call__(self, s: str) -> str:
        s = s.lower().replace("\u2019", "'").replace("\u2018", "'")
        s = _BRACKETS.sub("", s)
        s = _PARENS.sub("", s)
        s = _FILLERS.sub("", s)
        s = re.sub(r"\s+'", "'", s)  # "don 't" -> "don't"
        for pattern, replacement in _REPLACERS:
            s = pattern.sub(replacement, s)
        s = re.sub(r"(\d),(\d)", r"\1\2", s)  # 1,000 -> 1000
        s = re.sub(r"\.([^0-9]|$)", r" \1", s)  # periods that are not decimal points
        s = remove_symbols_and_diacritics(s, keep=".%$¢€£")  # keep the symbols numbers use
        s = self.numbers(s)
        s = " ".join(SPELLINGS.get(w, w) for w in s.split())
        s = re.sub(r"([$¢€£])\s+([0-9])", r"\1\2", s)  # attach currency and percent to their numbers
        s = re.sub(r"([0-9])\s+%", r"\1%", s)
        s = re.sub(r"[.$¢€£]([^0-9])", r" \1", s)  # then drop the ones not next to a number
        s = re.sub(r"[.$¢€£]$", " ", s)
        s = re.sub(r"([^0-9])%", r"\1 ", s)
        return " ".join(s.split())


def get_normalizer(name: str | Callable[[str], str] | None) -> Callable[[str], str]:
    """'english' | 'basic' | 'basic_no_diacritics' | None (whitespace only) | a callable."""
    if callable(name):
        return name
    if name is None or name == "none":
        return lambda s: " ".join(s.split())
    if name == "english":
        return EnglishTextNormalizer()
    if name == "basic":
        return BasicTextNormalizer()
    if name == "basic_no_diacritics":
        return BasicTextNormalizer(remove_diacritics=True)
    raise UserError(f"unknown normalizer {name!r}; use 'english', 'basic', 'basic_no_diacritics' or None")
