"""Text to speech for spoken prompts and voice-chat questions: espeak-ng, Piper, and a disk cache.

Floor 3 (paths, errors): the `spoken` prompt form of qwenlike.tasks reads instructions with it,
and qwenlike.voicechat speaks its questions with it. A TTS is any callable text -> audio payload.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ..errors import UserError


class EspeakTTS:
    """espeak-ng in a subprocess: text -> WAV bytes (22.05 kHz; audio.load resamples)."""

    engine = "espeak"

    def __init__(
        self, voice: str = "en-us", speed: int | None = None, pitch: int | None = None, exe: str = "espeak-ng"
    ):
        self.exe = shutil.which(exe)
        if self.exe is None:
            raise UserError(f"{exe} not found: install espeak-ng (apt-get install espeak-ng) or use PiperTTS")
        self.voice, self.speed, self.pitch = voice, speed, pitch

    @property
    def name(self) -> str:
        return (
            f"espeak:{self.voice}"
            + (f":s{self.speed}" if self.speed else "")
            + (f":p{self.pitch}" if self.pitch else "")
        )

    def __call__(self, text: str) -> bytes:
        # -w writes a WAV with true sizes (--stdout writes a streaming header audio.load rejects);
        # the text goes through stdin so a leading '-' is never read as a flag
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "say.wav"
            cmd = [self.exe, "-v", self.voice, "-w", str(out)]
            cmd += ["-s", str(self.speed)] if self.speed else []
            cmd += ["-p", str(self.pitch)] if self.pitch else []
            r = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=60)
            if r.returncode != 0 or not out.exists():
                raise RuntimeError(f"espeak-ng failed ({r.returncode}): {r.stderr.decode(errors='replace')[:200]}")
            return out.read_bytes()


class PiperTTS:
    """Piper (neural TTS) from an .onnx voice file; needs `pip install piper-tts`."""

    engine = "piper"

    def __init__(self, model_path: str | Path):
        try:
            from piper import PiperVoice
        except ImportError:
            raise UserError("PiperTTS needs the piper-tts package") from None
        self.voice = PiperVoice.load(str(model_path))
        self.name = f"piper:{Path(model_path).stem}"

    def __call__(self, text: str) -> bytes:
        import wave

        buf = io.BytesIO()
        with wave.open(buf, "wb") as wf:
            if hasattr(self.voice, "synthesize_wav"):  # piper-tts >= 1.3
                self.voice.synthesize_wav(text, wf)
            else:
                self.voice.synthesize(text, wf)
        return buf.getvalue()


def default_tts() -> EspeakTTS:
    """espeak-ng: the one engine every machine of this project has (Piper needs a voice file)."""
    return EspeakTTS()


class CachedTTS:
    """A TTS with an on-disk cache keyed by (engine name, text): each prompt is spoken once."""

    def __init__(self, tts: Any, cache_dir: str | Path | None = None):
        from ..paths import cache_dir as default_cache

        self.tts = tts
        self.name = getattr(tts, "name", type(tts).__name__)
        self.engine = getattr(tts, "engine", "tts")
        self.dir = Path(cache_dir) if cache_dir else default_cache() / "tts"
        self.dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, text: str) -> bytes:
        key = hashlib.sha1(f"{self.name}\x1f{text}".encode()).hexdigest()
        path = self.dir / f"{key}.wav"
        if path.exists():
            return path.read_bytes()
        data = self.tts(text)
        tmp = path.with_suffix(f".{os.getpid()}.{os.urandom(4).hex()}.tmp")  # atomic: parallel workers share the cache
        tmp.write_bytes(data)
        tmp.replace(path)
        return data
