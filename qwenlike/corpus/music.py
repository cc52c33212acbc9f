"""Music: note lists from generated pieces (known key, mode, tempo, metre, chords, instrument)
and from the music21 corpus (Bach, Palestrina, Monteverdi, Mozart, Haydn, Beethoven, trecento,
Irish/Scottish folk tunes), rendered with FluidSynth and the FluidR3 General MIDI soundfont.

Rendering uses libfluidsynth in-process (pyfluidsynth) with one fresh synthesiser per clip:
FluidSynth's voices keep state from one note to the next, so a reused synthesiser makes a clip
depend on what was rendered before it. The soundfont's samples stay cached by an anchor synth,
so a fresh synth costs ~0.1 s instead of reloading 145 MB.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .common import SR, SourceMissing, choice

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2")
LICENCES = {
    "fluidsynth": "FluidSynth (LGPL-2.1) with FluidR3_GM soundfont (MIT, Debian fluid-soundfont-gm)",
    "music21": "music21 corpus (BSD-3-Clause toolkit; corpus works public domain or as noted by music21)",
    "generated": "generated MIDI (this project, Apache-2.0)",
}

# label -> (GM program, lowest, highest MIDI pitch played)
GM_INSTRUMENTS = {
    "piano": (0, 36, 96), "xylophone": (13, 60, 96), "organ": (19, 36, 84), "accordion": (21, 48, 84),
    "harmonica": (22, 60, 84), "acoustic guitar": (24, 40, 76), "electric guitar": (27, 40, 79),
    "bass": (33, 28, 55), "violin": (40, 55, 96), "cello": (42, 36, 72), "harp": (46, 36, 91),
    "timpani": (47, 40, 55), "trumpet": (56, 55, 82), "trombone": (57, 40, 72), "tuba": (58, 28, 55),
    "french horn": (60, 41, 77), "saxophone": (65, 49, 81), "oboe": (68, 58, 91), "bassoon": (70, 34, 72),
    "clarinet": (71, 50, 89), "flute": (73, 60, 96), "banjo": (105, 48, 79),
}
INSTRUMENT_LABELS = tuple(sorted(GM_INSTRUMENTS))
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
KEYS = NOTE_NAMES
MODES = ("major", "minor")
TIME_SIGNATURES = ("2/4", "3/4", "4/4", "6/8")
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)  # natural minor; the dominant chord is raised below
PROGRESSIONS = {"major": [(0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3)], "minor": [(0, 3, 4, 0), (0, 5, 2, 4), (0, 3, 6, 4)]}
ROMAN = {0: "I", 1: "II", 2: "III", 3: "IV", 4: "V", 5: "VI", 6: "VII"}


def pitch_name(p: int) -> str:
    return f"{NOTE_NAMES[p % 12]}{p // 12 - 1}"


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    dur: float
    pitch: int
    vel: int
    program: int


def soundfont() -> str:
    for sf in SOUNDFONTS:
        if Path(sf).is_file():
            return sf
    raise SourceMissing("no General MIDI soundfont (fluid-soundfont-gm)")


@lru_cache(maxsize=1)
def _fluid():
    try:
        import fluidsynth  # pyfluidsynth
    except (ImportError, OSError) as e:
        raise SourceMissing(f"pyfluidsynth/libfluidsynth: {e}") from None
    wf = fluidsynth._fl.fluid_synth_write_float
    wf.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                   ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    wf.restype = ctypes.c_int
    anchor = _new_synth(fluidsynth)  # keeps the soundfont's samples in FluidSynth's cache
    return fluidsynth, wf, anchor


def _new_synth(fluidsynth):
    s = fluidsynth.Synth(samplerate=float(SR), gain=0.4)
    # Our own mixer adds rooms; FluidSynth's reverb/chorus would only add state to reset.
    s.setting("synth.reverb.active", 0)
    s.setting("synth.chorus.active", 0)
    sfid = s.sfload(soundfont())
    if sfid < 0:
        raise SourceMissing(f"cannot load soundfont {soundfont()}")
    return s, sfid


def available() -> bool:
    """Soundfont and libfluidsynth present (creates no synthesiser: the build forks after this)."""
    try:
        soundfont()
        import fluidsynth  # noqa: F401  (pyfluidsynth loads libfluidsynth here)
    except (SourceMissing, ImportError, OSError):
        return False
    return True


def render(notes: list[Note], seconds: float, drums: bool = False) -> np.ndarray:
    """Render notes to float32 mono 16 kHz of exactly `seconds` (tails cut)."""
    fluidsynth, wf, _anchor = _fluid()
    synth, sfid = _new_synth(fluidsynth)
    try:
        programs = sorted({n.program for n in notes})
        chan = {}
        for i, prog in enumerate(programs):
            c = i if i < 9 else i + 1  # channel 9 is the drum channel
            chan[prog] = c
            synth.program_select(c, sfid, 0, prog)
        events = []
        for n in notes:
            a = int(round(n.start * SR))
            b = int(round((n.start + n.dur) * SR))
            events.append((a, 1, n.pitch, n.vel, chan[n.program]))
            events.append((b, 0, n.pitch, 0, chan[n.program]))
        events.sort(key=lambda e: (e[0], e[1]))  # note-offs before note-ons at the same sample
        total = int(round(seconds * SR))
        out = np.zeros(2 * total, np.float32)  # interleaved stereo (L, R)
        pos = 0
        for t, on, pitch, vel, c in events + [(total, -1, 0, 0, 0)]:
            t = min(t, total)
            if t > pos:
                buf = out[2 * pos : 2 * t]
                wf(synth.synth, t - pos, buf.ctypes.data, 0, 2, buf.ctypes.data, 1, 2)
                pos = t
            if on == 1:
                synth.noteon(c, pitch, vel)
            elif on == 0:
                synth.noteoff(c, pitch)
        return out.reshape(-1, 2).mean(axis=1).astype(np.float32)  # (N, 2) -> (N,)
    finally:
        synth.delete()


# ---------------------------------------------------------------------------------------------
# generated pieces with known metadata
# ---------------------------------------------------------------------------------------------
def chord_name(root_pc: int, quality: str) -> str:
    return f"{NOTE_NAMES[root_pc % 12]} {quality}"


def generate_piece(rng: np.random.Generator, instrument: str, key: str, mode: str, tempo: int, ts: str,
                   seconds: float, accompany: bool = True) -> tuple[list[Note], dict]:
    """A melody over a I-IV-V style progression in `key` `mode`, one chord per bar."""
    program, lo, hi = GM_INSTRUMENTS[instrument]
    tonic = NOTE_NAMES.index(key)
    scale = MAJOR if mode == "major" else MINOR
    num, den = (int(x) for x in ts.split("/"))
    beat = 60.0 / tempo * (4 / den)  # seconds per notated beat
    bar = beat * num
    prog = choice(rng, PROGRESSIONS[mode])
    centre = int(np.clip(60 + tonic, lo + 7, hi - 7))
    notes: list[Note] = []
    chords = []
    n_bars = max(1, int(np.ceil(seconds / bar)))
    prev = 0
    for b in range(n_bars):
        degree = prog[b % len(prog)]
        root = tonic + scale[degree]
        third = tonic + scale[(degree + 2) % 7] + (12 if degree + 2 >= 7 else 0)
        fifth = tonic + scale[(degree + 4) % 7] + (12 if degree + 4 >= 7 else 0)
        if mode == "minor" and degree == 4:
            third += 1  # harmonic minor: major dominant
        quality = "major" if (third - root) % 12 == 4 else "minor"
        if (fifth - root) % 12 == 6:
            quality = "diminished"
        chords.append(chord_name(root, quality))
        t0 = b * bar
        if accompany:
            base = 48 + (root % 12)
            for p in (base - 12, base + (third - root), base + (fifth - root)):
                notes.append(Note(t0, bar * 0.95, p, int(rng.integers(45, 65)), program))
        # melody: chord tones on strong beats, scale steps between
        for k in range(num):
            step = int(rng.integers(-2, 3))
            prev = int(np.clip(prev + step, -5, 7))
            octave, idx = divmod(prev, 7)
            pitch = centre - (centre - tonic) % 12 + scale[idx] + 12 * octave
            if k == 0:
                pitch = centre - (centre - tonic) % 12 + (root - tonic) % 12
            pitch = int(np.clip(pitch, lo, hi))
            notes.append(Note(t0 + k * beat, beat * 0.9, pitch, int(rng.integers(70, 110)), program))
    meta = {"instrument": instrument, "program": program, "key": key, "mode": mode, "tempo": tempo,
            "time_signature": ts, "chords": chords, "bars": n_bars}
    return [n for n in notes if n.start < seconds], meta


# ---------------------------------------------------------------------------------------------
# music21 corpus
# ---------------------------------------------------------------------------------------------
# label -> music21 corpus folders. Files above the size cap parse in >5 s and are left out.
STYLES = {
    "medieval": ("trecento",),
    "renaissance": ("palestrina", "josquin"),
    "baroque": ("bach",),
    "classical": ("mozart", "haydn", "beethoven"),
    "folk": ("ryansMammoth",),
}
COMPOSERS = ("bach", "beethoven", "haydn", "monteverdi", "mozart", "palestrina")
STYLE_LABELS = tuple(sorted(STYLES))
_MAX_BYTES = {".mxl": 60_000, ".xml": 200_000, ".krn": 40_000, ".abc": 20_000}
# Timbres drawn for corpus works, independent of style, so style is in the notes, not the sound.
CORPUS_PROGRAMS = (0, 19, 48, 52, 73)


@lru_cache(maxsize=None)
def works(folder: str) -> tuple[str, ...]:
    """Corpus paths (relative to music21's corpus folder) in one composer/collection folder."""
    try:
        from music21 import corpus
    except ImportError:
        return ()
    out = []
    for p in corpus.getComposer(folder):
        p = Path(str(p))
        cap = _MAX_BYTES.get(p.suffix)
        if cap and p.stat().st_size <= cap:
            out.append(str(p).split("/corpus/", 1)[-1])
    return tuple(sorted(out)[:80])


def cache_dir() -> Path:
    """Where parsed corpus works are kept between builds ($QWENLIKE_CACHE, default ~/.cache/qwenlike)."""
    return Path(os.environ.get("QWENLIKE_CACHE") or Path.home() / ".cache" / "qwenlike")


@lru_cache(maxsize=64)
def work_notes(path: str) -> tuple[tuple[float, float, int, int], ...]:
    """(offset in quarter notes, duration in quarter notes, MIDI pitch, velocity) of a work.

    music21 takes 0.3-4 s to parse a score, so the note list is cached on disk as JSON (keyed by
    the music21 version and the corpus path); the cache holds exactly what a parse returns.
    """
    import hashlib
    import json

    import music21
    from music21 import corpus

    key = hashlib.sha1(f"{music21.__version__}:{path}".encode()).hexdigest()[:20]
    cached = cache_dir() / "music21-notes" / f"{key}.json"
    if cached.is_file():
        try:
            return tuple(tuple(x) for x in json.loads(cached.read_text()))  # type: ignore[misc]
        except (ValueError, OSError):
            pass  # a damaged cache file is rebuilt below
    score = corpus.parse(path)
    out = []
    for el in score.flatten().notes:
        dur = float(el.duration.quarterLength)
        if dur <= 0:
            continue
        for p in el.pitches:
            out.append((float(el.offset), dur, int(p.midi), 80))
    out.sort()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(out))
        os.replace(tmp, cached)
    except OSError:
        pass  # a read-only home only costs the parse next time
    return tuple(tuple(x) for x in out)  # type: ignore[misc]


def corpus_excerpt(rng: np.random.Generator, path: str, seconds: float) -> tuple[list[Note], dict]:
    """An excerpt of `seconds` from a random bar-ish start in the first half of the work."""
    raw = work_notes(path)
    if not raw:
        raise RuntimeError(f"music21 work {path} has no notes")
    tempo = int(rng.integers(70, 121))
    qsec = 60.0 / tempo
    end = max(o + d for o, d, _, _ in raw)
    start_q = float(np.floor(rng.uniform(0, max(0.0, end / 2 - seconds / qsec)) / 4) * 4)
    program = int(choice(rng, CORPUS_PROGRAMS))
    notes = []
    for o, d, p, v in raw:
        t = (o - start_q) * qsec
        if 0 <= t < seconds:
            notes.append(Note(t, min(d * qsec, seconds - t), p, v, program))
    if len(notes) < 4:
        start_q = 0.0
        notes = [Note(o * qsec, min(d * qsec, seconds - o * qsec), p, v, program)
                 for o, d, p, v in raw if o * qsec < seconds]
    return notes, {"work": path, "tempo": tempo, "start_quarter": start_q, "program": program}
