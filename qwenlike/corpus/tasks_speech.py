"""Generators of the speech tasks (1-16 and 30 of TASKS.md).

Each generator is `gen(split, index, rng) -> Example`. Held-out atoms: sentences, templates,
names and stamps are partitioned by `common.partition`; espeak-ng, MBROLA and Pico voices too.
Piper has a single voice ("joe"), so it is shared by all splits and is never a group atom.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Callable

import numpy as np

from . import recordings, speech, text
from .common import (SR, Example, SourceMissing, balanced, build_voices, choice, file_digest, fit_length, partition, pool_for,
                     trim)
from .mix import augment

LANG_NAMES = speech.LANGUAGES


# ---------------------------------------------------------------------------------------------
# pools (computed once per process; identical everywhere the same packages are installed)
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def voice_parts() -> dict[str, list[speech.Voice]]:
    """English voices split by voice; Piper (one voice) is added to every split."""
    vs = [v for v in speech.english_voices() if v.engine != "piper"]
    parts = partition(vs, key=lambda v: v.id, strata=lambda v: f"{v.engine}:{v.gender}" if v.engine == "espeak" else v.engine)
    shared = [v for v in speech.english_voices() if v.engine == "piper"]
    return {s: parts[s] + shared for s in parts}


def held(v: speech.Voice) -> list[str]:
    """The voice as a group atom, unless it is shared by all splits."""
    return [] if v.engine == "piper" else [f"voice:{v.id}"]


@lru_cache(maxsize=1)
def world_voice_parts() -> dict[str, list[speech.Voice]]:
    """MBROLA voices of other languages split by voice, within each language and gender: a test
    voice is unseen in training wherever its language has two voices of its gender."""
    return partition(list(speech.world_voices()), key=lambda v: v.id, strata=lambda v: f"{v.lang}:{v.gender}")


def world_voices_for(split: str) -> list[speech.Voice]:
    """This split's MBROLA voices of other languages; none unless the build has `--voices multilingual`."""
    return pool_for(world_voice_parts(), split) if build_voices() == "multilingual" else []


@lru_cache(maxsize=1)
def sentence_parts() -> dict[str, list[text.Sentence]]:
    return partition(text.sentences(), key=lambda s: s.id)


@lru_cache(maxsize=1)
def short_sentence_parts() -> dict[str, list[text.Sentence]]:
    return partition([s for s in text.sentences() if len(s.text.split()) <= 9], key=lambda s: s.id)


@lru_cache(maxsize=1)
def variant_parts() -> dict[str, list[str]]:
    """espeak-ng variants split by name: a test variant is unseen in every language and accent."""
    return partition([v[0] for v in speech.VARIANTS], key=lambda v: v, strata=lambda v: dict(
        (n, f"{g}:{a}") for n, g, a in speech.VARIANTS)[v])


def _voices(split: str, engines: tuple[str, ...] = ("espeak", "mbrola", "pico", "piper")) -> list[speech.Voice]:
    vs = [v for v in pool_for(voice_parts(), split) if v.engine in engines]
    if not vs:
        raise SourceMissing(f"no TTS voice of {engines} installed")
    return vs


def pick_voice(rng: np.random.Generator, split: str, engines: tuple[str, ...] = ("espeak", "mbrola", "pico", "piper")) -> speech.Voice:
    """Pick an engine first (so the single Piper voice is not drowned by 300 espeak voices)."""
    vs = _voices(split, engines)
    have = sorted({v.engine for v in vs})
    eng = choice(rng, have)
    return choice(rng, [v for v in vs if v.engine == eng])


def _say(v: speech.Voice, words: str, rng: np.random.Generator, **kw) -> np.ndarray:
    # MBROLA diphones smear at espeak's default rate and off their recorded pitch: keep them a
    # little slower and at their own pitch unless a task asks for prosody.
    rate = kw.pop("rate", float(rng.uniform(0.82, 0.95) if v.engine == "mbrola" else rng.uniform(0.85, 1.15)))
    pitch = kw.pop("pitch", int(rng.integers(35, 66)) if v.engine == "espeak" else None)
    return speech.synth(v, words, rate=rate, pitch=pitch, **kw)


def _src(v: speech.Voice) -> str:
    return f"speech.{v.engine}"


