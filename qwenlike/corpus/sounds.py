"""Recorded effects, vocal sounds, instruments and ambience beds from Debian game packages:
GCompris (inside Qt .rcc archives), Wesnoth, Hedgewars, Tux Paint stamps and Hydrogen drum kits.

Labels come from file names through the tables below; a file no rule names is not used. The
tables are the label sets: a label exists whether or not its package is installed, so the label
lists a build writes do not depend on the machine.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .common import load_audio, trim
from .rcc import RccArchive

def _wesnoth_sounds() -> Path:
    """The sounds folder of whichever Wesnoth data package is installed (1.16 on Debian 12)."""
    found = sorted(Path("/usr/share/games/wesnoth").glob("*/data/core/sounds"))
    return found[-1] if found else Path("/usr/share/games/wesnoth/1.16/data/core/sounds")


WESNOTH = _wesnoth_sounds()
HEDGEWARS = Path("/usr/share/games/hedgewars/Data/Sounds")
GCOMPRIS = Path("/usr/share/gcompris-qt/rcc")
TUXPAINT = Path("/usr/share/tuxpaint/stamps")
HYDROGEN = Path("/usr/share/hydrogen/data/drumkits")

LICENCES = {
    "wesnoth": "Battle for Wesnoth sounds (GPL-2.0-or-later, Debian wesnoth-1.16-data)",
    "hedgewars": "Hedgewars voices and sounds (GPL-2.0 / game data, Debian hedgewars-data)",
    "gcompris": "GCompris sounds and instruments (GPL-3.0 / CC-BY-SA, Debian gcompris-qt-data)",
    "tuxpaint": "Tux Paint stamp sounds (GPL-2.0-or-later, Debian tuxpaint-stamps-default)",
    "hydrogen": "Hydrogen drum kits (GPL-2.0 and per-kit licences in drumkit.xml, Debian hydrogen-drumkits)",
}

# (source, regex on the file's stem, label). First match wins.
EVENT_RULES: list[tuple[str, str, str]] = [
    ("tuxpaint", r"dog", "dog barking"), ("tuxpaint", r"blackcat", "cat meowing"),
    ("tuxpaint", r"cow|cow_white|bull|bison", "cow mooing"), ("tuxpaint", r"pig(_golden2?)?", "pig oinking"),
    ("tuxpaint", r"sheep|sheep_lamb|ram|goat|mountaingoat", "sheep bleating"),
    ("tuxpaint", r"horse|zebra", "horse neighing"), ("tuxpaint", r"donkey", "donkey braying"),
    ("tuxpaint", r"rooster", "rooster crowing"), ("tuxpaint", r"hen", "hen clucking"),
    ("tuxpaint", r"duck|drake|gander", "duck quacking"), ("tuxpaint", r"turkey", "turkey gobbling"),
    ("tuxpaint", r"frog", "frog croaking"), ("tuxpaint", r"owl", "owl hooting"), ("tuxpaint", r"crow", "crow cawing"),
    ("tuxpaint", r"blackbird|lark|cuckoo|quetzal|tucan", "bird singing"), ("tuxpaint", r"seagull", "seagull calling"),
    ("tuxpaint", r"bee|mosquito|hornet", "insect buzzing"), ("tuxpaint", r"lion|tiger", "big cat roaring"),
    ("tuxpaint", r"elephant", "elephant trumpeting"), ("tuxpaint", r"lightningbolt", "thunder"),
    ("tuxpaint", r"firetruck", "siren"), ("tuxpaint", r"hammer|mallet_metal", "hammering"), ("tuxpaint", r"saw", "sawing"),
    ("tuxpaint", r"kettle", "kettle whistling"), ("tuxpaint", r"toilet", "toilet flushing"),
    ("tuxpaint", r"vacuum_cleaner", "vacuum cleaner"), ("tuxpaint", r"Washing-machine", "washing machine"),
    ("tuxpaint", r"scissors_small_(open|closed)", "scissors cutting"), ("tuxpaint", r"camera_35mm", "camera shutter"),
    ("tuxpaint", r"glass|bottle", "glass clinking"), ("tuxpaint", r"fireworks", "fireworks"),
    ("tuxpaint", r"cymbal_crash", "cymbal crash"), ("tuxpaint", r"drum_tomtom_floor", "tom-tom drum"),
    ("wesnoth", r"explosion", "explosion"), ("wesnoth", r"gunshot|thunderstick", "gunshot"),
    ("wesnoth", r"horse(-elf)?-canter", "horse galloping"), ("wesnoth", r"wolf-growl-\d", "wolf growling"),
    ("wesnoth", r"sword-1|axe|mace", "sword clash"), ("wesnoth", r"fire", "fire crackling"),
    ("wesnoth", r"bat-flapping", "wings flapping"), ("wesnoth", r"hiss(-big)?", "snake hissing"),
    ("wesnoth", r"open-chest", "door creaking"), ("wesnoth", r"rumble|cave-in", "rumble"),
    ("wesnoth", r"bow|crossbow", "arrow shot"),
    ("gcompris", r"owl", "owl hooting"), ("gcompris", r"pig", "pig oinking"), ("gcompris", r"chickens", "hen clucking"),
    ("gcompris", r"cat", "cat meowing"), ("gcompris", r"horse", "horse neighing"), ("gcompris", r"cow", "cow mooing"),
    ("gcompris", r"dog|LRBark_\d_LA_cut", "dog barking"), ("gcompris", r"duck", "duck quacking"),
    ("gcompris", r"sheep", "sheep bleating"), ("gcompris", r"LRApplauses_1_LA_cut", "applause"),
    ("gcompris", r"LRHeart_beat_01_LA", "heartbeat"), ("gcompris", r"LRTrain_slowing_down_01_LA_cut|train", "train"),
    ("gcompris", r"LRStartAndStopCarEngine1LACut|car", "car engine"), ("gcompris", r"LRBuddhist_gong_05_LA", "gong"),
    ("gcompris", r"LRDoor_Open_2_LA|door_open|door_close", "door creaking"), ("gcompris", r"knock", "door knock"),
    ("gcompris", r"helicopter", "helicopter"), ("gcompris", r"LRRing_01_LA", "bell ringing"),
    ("gcompris", r"LRObject_falling_0\d_LA", "object falling"),
    ("hedgewars", r"explosion|grenadeimpact|mortar", "explosion"), ("hedgewars", r"bee", "insect buzzing"),
    ("hedgewars", r"Whistle", "whistle"), ("hedgewars", r"gun|minigun", "gunshot"),
    ("hydrogen", r"kick", "kick drum"), ("hydrogen", r"snare", "snare drum"), ("hydrogen", r"hat", "hi-hat"),
    ("hydrogen", r"crash|ride|splash|china|cymbal", "cymbal crash"), ("hydrogen", r"tom", "tom-tom drum"),
    ("hydrogen", r"clap", "hand clap"), ("hydrogen", r"cowbell", "cowbell"),
]
EVENT_LABELS = tuple(sorted({r[2] for r in EVENT_RULES}))

# Vocal sounds: Hedgewars character packs and Wesnoth's human (and humanoid) cries.
VOCAL_RULES: list[tuple[str, str, str]] = [
    ("hedgewars", r"Laugh", "laugh"), ("hedgewars", r"PoisonCough", "cough"), ("hedgewars", r"PoisonMoan", "moan"),
    ("hedgewars", r"Ouch|Ow\d|Ooff\d", "grunt"),
    ("wesnoth", r"dwarf-laugh", "laugh"), ("wesnoth", r"groan", "moan"),
    ("wesnoth", r"(human|human-female|human-old|dwarf|elf|orc|orc-small)-hit-\d", "grunt"),
    ("wesnoth", r"(human|human-female|human-old|dwarf|orc|orc-small)-die-\d", "scream"),
]
VOCAL_LABELS = tuple(sorted({r[2] for r in VOCAL_RULES}))

# Ambience beds for acoustic scenes (scene label per file).
BED_RULES: list[tuple[str, str, str]] = [
    ("wesnoth", r"ambient/(birds\d|morning)", "forest"), ("wesnoth", r"ambient/campfire", "campfire"),
    ("wesnoth", r"ambient/night", "night"), ("wesnoth", r"ambient/ship", "harbour"),
    ("gcompris", r"harbor\d", "harbour"), ("gcompris", r"LRRain_in_garden_01_LA_cut|LRFrogsInPondDuringStormLACut", "rain"),
]
SCENE_LABELS = tuple(sorted({r[2] for r in BED_RULES}))

# Recorded instruments (GCompris instruments activity, Tux Paint stamps), named as the GM labels.
INSTRUMENT_RULES: list[tuple[str, str, str]] = [
    ("gcompris", r"piano", "piano"), ("gcompris", r"violin", "violin"), ("gcompris", r"cello", "cello"),
    ("gcompris", r"trumpet", "trumpet"), ("gcompris", r"clarinet", "clarinet"), ("gcompris", r"flute_traversiere", "flute"),
    ("gcompris", r"saxophone", "saxophone"), ("gcompris", r"organ", "organ"), ("gcompris", r"harp", "harp"),
    ("gcompris", r"guitar", "acoustic guitar"), ("gcompris", r"electric_guitar", "electric guitar"),
    ("gcompris", r"trombone", "trombone"), ("gcompris", r"tuba", "tuba"), ("gcompris", r"accordion", "accordion"),
    ("gcompris", r"banjo", "banjo"), ("gcompris", r"harmonica", "harmonica"), ("gcompris", r"timpani", "timpani"),
    ("gcompris", r"horn", "french horn"),
    ("tuxpaint", r"violin", "violin"), ("tuxpaint", r"cello", "cello"), ("tuxpaint", r"bassoon", "bassoon"),
]

GCOMPRIS_ARCHIVES = ("explore_farm_animals", "memory-sound", "melody", "railroad", "traffic", "guessnumber",
                     "canal_lock", "watercycle", "instruments")


@dataclass(frozen=True)
class SoundFile:
    id: str  # source:relative path (stable, used for held-out partitions)
    label: str
    source: str
    path: str  # file path, or archive path for rcc members
    member: str = ""  # rcc member name
    pack: str = ""  # voice pack / kit (Hedgewars, Hydrogen)


def _match(rules: list[tuple[str, str, str]], source: str, stem: str) -> str | None:
    for src, pattern, label in rules:
        if src == source and re.fullmatch(pattern, stem):
            return label
    return None


@lru_cache(maxsize=1)
def _gcompris_members() -> tuple[tuple[str, str], ...]:
    out = []
    for name in GCOMPRIS_ARCHIVES:
        p = GCOMPRIS / f"{name}.rcc"
        if p.is_file():
            for member in sorted(RccArchive(p).files):
                if member.endswith((".ogg", ".wav")):
                    out.append((str(p), member))
    return tuple(out)


@lru_cache(maxsize=1)
def _hydrogen_files() -> tuple[tuple[str, str, str], ...]:
    """(kit, instrument name, file) from each kit's drumkit.xml."""
    out = []
    if not HYDROGEN.is_dir():
        return ()
    for xml in sorted(HYDROGEN.glob("*/drumkit.xml")):
        try:
            root = ET.fromstring(xml.read_bytes())
        except ET.ParseError:
            continue
        ns = re.match(r"\{.*\}", root.tag)
        q = ns.group(0) if ns else ""
        for inst in root.iter(f"{q}instrument"):
            name = (inst.findtext(f"{q}name") or "").strip()
            for fn in inst.iter(f"{q}filename"):
                f = xml.parent / (fn.text or "").strip()
                if f.is_file():
                    out.append((xml.parent.name, name, str(f)))
                    break  # one layer per instrument is enough
    return tuple(out)


