"""The 30 tasks of TASKS.md as the corpus builds them: family, closed label set (None for open
answers), allowed duration range, and the generator function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import speech, tasks_music as tm, tasks_sound as ts, tasks_speech as tsp, text
from .common import Example
from .sounds import EVENT_LABELS, VOCAL_LABELS


@dataclass(frozen=True)
class TaskSpec:
    name: str
    family: str
    labels: tuple[str, ...] | None  # closed-set labels, sorted; None = open answer
    duration: tuple[float, float]  # seconds, inclusive bounds every clip must meet
    gen: Callable[[str, int, np.random.Generator], Example]
    sources: tuple[str, ...]  # source modules used (for the data card)


def _s(*labels: str) -> tuple[str, ...]:
    return tuple(sorted(labels))


SPEECH_SRC = ("speech.piper", "speech.espeak", "speech.mbrola", "speech.pico", "text.fortunes")
TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("asr", "speech", None, (0.2, 30.0), tsp.asr, SPEECH_SRC + ("recordings.ktuberling", "recordings.klettres")),
    TaskSpec("asr_timestamps", "speech", None, (0.5, 30.0), tsp.asr_timestamps, SPEECH_SRC),
    TaskSpec("speech_translation", "speech", None, (0.3, 30.0), tsp.speech_translation, SPEECH_SRC + ("recordings.tuxpaint",)),
    TaskSpec("language_id", "speech", _s(*speech.LID_LANGUAGES.values()), (0.2, 30.0), tsp.language_id,
             ("speech.espeak", "recordings.tuxpaint", "recordings.ktuberling")),
    TaskSpec("accent_id", "speech", _s(*speech.ACCENTS.values()), (0.5, 30.0), tsp.accent_id, ("speech.espeak", "text.fortunes")),
    TaskSpec("speaker_gender", "speech", _s("female", "male"), (0.5, 30.0), tsp.speaker_gender, SPEECH_SRC),
    TaskSpec("speaker_age", "speech", _s("adult", "child", "elderly"), (0.5, 30.0), tsp.speaker_age, ("speech.espeak",)),
    TaskSpec("speech_emotion", "speech", _s("angry", "happy", "neutral", "sad"), (0.5, 30.0), tsp.speech_emotion,
             ("speech.espeak", "speech.mbrola")),
    TaskSpec("speaker_verification", "speech", _s("different", "same"), (0.5, 30.0), tsp.speaker_verification,
             ("speech.espeak", "speech.mbrola", "speech.pico")),
    TaskSpec("speaker_count", "speech", _s("1", "2", "3", "4"), (0.5, 30.0), tsp.speaker_count, SPEECH_SRC),
    TaskSpec("keyword_spotting", "speech", _s(*text.KEYWORDS, "none"), (0.9, 3.0), tsp.keyword_spotting, SPEECH_SRC),
    TaskSpec("intent_slots", "speech", None, (0.5, 15.0), tsp.intent_slots, SPEECH_SRC),
    TaskSpec("speech_entities", "speech", None, (0.5, 15.0), tsp.speech_entities, SPEECH_SRC),
    TaskSpec("spoken_qa", "speech", None, (1.0, 30.0), tsp.spoken_qa, SPEECH_SRC),
    TaskSpec("overlapped_asr", "speech", None, (0.5, 30.0), tsp.overlapped_asr, SPEECH_SRC),
    TaskSpec("vocal_sound", "speech", VOCAL_LABELS, (0.2, 10.0), ts.vocal_sound, ("sounds.hedgewars", "sounds.wesnoth")),
    TaskSpec("audio_caption", "sound", None, (4.0, 12.0), ts.audio_caption, ("mix.scene", "sounds.*")),
    TaskSpec("sound_event", "sound", EVENT_LABELS, (0.2, 6.0), ts.sound_event,
             ("sounds.gcompris", "sounds.wesnoth", "sounds.tuxpaint", "sounds.hydrogen", "sounds.hedgewars")),
    TaskSpec("acoustic_scene", "sound", ts.SCENE_LABELS, (4.0, 12.0), ts.acoustic_scene, ("mix.scene", "sounds.*")),
    TaskSpec("sound_event_detection", "sound", None, (4.0, 12.0), ts.sound_event_detection, ("mix.scene", "sounds.*")),
    TaskSpec("audio_qa", "sound", None, (4.0, 12.0), ts.audio_qa, ("mix.scene", "sounds.*")),
    TaskSpec("audio_grounding", "sound", None, (4.0, 12.0), ts.audio_grounding, ("mix.scene", "sounds.*")),
    TaskSpec("event_counting", "sound", ts.COUNT_LABELS, (3.0, 12.0), ts.event_counting, ("mix.scene", "sounds.*")),
    TaskSpec("music_caption", "music", None, (7.0, 14.0), tm.music_caption, ("music.fluidsynth", "music.generated")),
    TaskSpec("instrument", "music", tuple(sorted(tm.music.GM_INSTRUMENTS)), (0.5, 8.0), tm.instrument,
             ("music.fluidsynth", "sounds.gcompris", "sounds.tuxpaint")),
    TaskSpec("music_style", "music", tm.music.STYLE_LABELS, (7.0, 11.0), tm.music_style, ("music.music21", "music.fluidsynth")),
    TaskSpec("note_analysis", "music", tuple(sorted(tm.PITCH_LABELS)), (1.0, 4.0), tm.note_analysis, ("music.fluidsynth",)),
    TaskSpec("music_qa", "music", None, (2.0, 14.0), tm.music_qa, ("music.fluidsynth", "music.generated")),
    TaskSpec("composer_id", "music", tuple(sorted(tm.music.COMPOSERS)), (7.0, 11.0), tm.composer_id,
             ("music.music21", "music.fluidsynth")),
    TaskSpec("voice_chat", "chat", None, (0.5, 30.0), tsp.voice_chat, SPEECH_SRC),
)
BY_NAME = {t.name: t for t in TASKS}
assert len(TASKS) == 30 and len(BY_NAME) == 30