def _example(wav: np.ndarray, rng: np.random.Generator, p_aug: float = 1.0, **kw) -> Example:
    wav, fx = augment(rng, wav, p_noise=0.3 * p_aug, p_reverb=0.2 * p_aug, p_phone=0.1 * p_aug)
    meta = kw.pop("meta", {})
    if fx:
        meta["augment"] = fx
    return Example(audio=wav, meta=meta, **kw)


# ---------------------------------------------------------------------------------------------
# 1 asr
# ---------------------------------------------------------------------------------------------
def _words(t: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]", " ", t.lower()).split())


@lru_cache(maxsize=1)
def asr_train_sentences() -> list[text.Sentence]:
    """Train-only natural sentences for transcription: every clean sentence of more fortunes files
    (text.fortune_split_sentences), minus any that equals, contains or is contained in a validation or
    test sentence of the speech tasks. A 2-hour corpus of ~2,000 distinct words teaches its own
    repeated words, not English (docs/reports/ctc-readout)."""
    held = [_words(s.text) for sp in ("validation", "test") for s in sentence_parts()[sp]]
    train = {s.id for s in sentence_parts()["train"]}
    out = []
    for s in text.fortune_split_sentences():
        w = _words(s.text)
        if s.id in train or any(w in h or h in w for h in held):
            continue
        out.append(s)
    return out


@lru_cache(maxsize=1)
def english_word_recordings() -> dict[str, list[recordings.Recording]]:
    """KLettres' English sounds split by file; KTuberling's English words keep the split they have in
    language id (word_recording_parts), or a word held out there could be a transcription train clip."""
    parts = partition([r for r in recordings.klettres_sounds() if r.lang in ("en", "en_GB") and r.text], key=lambda r: r.id,
                      content=lambda r: [file_digest(r.path)])
    for split, recs in word_recording_parts().items():
        parts[split] += [r for r in recs if r.lang == "en" and r.text]
    return parts


def asr(split: str, i: int, rng: np.random.Generator) -> Example:
    recs = pool_for(english_word_recordings(), split)
    if recs and rng.random() < 0.15:
        r = choice(rng, recs)
        wav = trim(recordings_load(r.path))
        return _example(wav, rng, answer=r.text, text=r.text, language="en", voice=f"{r.source}:en",
                        source=f"recordings.{r.source}", group=[f"rec:{r.id}"], meta={"kind": "word"})
    more = asr_train_sentences() if split == "train" else []
    # Training draws half its sentences from the larger train-only pool; held-out splits are as before.
    s = choice(rng, more) if more and rng.random() < 0.5 else choice(rng, pool_for(sentence_parts(), split))
    v = pick_voice(rng, split)
    wav = _say(v, s.text, rng)
    return _example(wav, rng, answer=s.text, text=s.text, language="en", voice=v.id, source=_src(v),
                    group=[s.id] + held(v), meta={"engine": v.engine, "sentence_source": s.source})


def recordings_load(path: str) -> np.ndarray:
    from .common import load_audio

    return load_audio(path)


# ---------------------------------------------------------------------------------------------
# 2 asr_timestamps
# ---------------------------------------------------------------------------------------------
def asr_timestamps(split: str, i: int, rng: np.random.Generator) -> Example:
    s = choice(rng, pool_for(short_sentence_parts(), split))
    v = pick_voice(rng, split)
    words = [w for w in re.sub(r"[^A-Za-z' -]", " ", s.text).split() if re.search(r"[A-Za-z]", w)]
    rate = float(rng.uniform(0.9, 1.1))
    pitch = int(rng.integers(40, 61)) if v.engine in ("espeak", "mbrola") else None
    pieces = [np.zeros(int(rng.uniform(0.1, 0.4) * SR), np.float32)]
    t = len(pieces[0]) / SR
    spans = []
    for w in words:
        wav = trim(speech.synth(v, w, rate=rate, pitch=pitch), thresh_db=-40, pad=0.0)
        spans.append({"word": w, "start": round(t, 2), "end": round(t + len(wav) / SR, 2)})
        gap = np.zeros(int(rng.uniform(0.08, 0.3) * SR), np.float32)
        pieces += [wav, gap]
        t += (len(wav) + len(gap)) / SR
    wav = np.concatenate(pieces)
    answer = ", ".join(f"{w['start']:.2f}-{w['end']:.2f} {w['word']}" for w in spans)
    transcript = " ".join(words)
    return _example(wav, rng, p_aug=0.5, answer=answer, text=transcript, language="en", voice=v.id,
                    source=_src(v), group=[s.id] + held(v), meta={"words": spans})


