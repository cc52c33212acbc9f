"""Encoder speed: a 5 s clip at its own length vs padded to 30 s with a mask (Qwen2-Audio's way).

Whisper-base shapes (6 layers, d_model 512, 8 heads, 80 mels), random weights: the cost is the
same as the real model's. Prints seconds per clip and the ratio. Run: .venv/bin/python bench/encoder.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from transformers import WhisperConfig

from qwenlike import audio as A
from qwenlike.encoder import AudioEncoder


def best(fn, repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    args = ap.parse_args()
    cfg = WhisperConfig(num_mel_bins=80, d_model=512, encoder_layers=6, encoder_attention_heads=8, encoder_ffn_dim=2048)
    torch.manual_seed(0)
    ours = AudioEncoder(cfg).eval()
    padded = AudioEncoder(cfg, pad_to_window=True).eval()
    padded.load_state_dict(ours.state_dict())
    dt = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    ours.to(dt), padded.to(dt)
    clip = (0.1 * np.random.default_rng(0).standard_normal(int(args.seconds * 16000))).astype(np.float32)
    f_var = A.log_mel([clip])
    f_pad = A.log_mel([clip], pad_to=A.WINDOW_SAMPLES)
    with torch.inference_mode():
        h_var, n_var = ours(f_var)
        h_pad, n_pad = padded(f_pad)
        t_var = best(lambda: ours(f_var))
        t_pad = best(lambda: padded(f_pad))
    diff = (h_var[0, : int(n_var[0])] - h_pad[0, : int(n_pad[0])]).abs().max().item()
    print(f"threads={torch.get_num_threads()} dtype={args.dtype} clip={args.seconds:.1f} s, whisper-base encoder shapes")
    print(f"padded to 30 s + mask (Qwen2-Audio) : {1000 * t_pad:8.1f} ms   (baseline)")
    print(f"own length (qwenlike)               : {1000 * t_var:8.1f} ms   ratio {t_pad / t_var:5.1f}x  (target >= 4x)")
    print(f"max |difference| of the valid frames: {diff:.2e} (the variable path sees zeros past the clip, not silence frames)")


if __name__ == "__main__":
    main()