def _scan(rules: list[tuple[str, str, str]], with_dirs: bool = False) -> tuple[SoundFile, ...]:
    out: list[SoundFile] = []
    if WESNOTH.is_dir():
        for p in sorted(WESNOTH.rglob("*")):
            if p.suffix in (".ogg", ".wav"):
                rel = str(p.relative_to(WESNOTH).with_suffix(""))
                label = _match(rules, "wesnoth", rel if with_dirs else p.stem)
                if label:
                    out.append(SoundFile(f"wesnoth:{p.relative_to(WESNOTH)}", label, "wesnoth", str(p)))
    if HEDGEWARS.is_dir():
        for p in sorted(HEDGEWARS.rglob("*.ogg")):
            label = _match(rules, "hedgewars", p.stem)
            if label:
                rel = p.relative_to(HEDGEWARS)
                pack = rel.parts[1] if rel.parts[0] == "voices" and len(rel.parts) > 2 else ""
                out.append(SoundFile(f"hedgewars:{rel}", label, "hedgewars", str(p), pack=pack))
    for arch, member in _gcompris_members():
        label = _match(rules, "gcompris", Path(member).stem)
        if label:
            out.append(SoundFile(f"gcompris:{member.split('/activities/')[-1]}", label, "gcompris", arch, member))
    if TUXPAINT.is_dir():
        for p in sorted(TUXPAINT.rglob("*.ogg")):
            if "_desc" in p.name or "/math/" in str(p) or "/alphabet" in str(p):
                continue
            label = _match(rules, "tuxpaint", p.stem)
            if label:
                out.append(SoundFile(f"tuxpaint:{p.relative_to(TUXPAINT)}", label, "tuxpaint", str(p)))
    for kit, name, f in _hydrogen_files():
        label = _match(rules, "hydrogen", name.lower().replace(" ", ""))
        if label is None:
            label = _match(rules, "hydrogen", re.sub(r"[^a-z]", "", name.lower()))
        if label is None and any(r[0] == "hydrogen" for r in rules):
            for src, pattern, lab in rules:
                if src == "hydrogen" and re.search(pattern, name.lower()):
                    label = lab
                    break
        if label:
            out.append(SoundFile(f"hydrogen:{kit}/{Path(f).name}", label, "hydrogen", f, pack=kit))
    return tuple(sorted(out, key=lambda s: s.id))