# ---------------------------------------------------------------------------------------------
# 3 speech_translation, 4 language_id
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def stamp_parts() -> dict[str, list[recordings.Stamp]]:
    stamps = [s for s in recordings.tuxpaint_stamps() if len(s.captions) >= 5]
    if not stamps:
        raise SourceMissing("tuxpaint-stamps-default (captions)")
    return partition(stamps, key=lambda s: s.id, content=_stamp_content)


def _stamp_content(st: recordings.Stamp) -> list:
    """What a stamp is made of: its spoken descriptions and its captions. Tux Paint ships look-alike
    stamps (crown1/crown2, a filled and an outlined letter) with the same recording or the same words
    ("A rocket.", "La lettre g."); a test stamp with any of them would be a train item under a new name."""
    said = [file_digest(p) for p in st.spoken.values()]
    return said + [(lang, " ".join(re.findall(r"\w+", c.casefold()))) for lang, c in st.captions.items()]


def speech_translation(split: str, i: int, rng: np.random.Generator) -> Example:
    stamps = pool_for(stamp_parts(), split)
    targets = sorted(l for l in LANG_NAMES if l != "en")
    if rng.random() < 0.5:
        # real speech in another language -> English caption
        cands = [s for s in stamps if any(l != "en" and l in LANG_NAMES for l in s.spoken)]
        st = choice(rng, cands)
        src = choice(rng, sorted(l for l in st.spoken if l != "en" and l in LANG_NAMES))
        wav = trim(recordings_load(st.spoken[src]))
        tgt, voice, source, said = "en", f"tuxpaint:{src}", "recordings.tuxpaint", st.captions.get(src, "")
    else:
        # English TTS of the caption -> caption in a target language
        tgt = choice(rng, targets)
        cands = [s for s in stamps if tgt in s.captions]
        st = choice(rng, cands)
        v = pick_voice(rng, split)
        wav = _say(v, st.captions["en"], rng)
        src, voice, source, said = "en", v.id, _src(v), st.captions["en"]
    answer = st.captions[tgt]
    meta = {"source_language": src, "target_language": tgt, "stamp": st.id,
            "question": f"Translate the speech into {LANG_NAMES[tgt]}."}
    group = [f"stamp:{st.id}"] + ([f"voice:{voice}"] if voice.startswith(("espeak", "mbrola", "pico")) else [])
    return _example(wav, rng, p_aug=0.5, answer=answer, text=said, language=src, voice=voice, source=source,
                    group=group, meta=meta)


@lru_cache(maxsize=1)
def word_recording_parts() -> dict[str, list[recordings.Recording]]:
    recs = [r for r in recordings.ktuberling_words() if r.lang in speech.LID_LANGUAGES]
    # the same word is held out in every language
    return partition(recs, key=lambda r: r.key or r.id, content=lambda r: [file_digest(r.path)])


LID_SECONDS = (3.0, 6.0)  # speech per language-id clip: a few utterances, as LID benchmarks use (FLEURS ~10 s)
LID_MAX_UTTERANCES = 6
LID_MAX_SECONDS = 10.0  # an utterance that would run past this is left out (training recipes drop clips over 12 s)


def _run_on(rng: np.random.Generator, draw: Callable[[], tuple[np.ndarray, str, list[str]]]) -> tuple[np.ndarray, str, list[str]]:
    """One speaker's utterances, drawn by `draw()` until the clip holds LID_SECONDS of speech, joined
    by short pauses: a single caption or word (0.5-1.5 s) is too little to tell Italian from Spanish.
    An utterance that would take the clip past LID_MAX_SECONDS is passed over for another."""
    target = float(rng.uniform(*LID_SECONDS)) * SR
    parts: list[np.ndarray] = []
    texts: list[str] = []
    groups: list[str] = []
    length = 0
    for _ in range(4 * LID_MAX_UTTERANCES):
        if parts and (length >= target or len(texts) >= LID_MAX_UTTERANCES):
            break
        wav, text, group = draw()
        pause = np.zeros(int(rng.uniform(0.15, 0.45) * SR) if parts else 0, np.float32)
        if parts and length + len(pause) + len(wav) > LID_MAX_SECONDS * SR:
            continue
        parts += [pause, wav]
        length += len(pause) + len(wav)
        texts.append(text)
        groups += [g for g in group if g not in groups]
    return np.concatenate(parts), " ".join(t for t in texts if t), groups


