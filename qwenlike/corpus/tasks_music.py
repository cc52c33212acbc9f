"""Generators of the music tasks (24-29 of TASKS.md): rendered generated pieces with known
metadata, single notes, recorded instruments, and excerpts of music21 corpus works.

Held-out atoms: corpus works (by file) and recorded instruments (by file). Generated pieces are
drawn from (seed, task, split, index), so no two items share one.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import music, sounds
from .common import SR, Example, SourceMissing, balanced, choice, partition, pool_for
from .mix import augment

PITCH_LABELS = tuple(music.pitch_name(p) for p in range(21, 109))


def _need_synth() -> None:
    if not music.available():
        raise SourceMissing("fluidsynth / pyfluidsynth / a GM soundfont")


def _finish(wav: np.ndarray, rng: np.random.Generator, p_aug: float = 0.5, **kw) -> Example:
    wav, fx = augment(rng, wav, p_noise=0.15 * p_aug, p_reverb=0.4 * p_aug, p_phone=0.0)
    meta = kw.pop("meta", {})
    if fx:
        meta["augment"] = fx
    return Example(audio=wav, meta=meta, **kw)


def _random_piece(rng: np.random.Generator, seconds: float, instrument: str | None = None, accompany: bool = True):
    instrument = instrument or choice(rng, music.INSTRUMENT_LABELS)
    key, mode = choice(rng, music.KEYS), choice(rng, music.MODES)
    tempo = int(rng.integers(12, 33)) * 5  # 60-160 BPM in steps of 5
    ts = choice(rng, music.TIME_SIGNATURES)
    notes, meta = music.generate_piece(rng, instrument, key, mode, tempo, ts, seconds, accompany)
    return music.render(notes, seconds + 0.5), meta


def _tempo_word(bpm: int) -> str:
    return "slow" if bpm < 80 else ("moderate" if bpm <= 120 else "fast")


def music_caption(split: str, i: int, rng: np.random.Generator) -> Example:
    _need_synth()
    wav, meta = _random_piece(rng, float(rng.uniform(8.0, 12.0)))
    form = int(rng.integers(3))
    k, m, t, ts, ins = meta["key"], meta["mode"], meta["tempo"], meta["time_signature"], meta["instrument"]
    if form == 0:
        cap = f"A {_tempo_word(t)} {ins} piece in {k} {m} in {ts} time, at about {t} BPM."
    elif form == 1:
        cap = f"{ins.capitalize()} plays a {m}-key melody with chords in {k} {m}, {ts} metre, {_tempo_word(t)} tempo ({t} BPM)."
    else:
        cap = f"Solo {ins} in {k} {m}; {ts} time at {t} BPM, {_tempo_word(t)} and steady."
    return _finish(wav, rng, answer=cap, source="music.fluidsynth", group=[f"gen:music_caption:{split}:{i}"], meta=meta)


@lru_cache(maxsize=1)
def recorded_instrument_parts():
    return partition(sounds.instruments(), key=lambda s: s.id, strata=lambda s: s.label,
                     content=lambda s: [sounds.digest(s)])


def instrument(split: str, i: int, rng: np.random.Generator) -> Example:
    label = balanced(music.INSTRUMENT_LABELS, "instrument", split, i)
    recs = [r for r in pool_for(recorded_instrument_parts(), split) if r.label == label] if sounds.instruments() else []
    if recs and rng.random() < 0.3:
        f = choice(rng, recs)
        wav = sounds.load(f)[: int(6 * SR)]
        return _finish(wav, rng, answer=f.label, label=f.label, source=f"sounds.{f.source}", group=[f"file:{f.id}"],
                       meta={"file": f.id, "kind": "recording"})
    _need_synth()
    wav, meta = _random_piece(rng, float(rng.uniform(3.0, 6.0)), label, accompany=bool(rng.random() < 0.3))
    meta["kind"] = "rendered"
    return _finish(wav, rng, answer=label, label=label, source="music.fluidsynth",
                   group=[f"gen:instrument:{split}:{i}"], meta=meta)


def note_analysis(split: str, i: int, rng: np.random.Generator) -> Example:
    _need_synth()
    ins = choice(rng, music.INSTRUMENT_LABELS)
    program, lo, hi = music.GM_INSTRUMENTS[ins]
    pitch = int(rng.integers(lo, hi + 1))
    vel = int(rng.integers(30, 128))
    dur = float(rng.uniform(0.8, 1.6))
    lead = float(rng.uniform(0.05, 0.3))
    wav = music.render([music.Note(lead, dur, pitch, vel, program)], lead + dur + 0.6)
    name = music.pitch_name(pitch)
    meta = {"instrument": ins, "program": program, "midi_pitch": pitch, "velocity": vel,
            "frequency_hz": round(440.0 * 2 ** ((pitch - 69) / 12), 2), "onset": round(lead, 2)}
    # Velocity is only in the answer: loudness is normalised away below, as in NSynth-style data the
    # timbre (not the level) carries it.
    return _finish(wav, rng, p_aug=0.2, answer=f"{name}, velocity {vel}", label=name, source="music.fluidsynth",
                   group=[f"gen:note_analysis:{split}:{i}"], meta=meta)


def music_qa(split: str, i: int, rng: np.random.Generator) -> Example:
    _need_synth()
    kind = choice(rng, ["key", "mode", "tempo", "time_signature", "chord"])
    if kind == "chord":
        ins = choice(rng, ["piano", "organ", "acoustic guitar", "harp"])
        program = music.GM_INSTRUMENTS[ins][0]
        root = int(rng.integers(0, 12))
        quality = choice(rng, ["major", "minor"])
        third = 4 if quality == "major" else 3
        base = 48 + root
        arp = rng.random() < 0.5
        notes = [music.Note(0.1 + (0.35 * j if arp else 0.0), 2.0, base + iv, int(rng.integers(60, 100)), program)
                 for j, iv in enumerate((0, third, 7, 12))]
        wav = music.render(notes, 3.2)
        answer = music.chord_name(root, quality)
        meta = {"instrument": ins, "program": program, "chord": answer, "arpeggiated": bool(arp)}
        q = "What chord is played?"
    else:
        wav, meta = _random_piece(rng, float(rng.uniform(8.0, 12.0)))
        if kind == "key":
            q, answer = "What key is this piece in?", f"{meta['key']} {meta['mode']}"
        elif kind == "mode":
            q, answer = "Is this piece in a major or a minor key?", meta["mode"]
        elif kind == "tempo":
            q, answer = "What is the tempo in beats per minute?", f"{meta['tempo']} BPM"
        else:
            q, answer = "What is the time signature?", meta["time_signature"]
    meta.update({"question": q, "question_type": kind})
    return _finish(wav, rng, p_aug=0.3, answer=answer, source="music.fluidsynth",
                   group=[f"gen:music_qa:{split}:{i}"], meta=meta)


@lru_cache(maxsize=None)
def _work_parts(kind: str) -> dict[str, list[tuple[str, str]]]:
    """(label, work path) pairs split by work, stratified by label."""
    if kind == "style":
        items = [(label, w) for label, folders in music.STYLES.items() for f in folders for w in music.works(f)]
    else:
        items = [(c, w) for c in music.COMPOSERS for w in music.works(c)]
    if not items:
        raise SourceMissing("music21 corpus")
    return partition(items, key=lambda x: x[1], strata=lambda x: x[0])


def _corpus_item(task: str, kind: str, split: str, i: int, rng: np.random.Generator) -> Example:
    _need_synth()
    pool = pool_for(_work_parts(kind), split)
    label = balanced(sorted({x[0] for x in pool}), task, split, i)
    _l, path = choice(rng, [x for x in pool if x[0] == label])
    seconds = float(rng.uniform(8.0, 10.0))
    notes, meta = music.corpus_excerpt(rng, path, seconds)
    wav = music.render(notes, seconds)
    meta.update({"style" if kind == "style" else "composer": label})
    return _finish(wav, rng, p_aug=0.3, answer=label, label=label, source="music.music21", group=[f"work:{path}"],
                   meta=meta)


def music_style(split: str, i: int, rng: np.random.Generator) -> Example:
    return _corpus_item("music_style", "style", split, i, rng)


def composer_id(split: str, i: int, rng: np.random.Generator) -> Example:
    return _corpus_item("composer_id", "composer", split, i, rng)