@lru_cache(maxsize=1)
def events() -> tuple[SoundFile, ...]:
    return _scan(EVENT_RULES)


@lru_cache(maxsize=1)
def vocal_sounds() -> tuple[SoundFile, ...]:
    return _scan(VOCAL_RULES)


@lru_cache(maxsize=1)
def beds() -> tuple[SoundFile, ...]:
    return _scan(BED_RULES, with_dirs=True)


@lru_cache(maxsize=1)
def instruments() -> tuple[SoundFile, ...]:
    return _scan(INSTRUMENT_RULES)


def file_bytes(sf: SoundFile) -> bytes:
    """The recording as packaged (a plain file, or a member of a Qt .rcc archive)."""
    return RccArchive(sf.path).read(sf.member) if sf.member else Path(sf.path).read_bytes()


def digest(sf: SoundFile) -> str:
    """SHA-1 of the file's bytes: packs ship the same recording under several names (Hedgewars'
    Default and Classic voices share files), and a held-out pool must not hold a train file's twin."""
    return hashlib.sha1(file_bytes(sf)).hexdigest()


@lru_cache(maxsize=256)
def load(sf: SoundFile) -> np.ndarray:
    """Decoded float32 16 kHz mono; events are trimmed of leading/trailing silence."""
    wav = load_audio(file_bytes(sf))
    return wav if sf in beds() else trim(wav)