def language_id(split: str, i: int, rng: np.random.Generator) -> Example:
    lang = balanced(sorted(speech.LID_LANGUAGES), "language_id", split, i)
    label = speech.LID_LANGUAGES[lang]
    stamps = pool_for(stamp_parts(), split)
    captioned = [s for s in stamps if lang in s.captions]
    world = [v for v in world_voices_for(split) if v.lang == lang]
    mode = int(rng.integers(4 if build_voices() == "multilingual" else 3))

    def read_by(v: speech.Voice, extra: list[str]) -> Callable[[], tuple[np.ndarray, str, list[str]]]:
        def draw() -> tuple[np.ndarray, str, list[str]]:
            st = choice(rng, captioned)
            return _say(v, st.captions[lang], rng), st.captions[lang], [f"stamp:{st.id}"] + extra
        return draw

    if mode == 3 and world:  # --voices multilingual: an MBROLA voice of the language reads captions
        v = choice(rng, world)
        wav, text, group = _run_on(rng, read_by(v, held(v)))
        return _example(wav, rng, p_aug=0.5, answer=label, label=label, text=text, language=lang,
                        voice=v.id, source="speech.mbrola", group=group, meta={"kind": "tts"})
    spoken = [s for s in stamps if lang in s.spoken]
    words = [r for r in pool_for(word_recording_parts(), split) if r.lang == lang]
    if mode == 1 and spoken:
        def described() -> tuple[np.ndarray, str, list[str]]:
            st = choice(rng, spoken)
            return trim(recordings_load(st.spoken[lang])), st.captions.get(lang, ""), [f"stamp:{st.id}"]
        wav, text, group = _run_on(rng, described)
        return _example(wav, rng, p_aug=0.5, answer=label, label=label, text=text, language=lang,
                        voice=f"tuxpaint:{lang}", source="recordings.tuxpaint", group=group,
                        meta={"kind": "recorded descriptions"})
    if mode == 2 and words:
        def said() -> tuple[np.ndarray, str, list[str]]:
            r = choice(rng, words)
            return trim(recordings_load(r.path)), r.text, [f"word:{r.key}"]
        wav, text, group = _run_on(rng, said)
        return _example(wav, rng, p_aug=0.5, answer=label, label=label, text=text, language=lang,
                        voice=f"ktuberling:{lang}", source="recordings.ktuberling", group=group,
                        meta={"kind": "recorded words"})
    var = choice(rng, pool_for(variant_parts(), split))
    v = next(x for x in speech.language_voices() if x.id == f"espeak:{lang}+{var}")
    wav, text, group = _run_on(rng, read_by(v, [f"variant:{var}"]))
    return _example(wav, rng, p_aug=0.5, answer=label, label=label, text=text, language=lang,
                    voice=v.id, source="speech.espeak", group=group, meta={"kind": "tts"})


# ---------------------------------------------------------------------------------------------
# 5-8 voice attributes
# ---------------------------------------------------------------------------------------------
def accent_id(split: str, i: int, rng: np.random.Generator) -> Example:
    accent_code = balanced(sorted(speech.ACCENTS), "accent_id", split, i)
    var = choice(rng, pool_for(variant_parts(), split))
    v = speech.Voice(f"espeak:{accent_code}+{var}", "espeak", accent_code, "", "", speech.ACCENTS[accent_code],
                     f"{accent_code}+{var}")
    s = choice(rng, pool_for(sentence_parts(), split))
    wav = _say(v, s.text, rng)
    label = speech.ACCENTS[accent_code]
    return _example(wav, rng, p_aug=0.5, answer=label, label=label, text=s.text, language="en", voice=v.id,
                    source="speech.espeak", group=[s.id, f"variant:{var}"], meta={"espeak_voice": v.arg})


