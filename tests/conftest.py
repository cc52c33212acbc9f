"""Shared fixtures: tiny models built from configs (no hub), clips made in memory."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np
import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def tone(seconds: float, freq: float = 440.0, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """A tone with a little noise: deterministic, not silent, not clipped."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="session")
def q2a_dir(tmp_path_factory):
    """A tiny random Qwen2-Audio checkpoint, saved by transformers."""
    from qwenlike.tiny import save_tiny_qwen2_audio

    return save_tiny_qwen2_audio(tmp_path_factory.mktemp("q2a") / "model", seed=0)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """A tiny random qwenlike AudioLM (stack-mlp projector, Llama LM, tokenizer template)."""
    from qwenlike.tiny import build_tiny_audiolm

    return build_tiny_audiolm(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session")
def wav_path(tmp_path_factory):
    import soundfile as sf

    p = tmp_path_factory.mktemp("clips") / "tone.wav"
    sf.write(p, tone(2.0), 16000, subtype="PCM_16")
    return p


def tiny_align_args(manifest, out, *extra: str) -> list[str]:
    """`qwenlike train` arguments: recipes/align.yaml on a tiny model and a manifest, quiet."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return [os.path.join(root, "recipes", "align.yaml"), "model.path=null", "model.tiny=true", "data.corpus=null",
            "data.mixture=null", f"data.manifest={manifest}", f"output_dir={out}", "progress=false", "loss_plot=false",
            "tensorboard=false", *extra]  # fmt: skip
