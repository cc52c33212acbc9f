"""Log-mel speed: transformers' WhisperFeatureExtractor (numpy path, and its torch path) vs ours.

Prints seconds per 10 s clip for a batch of clips, and the ratio against the numpy path
(the issue's named baseline). Run: .venv/bin/python bench/features.py [--clips 16]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from common import best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--n-mels", type=int, default=80)
    args = ap.parse_args()
    import transformers.models.whisper.feature_extraction_whisper as fx
    from transformers import WhisperFeatureExtractor

    from qwenlike import audio as A

    rng = np.random.default_rng(0)
    clips = [(0.1 * rng.standard_normal(int(args.seconds * 16000))).astype(np.float32) for _ in range(args.clips)]
    fe = WhisperFeatureExtractor(feature_size=args.n_mels)
    t_torch = best(lambda: fe(clips, sampling_rate=16000, return_tensors="np"))
    real = fx.is_torch_available
    fx.is_torch_available = lambda: False  # force the numpy path
    try:
        t_np = best(lambda: fe(clips, sampling_rate=16000, return_tensors="np"), repeat=1)
    finally:
        fx.is_torch_available = real
    t_ours = best(lambda: A.log_mel(clips, n_mels=args.n_mels))
    n = args.clips
    print(f"threads={torch.get_num_threads()} clips={n} x {args.seconds:.0f} s, {args.n_mels} mels")
    print(f"WhisperFeatureExtractor numpy path : {1000 * t_np / n:8.2f} ms per clip   (baseline)")
    print(f"WhisperFeatureExtractor torch path : {1000 * t_torch / n:8.2f} ms per clip   ratio {t_np / t_torch:6.1f}x")
    print(f"qwenlike audio.log_mel (batched)   : {1000 * t_ours / n:8.2f} ms per clip   ratio {t_np / t_ours:6.1f}x  (target >= 10x)")


if __name__ == "__main__":
    main()