def speaker_gender(split: str, i: int, rng: np.random.Generator) -> Example:
    gender = balanced(["female", "male"], "speaker_gender", split, i)
    vs = [v for v in _voices(split) if v.gender == gender]
    # --voices multilingual: MBROLA's voices of other languages join the MBROLA pool (one or two
    # English MBROLA voices of a gender become a dozen), each reading a Tux Paint caption in its language.
    vs += [v for v in world_voices_for(split) if v.gender == gender]
    eng = choice(rng, sorted({v.engine for v in vs}))
    v = choice(rng, [x for x in vs if x.engine == eng])
    if v.lang in speech.LANGUAGES and v.lang != "en":
        st = choice(rng, [x for x in pool_for(stamp_parts(), split) if v.lang in x.captions])
        said, lang, group = st.captions[v.lang], v.lang, [f"stamp:{st.id}"]
    else:
        s = choice(rng, pool_for(sentence_parts(), split))
        said, lang, group = s.text, "en", [s.id]
    wav = _say(v, said, rng)
    return _example(wav, rng, answer=gender, label=gender, text=said, language=lang, voice=v.id,
                    source=_src(v), group=group + held(v), meta={"engine": v.engine})


def speaker_age(split: str, i: int, rng: np.random.Generator) -> Example:
    age = balanced(["adult", "child", "elderly"], "speaker_age", split, i)
    variants = pool_for(variant_parts(), split)
    table = {n: (g, a) for n, g, a in speech.VARIANTS}
    want = "elderly" if age == "elderly" else "adult"
    cands = [n for n in variants if table[n][1] == want]
    if not cands:  # a split without such a variant (tiny pools) falls back to train's
        cands = [n for n in variant_parts()["train"] if table[n][1] == want]
    var = choice(rng, cands)
    code = choice(rng, ["en-us", "en-gb"])
    v = speech.Voice(f"espeak:{code}+{var}", "espeak", code, table[var][0], age, speech.ACCENTS[code], f"{code}+{var}")
    s = choice(rng, pool_for(sentence_parts(), split))
    if age == "child":  # weak label: a raised pitch and a quicker rate on an adult voice
        wav = _say(v, s.text, rng, pitch=int(rng.integers(85, 100)), rate=float(rng.uniform(1.05, 1.25)))
    else:
        wav = _say(v, s.text, rng)
    return _example(wav, rng, p_aug=0.5, answer=age, label=age, text=s.text, language="en", voice=v.id,
                    source="speech.espeak", group=[s.id, f"variant:{var}"],
                    meta={"weak_label": True, "how": "espeak-ng variant age / raised pitch for child"})


EMOTION_PROSODY = {  # rate factor range, pitch range, amplitude, punctuation
    "neutral": ((0.95, 1.05), (45, 55), 100, "."),
    "happy": ((1.1, 1.25), (70, 85), 120, "!"),
    "sad": ((0.7, 0.82), (20, 32), 60, "."),
    "angry": ((1.15, 1.3), (50, 62), 190, "!"),
}


def speech_emotion(split: str, i: int, rng: np.random.Generator) -> Example:
    emo = balanced(sorted(EMOTION_PROSODY), "speech_emotion", split, i)
    (r0, r1), (p0, p1), amp, punct = EMOTION_PROSODY[emo]
    v = pick_voice(rng, split, ("espeak", "mbrola"))
    s = choice(rng, pool_for(sentence_parts(), split))
    said = s.text.rstrip(".!?") + punct
    wav = _say(v, said, rng, rate=float(rng.uniform(r0, r1)), pitch=int(rng.integers(p0, p1 + 1)), volume=amp)
    return _example(wav, rng, p_aug=0.5, answer=emo, label=emo, text=said, language="en", voice=v.id,
                    source=_src(v), group=[s.id] + held(v),
                    meta={"weak_label": True, "how": "TTS prosody (rate, pitch, loudness)"})


