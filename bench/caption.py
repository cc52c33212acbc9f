"""Captioning throughput: `qwenlike caption` vs a plain per-clip loop with transformers' Qwen2-Audio.

Both sides run identical weights: a random `Qwen2AudioForConditionalGeneration` is saved by
transformers and imported by qwenlike. Baseline: for each clip, `Qwen2AudioProcessor` (30 s
padding) + `model.generate` (greedy). Ours: `caption_files` (length-sorted batches, KV cache),
once with the checkpoint's own 30 s masked encoding (identical numerics) and once encoding each
clip at its own length. Prints clips/s and ratios. Sizes: --size tiny | default (Whisper-base
encoder shapes + a SmolLM2-135M-shaped Qwen2 LM).

Run: .venv/bin/python bench/caption.py --size tiny --clips 32
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch


def build(size: str, out: Path) -> Path:
    from transformers import (Qwen2AudioConfig, Qwen2AudioEncoderConfig, Qwen2AudioForConditionalGeneration,
                              Qwen2AudioProcessor, Qwen2Config, WhisperFeatureExtractor)  # fmt: skip

    from qwenlike.tiny import tiny_qwen2_audio, tiny_tokenizer

    if size == "tiny":
        model, proc = tiny_qwen2_audio(seed=0)
    else:
        tok = tiny_tokenizer()
        text = Qwen2Config(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                           num_attention_heads=9, num_key_value_heads=3, tie_word_embeddings=True, pad_token_id=tok.pad_token_id)  # fmt: skip
        audio = Qwen2AudioEncoderConfig(num_mel_bins=80, encoder_layers=6, encoder_attention_heads=8, encoder_ffn_dim=2048, d_model=512)
        torch.manual_seed(0)
        model = Qwen2AudioForConditionalGeneration(Qwen2AudioConfig(audio_config=audio, text_config=text,
                                                   audio_token_index=tok.convert_tokens_to_ids("<|AUDIO|>"))).eval()  # fmt: skip
        proc = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tok)
    model.save_pretrained(out)
    proc.save_pretrained(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=["tiny", "default"], default="tiny")
    ap.add_argument("--clips", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    args = ap.parse_args()
    from transformers import Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor

    from qwenlike import audio as A
    from qwenlike.caption import CaptionConfig, caption_files
    from qwenlike.checkpoint import from_pretrained

    tmp = Path(tempfile.mkdtemp())
    ckpt = build(args.size, tmp / "q2a")
    rng = np.random.default_rng(0)
    files = []
    for i in range(args.clips):
        p = tmp / f"clip{i:03d}.wav"
        sf.write(p, (0.1 * rng.standard_normal(int(rng.uniform(2, 10) * 16000))).astype(np.float32), 16000)
        files.append(str(p))
    prompt = "Describe the audio in one sentence."
    # a fixed number of new tokens on both sides: random weights would stop at random places
    hf = Qwen2AudioForConditionalGeneration.from_pretrained(ckpt).eval()
    proc = Qwen2AudioProcessor.from_pretrained(ckpt)
    t = time.perf_counter()
    with torch.inference_mode():
        for f in files:
            wav = A.load(f)
            conv = [{"role": "user", "content": [{"type": "audio", "audio": f}, {"type": "text", "text": prompt}]}]
            text = proc.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
            inp = proc(text=text, audio=[wav], sampling_rate=16000, return_tensors="pt")
            hf.generate(**inp, max_new_tokens=args.max_new_tokens, min_new_tokens=args.max_new_tokens, do_sample=False)
    t_base = time.perf_counter() - t
    ours = from_pretrained(ckpt)
    ours.tokenizer.eos_token = None  # no early stop: the same token count as the baseline
    results = {}
    for label, pad in (("qwenlike caption, 30 s masked (exact numerics)", True), ("qwenlike caption, own-length encoding", False)):
        ours.encoder.pad_to_window = ours.config.pad_to_window = pad
        out = tmp / f"out-{pad}.jsonl"
        t = time.perf_counter()
        caption_files(ours, files, out, CaptionConfig(prompt=prompt, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens), progress=False)
        results[label] = time.perf_counter() - t
    n = len(files)
    print(f"size={args.size} clips={n} (2-10 s) new_tokens={args.max_new_tokens} batch={args.batch_size} threads={torch.get_num_threads()}")
    print(f"{'transformers Qwen2-Audio per-clip loop (baseline)':52s} {n / t_base:7.2f} clips/s")
    for label, sec in results.items():
        print(f"{label:52s} {n / sec:7.2f} clips/s   ratio {t_base / sec:5.1f}x  (target >= 3x)")


if __name__ == "__main__":
    main()
