"""Regenerate the bundled example clips in qwenlike/examples/ with the corpus tools (deterministic).

    .venv/bin/python scripts/make_examples.py      # needs bash scripts/install_assets.sh

quick_brown_fox.wav predates this script (espeak-ng, see examples/LICENSE.md) and is left alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from qwenlike.corpus import music, sounds, speech

OUT = Path(__file__).resolve().parent.parent / "qwenlike" / "examples"
SR = 16000


def peak_normalize(wav: np.ndarray, peak: float) -> np.ndarray:
    m = float(np.abs(wav).max())
    return (wav * (peak / m)).astype(np.float32) if m > 0 else wav


def write(name: str, wav: np.ndarray) -> None:
    wav = np.clip(wav, -1.0, 1.0)
    sf.write(OUT / name, wav, SR, subtype="PCM_16")
    print(f"{name}: {len(wav) / SR:.2f} s")


def main() -> int:
    pad = np.zeros(int(0.25 * SR), np.float32)
    # Voice chat: the question is the whole user turn (Piper 'joe', held out of training as a sentence).
    q = speech._piper("What is the capital of France?", 1.0)
    write("capital_of_france.wav", peak_normalize(np.concatenate([pad, q, pad]), 0.7))
    # A 10 s spoken report: the latency figure in docs/default-model.md.
    text = ("Good morning. Today will be mostly sunny with a light breeze from the west, "
            "and temperatures will reach about twenty degrees in the afternoon. "
            "Clouds will move in from the sea tonight.")
    w = speech._piper(text, 1.0)
    w = np.concatenate([pad, w, np.zeros(max(0, 10 * SR - len(w) - len(pad)), np.float32)])[: 10 * SR]
    write("weather_report.wav", peak_normalize(w, 0.7))
    # A held-out recording (test split of the corpus): Tux Paint's cow.
    cow = next(s for s in sounds.events() if s.id == "tuxpaint:animals/mammals/bovines/cow.ogg")
    write("cow.wav", peak_normalize(np.concatenate([pad, sounds.load(cow)[: 5 * SR], pad]), 0.7))
    # A rendered melody (FluidSynth, FluidR3 GM): a violin, C major, 4 s.
    rng = np.random.default_rng(0)
    notes, _meta = music.generate_piece(rng, "violin", "C", "major", 100, "4/4", 4.0, False)
    write("violin.wav", peak_normalize(music.render(notes, 4.5), 0.7))
    return 0


if __name__ == "__main__":
    sys.exit(main())