# ---------------------------------------------------------------------------------------------
# 9-10 speaker pairs and counts
# ---------------------------------------------------------------------------------------------
def speaker_verification(split: str, i: int, rng: np.random.Generator) -> Example:
    same = balanced(["different", "same"], "speaker_verification", split, i) == "same"
    vs = [v for v in _voices(split, ("espeak", "mbrola", "pico"))]
    a = choice(rng, vs)
    if same:
        b = a
    else:
        pool = [v for v in vs if v.id != a.id and (v.gender == a.gender or rng.random() < 0.5)]
        b = choice(rng, pool or [v for v in vs if v.id != a.id])
    sents = pool_for(sentence_parts(), split)
    s1, s2 = choice(rng, sents), choice(rng, sents)
    w1, w2 = _say(a, s1.text, rng), _say(b, s2.text, rng)
    w1, _ = augment(rng, w1, 0.2, 0.1, 0.0)
    w2, _ = augment(rng, w2, 0.2, 0.1, 0.0)
    label = "same" if same else "different"
    return Example(audio=w1, audio2=w2, answer=label, label=label, text=s1.text, language="en",
                   voice=f"{a.id}|{b.id}", source=_src(a), group=sorted({s1.id, s2.id} | set(held(a) + held(b))),
                   meta={"voice1": a.id, "voice2": b.id, "text2": s2.text})


def speaker_count(split: str, i: int, rng: np.random.Generator) -> Example:
    k = int(balanced(["1", "2", "3", "4"], "speaker_count", split, i))
    vs = _voices(split, ("espeak", "mbrola", "pico", "piper"))
    chosen: list[speech.Voice] = []
    while len(chosen) < k:
        v = choice(rng, vs)
        if v.id not in {c.id for c in chosen}:
            chosen.append(v)
    sents = pool_for(short_sentence_parts(), split)
    pieces, turns, group, t = [], [], set(), 0.0
    for v in chosen:
        s = choice(rng, sents)
        wav = _say(v, s.text, rng)
        gap = np.zeros(int(rng.uniform(0.15, 0.5) * SR), np.float32)
        turns.append({"voice": v.id, "start": round(t, 2), "end": round(t + len(wav) / SR, 2), "text": s.text})
        pieces += [wav * np.float32(10 ** (rng.uniform(-3, 3) / 20)), gap]
        t += (len(wav) + len(gap)) / SR
        group |= {s.id, *held(v)}
    wav = np.concatenate(pieces)
    label = str(k)
    return _example(wav, rng, p_aug=0.5, answer=label, label=label, text=" ".join(x["text"] for x in turns),
                    language="en", voice="|".join(v.id for v in chosen), source="speech.mix", group=sorted(group),
                    meta={"turns": turns})


# ---------------------------------------------------------------------------------------------
# 11-14 spoken language understanding
# ---------------------------------------------------------------------------------------------
def keyword_spotting(split: str, i: int, rng: np.random.Generator) -> Example:
    label = balanced(list(text.KEYWORDS) + ["none"], "keyword_spotting", split, i)
    word = choice(rng, text.DISTRACTORS) if label == "none" else label
    v = pick_voice(rng, split)
    wav = _say(v, word, rng)
    wav = fit_length(wav, max(1.0, len(wav) / SR))
    lead = np.zeros(int(rng.uniform(0.0, 0.2) * SR), np.float32)
    wav = np.concatenate([lead, wav])
    return _example(wav, rng, answer=label, label=label, text=word, language="en", voice=v.id, source=_src(v),
                    group=held(v), meta={"word": word})


@lru_cache(maxsize=1)
def intent_parts():
    return partition(text.intent_templates(), key=lambda t: t.id, strata=lambda t: t.kind)


def _fill(template: str, values: dict[str, list[str]], rng: np.random.Generator) -> tuple[str, dict[str, str]]:
    slots: dict[str, str] = {}
    for name in re.findall(r"\{(\w+)\}", template):
        base = name.rstrip("2")
        pool = [x for x in values[base] if x not in slots.values()]
        slots[name] = choice(rng, pool)
    return template.format(**slots), slots


def intent_slots(split: str, i: int, rng: np.random.Generator) -> Example:
    tpl = choice(rng, pool_for(intent_parts(), split))
    said, slots = _fill(tpl.text, text.SLOT_VALUES, rng)
    v = pick_voice(rng, split)
    wav = _say(v, said, rng)
    answer = json.dumps({"intent": tpl.kind, "slots": slots}, sort_keys=True)
    return _example(wav, rng, answer=answer, text=said, language="en", voice=v.id, source=_src(v),
                    group=[tpl.id] + held(v), meta={"intent": tpl.kind, "slots": slots, "template": tpl.id})


