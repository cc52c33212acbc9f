"""Encoder speed: a 5 s clip at its own length vs padded to 30 s with a mask (Qwen2-Audio's way).

Baseline: transformers' `Qwen2AudioEncoder` on the clip's 30 s features with the padding masked,
as `Qwen2AudioForConditionalGeneration` runs it. Ours: the same weights at the clip's own length,
and the exact-numerics path for imported Qwen2-Audio checkpoints (30 s features cropped past the
longest clip: padded frames are masked anyway).

Whisper-base shapes (6 layers, d_model 512, 8 heads, 80 mels), random weights: the cost is the
same as the real model's. Prints seconds per clip and the ratio. Run: .venv/bin/python bench/encoder.py
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from common import best
from transformers import WhisperConfig

from qwenlike import audio as A
from qwenlike.encoder import AudioEncoder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    args = ap.parse_args()
    from transformers import Qwen2AudioEncoder, Qwen2AudioEncoderConfig
    from transformers.masking_utils import create_bidirectional_mask

    cfg = WhisperConfig(num_mel_bins=80, d_model=512, encoder_layers=6, encoder_attention_heads=8, encoder_ffn_dim=2048)
    torch.manual_seed(0)
    ours = AudioEncoder(cfg).eval()
    exact = AudioEncoder(cfg, pad_to_window=True).eval()
    exact.load_state_dict(ours.state_dict())
    # the baseline is transformers' own Qwen2-Audio audio tower with the same weights
    q2a = Qwen2AudioEncoder(Qwen2AudioEncoderConfig(num_mel_bins=80, d_model=512, encoder_layers=6,
                                                    encoder_attention_heads=8, encoder_ffn_dim=2048)).eval()  # fmt: skip
    q2a.load_state_dict(ours.whisper.state_dict())
    dt = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    for m in (ours, exact, q2a):
        m.to(dt)
    clip = (0.1 * np.random.default_rng(0).standard_normal(int(args.seconds * 16000))).astype(np.float32)
    f_var = A.log_mel([clip])
    f_pad = A.log_mel([clip], pad_to=A.WINDOW_SAMPLES)
    e = int(A.encoder_frames(f_pad.frames)[0])
    mask2d = (torch.arange(1500)[None] < e).long()

    def baseline():
        mask = create_bidirectional_mask(config=q2a.config, inputs_embeds=torch.zeros(1, 1500, 1, dtype=dt), attention_mask=mask2d)
        return q2a(f_pad.mel.to(dt), attention_mask=mask).last_hidden_state

    with torch.inference_mode():
        t_base = best(baseline, 5)
        t_var = best(lambda: ours(f_var), 5)
        t_exact = best(lambda: exact(f_pad), 5)
    print(f"threads={torch.get_num_threads()} dtype={args.dtype} clip={args.seconds:.1f} s, whisper-base encoder shapes")
    print(f"transformers Qwen2AudioEncoder, 30 s + mask (baseline)   : {1000 * t_base:8.1f} ms")
    print(f"qwenlike, own length (built models)                      : {1000 * t_var:8.1f} ms   ratio {t_base / t_var:5.1f}x  (target >= 4x)")
    print(f"qwenlike, Qwen2-Audio numerics (30 s features, cropped)  : {1000 * t_exact:8.1f} ms   ratio {t_base / t_exact:5.1f}x")


if __name__ == "__main__":
    main()
