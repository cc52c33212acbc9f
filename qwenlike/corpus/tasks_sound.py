"""Generators of the sound tasks (16-23 of TASKS.md): vocal sounds, single events, scenes mixed
from labelled events over ambience beds, with answers computed from where the events were put.

Held-out atoms: event and vocal recordings (by file), ambience beds (by file; a scene with one
recording is cut in two time regions, the later 30 % being the held-out one).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import sounds
from .common import SR, Example, SourceMissing, balanced, choice, fmt_span, partition, pool_for
from .mix import Placed, augment, place_events, procedural_bed

# scene -> (bed: ("bed", scene label in sounds.BED_RULES) or ("proc", procedural kind), typical events)
SCENES: dict[str, tuple[tuple[str, str], tuple[str, ...]]] = {
    "forest": (("bed", "forest"), ("bird singing", "owl hooting", "crow cawing", "wings flapping")),
    "campfire": (("bed", "campfire"), ("owl hooting", "wolf growling", "fire crackling")),
    "night": (("bed", "night"), ("owl hooting", "wolf growling", "frog croaking")),
    "harbour": (("bed", "harbour"), ("seagull calling", "bell ringing")),
    "rain": (("bed", "rain"), ("thunder", "frog croaking")),
    "farm": (("proc", "wind"), ("cow mooing", "pig oinking", "sheep bleating", "hen clucking", "rooster crowing",
                                "duck quacking", "horse neighing", "donkey braying", "turkey gobbling", "dog barking")),
    "street": (("proc", "traffic"), ("car engine", "siren", "helicopter", "whistle", "dog barking")),
    "home": (("proc", "room"), ("vacuum cleaner", "washing machine", "kettle whistling", "toilet flushing",
                                "door knock", "door creaking", "glass clinking", "scissors cutting")),
}
SCENE_LABELS = tuple(sorted(SCENES))
BACKGROUND = {"forest": "birds chirp in a forest", "campfire": "a campfire crackles", "night": "insects chirp at night",
              "harbour": "water laps in a harbour", "rain": "rain falls", "farm": "wind blows across a farm",
              "street": "traffic rumbles on a street", "home": "a quiet room hums"}
COUNT_LABELS = tuple(str(k) for k in range(1, 7))


@lru_cache(maxsize=1)
def event_parts() -> dict[str, list[sounds.SoundFile]]:
    ev = sounds.events()
    if not ev:
        raise SourceMissing("no recorded sound events (wesnoth/tuxpaint/gcompris/hydrogen data packages)")
    return partition(ev, key=lambda s: s.id, strata=lambda s: s.label, content=lambda s: [sounds.digest(s)])


@lru_cache(maxsize=1)
def vocal_parts() -> dict[str, list[sounds.SoundFile]]:
    vs = sounds.vocal_sounds()
    if not vs:
        raise SourceMissing("no vocal sounds (hedgewars-data / wesnoth-1.16-data)")
    return partition(vs, key=lambda s: s.id, strata=lambda s: s.label, content=lambda s: [sounds.digest(s)])


@dataclass(frozen=True)
class BedPiece:
    id: str
    file: sounds.SoundFile
    start: float  # fraction of the recording
    end: float
    label: str


@lru_cache(maxsize=1)
def bed_parts() -> dict[str, list[BedPiece]]:
    pieces: list[BedPiece] = []
    by_label: dict[str, list[sounds.SoundFile]] = {}
    for b in sounds.beds():
        by_label.setdefault(b.label, []).append(b)
    for label, files in sorted(by_label.items()):
        if len(files) == 1:
            f = files[0]
            pieces += [BedPiece(f"bed:{f.id}#a", f, 0.0, 0.7, label), BedPiece(f"bed:{f.id}#b", f, 0.7, 1.0, label)]
        else:
            pieces += [BedPiece(f"bed:{f.id}", f, 0.0, 1.0, label) for f in files]
    return partition(pieces, key=lambda p: p.id, strata=lambda p: p.label,
                     content=lambda p: [(sounds.digest(p.file), p.start)])


def _events_of(split: str, labels: tuple[str, ...] | None = None) -> list[sounds.SoundFile]:
    pool = pool_for(event_parts(), split)
    return [e for e in pool if labels is None or e.label in labels]


def _bed(rng: np.random.Generator, split: str, scene: str, seconds: float) -> tuple[np.ndarray, list[str], str]:
    kind, name = SCENES[scene][0]
    n = int(seconds * SR)
    if kind == "proc":
        return procedural_bed(rng, name, n), [], f"procedural:{name}"
    pieces = [p for p in pool_for(bed_parts(), split) if p.label == name]
    if not pieces:
        raise SourceMissing(f"no ambience recording for scene {scene!r}")
    p = choice(rng, pieces)
    wav = sounds.load(p.file)
    a, b = int(p.start * len(wav)), int(p.end * len(wav))
    seg = wav[a:b]
    if len(seg) > n:
        off = int(rng.integers(0, len(seg) - n + 1))
        seg = seg[off : off + n]
    return seg, [p.id], p.file.id


def _scenes_available(split: str) -> list[str]:
    have_beds = {p.label for p in pool_for(bed_parts(), split)} if sounds.beds() else set()
    return [s for s in SCENE_LABELS if SCENES[s][0][0] == "proc" or SCENES[s][0][1] in have_beds]


def _clip(rng: np.random.Generator, e: sounds.SoundFile, max_s: float) -> np.ndarray:
    wav = sounds.load(e)
    n = int(max_s * SR)
    if len(wav) > n:
        off = int(rng.integers(0, min(len(wav) - n, int(0.5 * SR)) + 1))
        wav = wav[off : off + n]
    return wav


def _pick_event(rng: np.random.Generator, pool: list[sounds.SoundFile]) -> sounds.SoundFile:
    """Label first, then a file: drum kits hold hundreds of files and would swamp a file draw."""
    label = choice(rng, sorted({e.label for e in pool}))
    return choice(rng, [e for e in pool if e.label == label])


def _scene(rng: np.random.Generator, split: str, n_events: tuple[int, int] = (1, 4), seconds: float | None = None,
           scene: str | None = None, typical_only: bool = False) -> tuple[np.ndarray, list[Placed], str, list[str], dict]:
    """A scene: bed + events (half from the scene's typical events), events in disjoint slots."""
    scenes = _scenes_available(split)
    if not scenes:
        raise SourceMissing("no scene beds")
    scene = scene or choice(rng, scenes)
    seconds = seconds or float(rng.uniform(6.0, 10.0))
    k = int(rng.integers(n_events[0], n_events[1] + 1))
    typical = _events_of(split, SCENES[scene][1])
    anyev = _events_of(split)
    clips = []
    for _ in range(k):
        e = _pick_event(rng, typical if typical and (typical_only or rng.random() < 0.5) else anyev)
        clips.append((e.label, e.id, _clip(rng, e, 2.5)))
    bed, bed_atoms, bed_id = _bed(rng, split, scene, seconds)
    mix, placed = place_events(rng, bed, clips, seconds, bed_db=float(rng.uniform(-18, -8)))
    atoms = sorted({f"file:{p.file}" for p in placed} | set(bed_atoms))
    meta = {"scene": scene, "bed": bed_id,
            "events": [{"label": p.label, "onset": p.onset, "offset": p.offset, "file": p.file} for p in placed]}
    return mix, placed, scene, atoms, meta


def _finish(wav: np.ndarray, rng: np.random.Generator, p_aug: float = 0.5, **kw) -> Example:
    wav, fx = augment(rng, wav, p_noise=0.2 * p_aug, p_reverb=0.2 * p_aug, p_phone=0.0)
    meta = kw.pop("meta", {})
    if fx:
        meta["augment"] = fx
    return Example(audio=wav, meta=meta, **kw)


# ---------------------------------------------------------------------------------------------
def vocal_sound(split: str, i: int, rng: np.random.Generator) -> Example:
    pool = pool_for(vocal_parts(), split)
    label = balanced(sorted({v.label for v in pool}), "vocal_sound", split, i)
    f = choice(rng, [v for v in pool if v.label == label])
    wav = sounds.load(f)
    lead = np.zeros(int(rng.uniform(0.1, 0.5) * SR), np.float32)
    wav = np.concatenate([lead, wav, np.zeros(int(0.2 * SR), np.float32)])
    return _finish(wav, rng, answer=label, label=label, voice=f.pack or f.source, source=f"sounds.{f.source}",
                   group=[f"file:{f.id}"], meta={"file": f.id})


def sound_event(split: str, i: int, rng: np.random.Generator) -> Example:
    pool = _events_of(split)
    label = balanced(sorted({e.label for e in pool}), "sound_event", split, i)
    e = choice(rng, [x for x in pool if x.label == label])
    wav = _clip(rng, e, 5.0)
    lead = np.zeros(int(rng.uniform(0.1, 0.5) * SR), np.float32)
    wav = np.concatenate([lead, wav, np.zeros(int(0.3 * SR), np.float32)])
    return _finish(wav, rng, answer=label, label=label, source=f"sounds.{e.source}", group=[f"file:{e.id}"],
                   meta={"file": e.id})


def acoustic_scene(split: str, i: int, rng: np.random.Generator) -> Example:
    scene = balanced(_scenes_available(split), "acoustic_scene", split, i)
    wav, placed, scene, atoms, meta = _scene(rng, split, (0, 2), float(rng.uniform(5.0, 8.0)), scene, typical_only=True)
    return _finish(wav, rng, answer=scene, label=scene, source="mix.scene", group=atoms, meta=meta)


def _join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and then " + phrases[-1]


def audio_caption(split: str, i: int, rng: np.random.Generator) -> Example:
    wav, placed, scene, atoms, meta = _scene(rng, split, (1, 3))
    labels: list[str] = []
    for p in placed:
        if not labels or labels[-1] != p.label:
            labels.append(p.label)
    body = _join(labels)
    bg = BACKGROUND[scene]
    form = int(rng.integers(3))
    if form == 0:
        cap = f"{body[0].upper()}{body[1:]} while {bg}."
    elif form == 1:
        cap = f"While {bg}, there is {body}."
    else:
        cap = f"{bg[0].upper()}{bg[1:]}, with {body}."
    return _finish(wav, rng, answer=cap, source="mix.scene", group=atoms, meta=meta)


def _spans(placed: list[Placed]) -> str:
    return ", ".join(f"{fmt_span(p.onset, p.offset)} {p.label}" for p in placed)


def sound_event_detection(split: str, i: int, rng: np.random.Generator) -> Example:
    wav, placed, scene, atoms, meta = _scene(rng, split, (1, 4))
    return _finish(wav, rng, p_aug=0.3, answer=_spans(placed), source="mix.scene", group=atoms, meta=meta)


def audio_grounding(split: str, i: int, rng: np.random.Generator) -> Example:
    wav, placed, scene, atoms, meta = _scene(rng, split, (2, 4))
    counts: dict[str, int] = {}
    for p in placed:
        counts[p.label] = counts.get(p.label, 0) + 1
    singles = [p for p in placed if counts[p.label] == 1] or placed[:1]
    target = choice(rng, singles)
    meta.update({"question": f"When does the {target.label} sound occur?", "target": target.label})
    return _finish(wav, rng, p_aug=0.3, answer=fmt_span(target.onset, target.offset), source="mix.scene",
                   group=atoms, meta=meta)


def audio_qa(split: str, i: int, rng: np.random.Generator) -> Example:
    wav, placed, scene, atoms, meta = _scene(rng, split, (1, 4))
    present = sorted({p.label for p in placed})
    kind = choice(rng, ["presence", "count", "order", "scene"] if len(placed) >= 2 else ["presence", "count", "scene"])
    if kind == "presence":
        if rng.random() < 0.5:
            lab, ans = choice(rng, present), "yes"
        else:
            lab, ans = choice(rng, [l for l in sounds.EVENT_LABELS if l not in present]), "no"
        q = f"Is there a sound of {lab}?"
    elif kind == "count":
        q, ans = "How many sound events can you hear?", str(len(placed))
    elif kind == "order":
        a, b = placed[0], choice(rng, [p for p in placed[1:] if p.label != placed[0].label] or placed[1:])
        pair = [a.label, b.label] if rng.random() < 0.5 else [b.label, a.label]
        q = f"Which comes first, {pair[0]} or {pair[1]}?"
        ans = a.label if a.label != b.label else "both are the same"
    else:
        q, ans = "Where could this have been recorded?", scene
    meta.update({"question": q, "question_type": kind})
    return _finish(wav, rng, p_aug=0.3, answer=ans, source="mix.scene", group=atoms, meta=meta)


def event_counting(split: str, i: int, rng: np.random.Generator) -> Example:
    k = int(balanced(COUNT_LABELS, "event_counting", split, i))
    e = _pick_event(rng, _events_of(split))
    clip = _clip(rng, e, 1.0)
    seconds = max(4.0, 1.3 * k + 1.0)
    bed = procedural_bed(rng, choice(rng, ["room", "wind"]), int(seconds * SR))
    mix, placed = place_events(rng, bed, [(e.label, e.id, clip)] * k, seconds, bed_db=-20.0)
    label = str(len(placed))
    meta = {"event": e.label, "file": e.id, "onsets": [p.onset for p in placed],
            "question": f"How many times do you hear {e.label}?"}
    return _finish(mix, rng, p_aug=0.3, answer=label, label=label, source=f"sounds.{e.source}",
                   group=[f"file:{e.id}"], meta=meta)