@lru_cache(maxsize=1)
def entity_parts():
    return partition(text.entity_templates(), key=lambda t: t.id)


def speech_entities(split: str, i: int, rng: np.random.Generator) -> Example:
    tpl = choice(rng, pool_for(entity_parts(), split))
    said, slots = _fill(tpl.text, text.ENTITY_VALUES, rng)
    ents = sorted(((said.find(v), text.ENTITY_TYPES[k], v) for k, v in slots.items()))
    answer = json.dumps([{"type": t, "text": v} for _pos, t, v in ents])
    v = pick_voice(rng, split)
    wav = _say(v, said, rng)
    return _example(wav, rng, answer=answer, text=said, language="en", voice=v.id, source=_src(v),
                    group=[tpl.id] + held(v), meta={"entities": [{"type": t, "text": x} for _p, t, x in ents]})


@lru_cache(maxsize=1)
def qa_name_parts():
    return partition(text.QA_NAMES, key=lambda n: n)


def spoken_qa(split: str, i: int, rng: np.random.Generator) -> Example:
    name = choice(rng, pool_for(qa_name_parts(), split))
    kinds = sorted(text.QA_FACTS)
    picked = [kinds[j] for j in sorted(rng.choice(len(kinds), size=3, replace=False))]
    facts = {}
    for k in picked:
        facts[k] = choice(rng, text.QA_FACTS[k][2])
    passage = " ".join(text.QA_FACTS[k][0].format(name=name, v=facts[k]) for k in picked)
    ask = choice(rng, picked)
    question = text.QA_FACTS[ask][1].format(name=name)
    v = pick_voice(rng, split)
    wav = _say(v, passage, rng)
    return _example(wav, rng, p_aug=0.5, answer=facts[ask], text=passage, language="en", voice=v.id,
                    source=_src(v), group=[f"name:{name}"] + held(v),
                    meta={"question": question, "facts": facts, "asked": ask})


# ---------------------------------------------------------------------------------------------
# 15 overlapped_asr, 30 voice_chat
# ---------------------------------------------------------------------------------------------
def overlapped_asr(split: str, i: int, rng: np.random.Generator) -> Example:
    vs = _voices(split)
    a = choice(rng, vs)
    b = choice(rng, [v for v in vs if v.id != a.id] or vs)
    sents = pool_for(sentence_parts(), split)
    s1 = choice(rng, sents)
    s2 = choice(rng, [s for s in sents if s.id != s1.id])
    w1, w2 = _say(a, s1.text, rng), _say(b, s2.text, rng)
    from .common import rms

    w2 = w2 * np.float32((rms(w1) / (rms(w2) or 1.0)) * 10 ** (-6 / 20))  # the other speaker 6 dB down
    off = int(rng.uniform(0.0, 0.5) * SR)
    n = max(len(w1), off + len(w2))
    mix = np.zeros(n, np.float32)
    mix[: len(w1)] += w1
    mix[off : off + len(w2)] += w2
    return _example(mix, rng, p_aug=0.3, answer=s1.text, text=s1.text, language="en", voice=f"{a.id}|{b.id}",
                    source="speech.mix", group=sorted({s1.id, s2.id, *held(a), *held(b)}),
                    meta={"louder_voice": a.id, "other_voice": b.id, "other_text": s2.text, "level_difference_db": 6.0,
                          "other_offset": round(off / SR, 2)})


@lru_cache(maxsize=1)
def chat_parts():
    return partition(text.chat_prompts(), key=lambda p: p[0])


def voice_chat(split: str, i: int, rng: np.random.Generator) -> Example:
    pid, question, reply = choice(rng, pool_for(chat_parts(), split))
    v = pick_voice(rng, split)
    wav = _say(v, question, rng)
    return _example(wav, rng, p_aug=0.5, answer=reply, text=question, language="en", voice=v.id, source=_src(v),
                    group=[pid] + held(v),
                    meta={"question": question, "distill": True,
                          "note": "answer is a computed reference reply; distillation may replace it with the text LM's reply"})
