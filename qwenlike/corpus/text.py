"""Text for the speech tasks: natural sentences (Debian `fortunes`), generated sentences, command
words, intent and entity templates, QA passages and spoken chat questions.

Every text item has a stable id derived from its content, which is what the held-out partition
hashes, so a sentence is in the same split whatever the seed and whatever else is installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .common import stable_hash

FORTUNE_DIR = Path("/usr/share/games/fortunes")
# Files of the `fortunes` package that hold plain, inoffensive sentences.
FORTUNE_FILES = ("fortunes", "education", "food", "science", "wisdom", "work", "people", "literature", "love")
# More files whose prose splits into plain, inoffensive sentences (the political, ethnic, drug and
# "men-women" files stay out): train-only transcription text, see `fortune_split_sentences`.
MORE_FORTUNE_FILES = FORTUNE_FILES + (
    "art", "computers", "cookie", "disclaimer", "kids", "miscellaneous", "platitudes", "pets", "sports",
    "songs-poems", "goedel", "paradoxum", "medicine", "magic", "humorists", "riddles", "law", "news")  # fmt: skip
_CLEAN = re.compile(r"^[A-Za-z][A-Za-z ,.'?!;-]*[.?!]$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@dataclass(frozen=True)
class Sentence:
    id: str
    text: str
    source: str


def _sid(text: str) -> str:
    return f"sent:{stable_hash(text.lower()):016x}"


def _fortune_blocks(files: tuple[str, ...]):
    """The fortunes of the installed files among `files`, in order."""
    for name in files:
        p = FORTUNE_DIR / name
        if p.is_file():
            yield from p.read_text(encoding="utf-8", errors="replace").split("\n%\n")


@lru_cache(maxsize=1)
def fortune_sentences() -> tuple[Sentence, ...]:
    """Short clean sentences from the Debian fortunes files (empty when not installed)."""
    out: dict[str, Sentence] = {}
    for block in _fortune_blocks(FORTUNE_FILES):
        text = " ".join(block.split())
        words = text.split()
        if not 4 <= len(words) <= 16 or not _CLEAN.match(text) or "  " in block.strip():
            continue
        if any(len(w) > 3 and w.isupper() for w in words) or "--" in text:
            continue
        out.setdefault(_sid(text), Sentence(_sid(text), text, "fortunes"))
    return tuple(out[k] for k in sorted(out))


def fortune_text_sentences(block: str) -> list[str]:
    """The clean 4-16 word sentences of one fortune: attribution lines ("-- Author") dropped, laid-out
    fortunes (verse, code, dialogue: indented lines) skipped, prose split at sentence ends."""
    lines = [ln for ln in block.split("\n") if not ln.strip().startswith("--")]
    if any(ln.startswith(("\t", "    ")) for ln in lines):
        return []
    out = []
    for s in _SENTENCE_END.split(" ".join(" ".join(lines).split())):
        words = s.split()
        if not 4 <= len(words) <= 16 or not _CLEAN.match(s) or "--" in s:
            continue
        if any(len(w) > 3 and w.isupper() for w in words):  # shouting, acronyms: hard to read aloud
            continue
        out.append(s)
    return out


@lru_cache(maxsize=1)
def fortune_split_sentences() -> tuple[Sentence, ...]:
    """Every clean sentence of the fortunes files in MORE_FORTUNE_FILES (~7,600 when installed).

    Not partitioned like `sentences()`: split sentences of one fortune would fall into different
    splits. Tasks use them for training only, after removing any that overlaps a held-out text
    (tasks_speech.asr_train_sentences)."""
    out: dict[str, Sentence] = {}
    for block in _fortune_blocks(MORE_FORTUNE_FILES):
        for text in fortune_text_sentences(block):
            out.setdefault(_sid(text), Sentence(_sid(text), text, "fortunes"))
    return tuple(out[k] for k in sorted(out))


_SUBJ = ["the old man", "my sister", "a small dog", "the teacher", "our neighbour", "the young girl",
         "a tired doctor", "the farmer", "his brother", "the pilot", "a quiet student", "the baker"]
_VERB = ["opened", "painted", "carried", "found", "cleaned", "sold", "watched", "fixed", "bought", "lost"]
_OBJ = ["the red door", "a wooden box", "the blue car", "an old map", "the kitchen window", "a heavy bag",
        "the garden gate", "a bright lamp", "the broken clock", "a green bicycle"]
_TAIL = ["this morning", "after lunch", "before the storm", "last winter", "on Sunday", "near the river",
         "in the evening", "at the market"]


@lru_cache(maxsize=1)
def generated_sentences() -> tuple[Sentence, ...]:
    """Template sentences: always available, so speech tasks work without `fortunes`."""
    out = []
    for i, s in enumerate(_SUBJ):
        for j, v in enumerate(_VERB):
            for k, o in enumerate(_OBJ):
                t = _TAIL[(i + j + k) % len(_TAIL)]
                text = f"{s[0].upper()}{s[1:]} {v} {o} {t}."
                out.append(Sentence(_sid(text), text, "generated"))
    return tuple(sorted(out, key=lambda s: s.id))


def sentences() -> tuple[Sentence, ...]:
    """All English sentences: fortunes first when installed, generated ones always."""
    return fortune_sentences() + generated_sentences()


KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
# Distractors: short common words that are not keywords (some sound close on purpose).
DISTRACTORS = ("bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin", "nine",
               "one", "seven", "sheila", "six", "three", "tree", "two", "wow", "zero", "learn", "follow",
               "forward", "backward", "visual", "yellow", "nose", "sun", "light", "toast")


@dataclass(frozen=True)
class Template:
    id: str
    kind: str  # intent name, or entity template family
    text: str  # with {slot} fields


_INTENTS = {
    "set_alarm": ["set an alarm for {time}", "wake me up at {time}", "please set my alarm to {time}",
                  "I need an alarm at {time}"],
    "set_timer": ["set a timer for {duration}", "start a {duration} timer", "count down {duration}",
                  "remind me in {duration}"],
    "weather_query": ["what is the weather in {place} {date}", "will it rain in {place} {date}",
                      "tell me the forecast for {place} {date}", "how cold is it in {place} {date}"],
    "play_music": ["play some {genre} music", "put on {genre} please", "I want to hear {genre}",
                   "start playing {genre} songs"],
    "call_contact": ["call {person}", "phone {person} now", "give {person} a call", "ring {person} please"],
    "lights_on": ["turn on the lights in the {room}", "switch the {room} lights on", "lights on in the {room}",
                  "make the {room} bright"],
    "lights_off": ["turn off the lights in the {room}", "switch the {room} lights off", "lights off in the {room}",
                   "make the {room} dark"],
}
SLOT_VALUES = {
    "time": ["seven am", "six thirty", "eight pm", "noon", "five fifteen", "nine o'clock", "ten am", "midnight"],
    "duration": ["five minutes", "ten minutes", "one hour", "thirty seconds", "twenty minutes", "two hours"],
    "place": ["london", "paris", "berlin", "madrid", "tokyo", "chicago", "rome", "oslo", "dublin", "lisbon"],
    "date": ["today", "tomorrow", "on monday", "this weekend", "on friday", "tonight"],
    "genre": ["jazz", "rock", "classical", "reggae", "country", "blues", "hip hop", "folk"],
    "person": ["anna", "david", "maria", "peter", "sophie", "james", "laura", "thomas", "emma", "lucas"],
    "room": ["kitchen", "bedroom", "living room", "bathroom", "office", "garage", "hallway"],
}


def intent_templates() -> tuple[Template, ...]:
    return tuple(Template(f"intent:{k}:{i}", k, t) for k in sorted(_INTENTS) for i, t in enumerate(_INTENTS[k]))


_ENTITY_TEMPLATES = [
    "{person} flew to {city} on {month} {number}.",
    "Yesterday {person} met {person2} in {city}.",
    "{person} paid {number} euros for a ticket to {city}.",
    "The meeting with {person} moved to {month}.",
    "{person} has lived in {city} for {number} years.",
    "In {month} {person} will visit {city}.",
    "{person} and {person2} bought {number} apples.",
    "We drove from {city} to {city2} with {person}.",
    "The parcel for {person} arrives in {city} in {month}.",
    "{person} ran {number} miles near {city}.",
    "My friend {person} was born in {month}.",
    "{person} sold {number} books in {city}.",
]
ENTITY_VALUES = {
    "person": ["Anna", "David", "Maria", "Peter", "Sophie", "James", "Laura", "Thomas", "Emma", "Lucas",
               "Olivia", "Noah", "Grace", "Henry", "Alice", "Samuel"],
    "city": ["London", "Paris", "Berlin", "Madrid", "Tokyo", "Chicago", "Rome", "Oslo", "Dublin", "Lisbon",
             "Vienna", "Prague", "Boston", "Sydney"],
    "month": ["January", "March", "April", "June", "July", "August", "October", "December"],
    "number": ["two", "three", "five", "seven", "ten", "twelve", "twenty", "forty"],
}
ENTITY_TYPES = {"person": "person", "person2": "person", "city": "location", "city2": "location",
                "month": "date", "number": "number"}


def entity_templates() -> tuple[Template, ...]:
    return tuple(Template(f"entity:{i}", "entities", t) for i, t in enumerate(_ENTITY_TEMPLATES))


# Spoken QA: a short passage of facts about a person; the question asks for one of them.
QA_FACTS = {
    "city": ("{name} lives in {v}.", "Where does {name} live?",
             ["Paris", "London", "Madrid", "Berlin", "Rome", "Vienna", "Dublin", "Oslo"]),
    "pet": ("{name} has a {v}.", "What pet does {name} have?",
            ["dog", "cat", "parrot", "rabbit", "horse", "goldfish"]),
    "colour": ("{name}'s favourite colour is {v}.", "What is {name}'s favourite colour?",
               ["red", "blue", "green", "yellow", "purple", "orange"]),
    "job": ("{name} works as a {v}.", "What is {name}'s job?",
            ["teacher", "nurse", "pilot", "baker", "farmer", "painter", "doctor"]),
    "sport": ("On weekends {name} plays {v}.", "What sport does {name} play?",
              ["tennis", "football", "chess", "golf", "basketball", "hockey"]),
    "count": ("{name} has {v} brothers.", "How many brothers does {name} have?",
              ["two", "three", "four", "five", "six"]),
}
QA_NAMES = ["Anna", "Ben", "Clara", "Daniel", "Eva", "Felix", "Greta", "Hugo", "Ivy", "Jack", "Kate", "Leo",
            "Mia", "Nick", "Olga", "Paul", "Rosa", "Sam", "Tina", "Victor"]


# Voice chat: spoken questions whose reply is computable, so the target is known without an LM.
_NUM = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_OPPOSITES = [("hot", "cold"), ("big", "small"), ("fast", "slow"), ("happy", "sad"), ("light", "dark"),
              ("early", "late"), ("open", "closed"), ("old", "new"), ("full", "empty"), ("up", "down")]
_CAPITALS = [("France", "Paris"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Germany", "Berlin"),
             ("Japan", "Tokyo"), ("Norway", "Oslo"), ("Ireland", "Dublin"), ("Portugal", "Lisbon"),
             ("Austria", "Vienna"), ("Greece", "Athens"), ("Egypt", "Cairo"), ("Canada", "Ottawa")]


def chat_prompts() -> tuple[tuple[str, str, str], ...]:
    """(id, spoken question, reply) triples."""
    out = []
    for a in range(1, 11):
        for b in range(1, 11):
            out.append((f"chat:add:{a}:{b}", f"What is {_NUM[a]} plus {_NUM[b]}?",
                        f"{_NUM[a].capitalize()} plus {_NUM[b]} is {_NUM[a + b]}."))
    for i, d in enumerate(_DAYS):
        out.append((f"chat:day:{d}", f"What day comes after {d}?", f"The day after {d} is {_DAYS[(i + 1) % 7]}."))
    for a, b in _OPPOSITES:
        out.append((f"chat:opp:{a}", f"What is the opposite of {a}?", f"The opposite of {a} is {b}."))
        out.append((f"chat:opp:{b}", f"What is the opposite of {b}?", f"The opposite of {b} is {a}."))
    for c, cap in _CAPITALS:
        out.append((f"chat:cap:{c}", f"What is the capital of {c}?", f"The capital of {c} is {cap}."))
    for w in ["cat", "dog", "sun", "book", "tree", "milk", "fish", "bird"]:
        out.append((f"chat:spell:{w}", f"How do you spell {w}?", f"{w} is spelled {'-'.join(w.upper())}."))
    return tuple(out)
