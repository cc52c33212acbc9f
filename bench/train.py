"""Training throughput: `qwenlike train` against transformers' Qwen2-Audio under the HF Trainer.

Both sides get the default model's shapes with random weights (no hub): a Whisper-base encoder
(d_model 512, 6 layers, 8 heads, 80 mels) and a SmolLM2-135M-shaped Llama LM (hidden 576, 30
layers, 9 heads, 3 kv heads, intermediate 1536, vocab 49152, tied embeddings), the same clips,
the same answers, the same batch size and accumulation, the same precision (bf16 autocast where
bf16 matmuls are fast: AMX CPUs, GPUs; fp32 on an AVX2-only CPU, where bf16 is ~30x slower), every
weight trained.

  baseline  Qwen2AudioForConditionalGeneration + Qwen2AudioProcessor (the encoder runs on 30 s
            padded features; the LM gets 25 audio tokens per second of real audio), transformers.Trainer
  qwenlike  `qwenlike.train` (clips at their own length, stack-4 projector, loss on answer rows)

Prints audio-seconds/s and tokens/s of each (the best optimizer step after the first, which warms
up: other jobs on a shared machine only slow steps down),
the ratio, and the model FLOPs utilisation (MFU) of qwenlike against the bf16 matmul peak this
script measures on the machine (and against the fp32 peak when training ran in fp32).
Run: .venv/bin/python bench/train.py [--steps 3 --batch 2 --accum 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np
import torch

ENC = dict(num_mel_bins=80, d_model=512, encoder_layers=6, encoder_attention_heads=8, encoder_ffn_dim=2048, max_source_positions=1500)
LM = dict(vocab_size=49152, hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
          intermediate_size=1536, tie_word_embeddings=True, max_position_embeddings=8192)  # fmt: skip
ANSWERS = [
    "a dog is barking in the distance while rain falls on a tin roof",
    "the quick brown fox jumps over the lazy dog",
    "a man says hello how are you today and a bell rings twice",
    "a woman sings a song with a piano, one two three four five",
]


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeat: int = 8) -> float:
    """Best FLOP/s of an n x n x n matmul in `dtype` on this machine's threads."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def make_clips(out: Path, n: int, seed: int = 0) -> Path:
    """n clips of 3-8 s (tones + noise) and a manifest: analysis questions with text answers."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        sec = 3.0 + 5.0 * rng.random()
        t = np.arange(int(sec * 16000)) / 16000
        wave = 0.2 * np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.05 * rng.standard_normal(t.size)
        sf.write(out / f"clips/{i}.wav", wave.astype(np.float32), 16000, subtype="PCM_16")
        user = [{"type": "audio", "audio": f"clips/{i}.wav"}, {"type": "text", "text": "Describe the audio."}]
        lines.append(json.dumps({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": ANSWERS[i % 4]}]}))
    (out / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return out / "manifest.jsonl"


def build_ours(out: Path) -> Path:
    from transformers import LlamaConfig

    from qwenlike.model import AudioLM, AudioLMConfig
    from qwenlike.projector import ProjectorConfig
    from qwenlike.tiny import tiny_tokenizer

    tok = tiny_tokenizer()
    lm = LlamaConfig(**LM, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    cfg = AudioLMConfig(encoder=dict(ENC), lm=lm.to_dict(), projector=ProjectorConfig(kind="stack-mlp", stride=4, hidden=1024),
                        chat_template="tokenizer")  # fmt: skip
    torch.manual_seed(0)
    AudioLM(cfg, tokenizer=tok).save_pretrained(str(out))
    return out


def lm_flops_per_token(n_layers: int, h: int, inter: int, kv: int, heads: int) -> float:
    """Forward matmul FLOPs per token of one Llama layer stack (no attention scores, no head)."""
    d_head = h // heads
    per_layer = 2 * (h * h + 2 * h * kv * d_head + h * h) + 2 * 3 * h * inter
    return n_layers * per_layer


def ours_flops(row: dict, micro_rows: float) -> float:
    """Model FLOPs of one optimizer step from its log row (forward x 3 = forward + backward)."""
    tokens, answers, seconds = row["tokens"], row["assistant_tokens"], row["audio_seconds"]
    h, v = LM["hidden_size"], LM["vocab_size"]
    lm = lm_flops_per_token(LM["num_hidden_layers"], h, LM["intermediate_size"], LM["num_key_value_heads"], LM["num_attention_heads"])
    seq = tokens / micro_rows  # mean conversation length
    attn_lm = LM["num_hidden_layers"] * 4 * seq * h * tokens  # QK^T and AV over the causal... full square (upper bound / 2 causal)
    d = ENC["d_model"]
    frames = seconds * 50  # encoder frames (50 Hz)
    enc = ENC["encoder_layers"] * (2 * 4 * d * d + 2 * 2 * d * ENC["encoder_ffn_dim"]) * frames
    clip_frames = frames / micro_rows
    attn_enc = ENC["encoder_layers"] * 4 * clip_frames * d * frames
    audio_tokens = frames / 4
    proj = 2 * (4 * d * 2 * 1024 + 1024 * h) * audio_tokens
    head = 2 * h * v * answers
    fwd = lm * tokens + attn_lm / 2 + enc + attn_enc + proj + head
    return 3 * fwd


def run_ours(model_dir: Path, manifest: Path, out: Path, steps: int, batch: int, accum: int, precision: str) -> dict:
    from qwenlike.train import run

    summary = run([f"model.path={model_dir}", f"data.manifest={manifest}", f"output_dir={out}", f"max_steps={steps}",
                   f"global_batch_size={batch * accum}", f"data.micro_batch_size={batch}", "data.bucket_batches=8",
                   "model.encoder=full", "model.projector=full", "model.lm=full", f"precision={precision}", "optim.lr=1e-5",
                   "progress=false", "loss_plot=false", "tensorboard=false", "save_every=0", "optim.warmup_steps=0"])  # fmt: skip
    rows = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()][1:]  # step 1 warms up
    for r in rows:
        r["audio_seconds"] = r["audio_seconds_per_s"] * r["step_seconds"]
        r["flops"] = ours_flops(r, batch * accum)
    # the best step: other jobs on a shared machine only ever slow a step down (timeit's rule)
    best = min(rows, key=lambda r: r["step_seconds"] / max(r["audio_seconds"], 1e-9))
    t = best["step_seconds"]
    return {
        "audio_seconds_per_s": best["audio_seconds"] / t, "tokens_per_s": best["tokens"] / t, "flops_per_s": best["flops"] / t,
        "step_seconds": t, "loss": rows[-1]["loss"], "text_padding": float(np.mean([r["text_padding"] for r in rows])),
    }  # fmt: skip


def run_baseline(manifest: Path, out: Path, steps: int, batch: int, accum: int, precision: str) -> dict:
    """Qwen2-Audio + its processor under transformers.Trainer, the usual fine-tuning recipe."""
    from transformers import (LlamaConfig, Qwen2AudioConfig, Qwen2AudioEncoderConfig, Qwen2AudioForConditionalGeneration,
                              Qwen2AudioProcessor, Trainer, TrainerCallback, TrainingArguments, WhisperFeatureExtractor)  # fmt: skip

    from qwenlike import audio as A
    from qwenlike.tiny import tiny_tokenizer

    tok = tiny_tokenizer()
    audio_id = tok.convert_tokens_to_ids("<|AUDIO|>")
    lm = LlamaConfig(**LM, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    enc = Qwen2AudioEncoderConfig(**{k: v for k, v in ENC.items()})
    cfg = Qwen2AudioConfig(audio_config=enc, text_config=lm.to_dict(), audio_token_index=audio_id)
    torch.manual_seed(0)
    model = Qwen2AudioForConditionalGeneration(cfg)
    proc = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tok)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    base = manifest.parent

    class Data(torch.utils.data.Dataset):
        def __len__(self):
            return len(rows)

        def __getitem__(self, i):
            return rows[i]

    seconds_seen = []

    def collate(batch_rows):
        texts, audios, answers = [], [], []
        for r in batch_rows:
            msgs = r["messages"]
            conv = [{"role": m["role"], "content": m["content"]} for m in msgs]
            texts.append(proc.apply_chat_template(conv, tokenize=False))
            audios.append(A.load(base / msgs[0]["content"][0]["audio"]))
            answers.append(msgs[-1]["content"])
        enc_in = proc(text=texts, audio=audios, sampling_rate=16000, return_tensors="pt", padding=True)
        labels = enc_in["input_ids"].clone()
        labels[enc_in["attention_mask"] == 0] = -100
        for b, ans in enumerate(answers):  # loss on the answer only, as fine-tuning recipes mask it
            n = len(tok(ans + "<|im_end|>", add_special_tokens=False)["input_ids"])
            end = int(enc_in["attention_mask"][b].nonzero().max()) + 1
            labels[b, : end - n - 1] = -100  # (the template ends "<|im_end|>\n")
        enc_in["labels"] = labels
        seconds_seen.append(sum(len(a) for a in audios) / 16000)
        enc_in["_tokens"] = int(enc_in["attention_mask"].sum())
        return enc_in

    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - self.t)

    token_counts = []

    def collate_counted(b):
        enc_in = collate(b)
        token_counts.append(enc_in.pop("_tokens"))
        return enc_in

    args = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=batch, gradient_accumulation_steps=accum, max_steps=steps,
        bf16=precision == "bf16", use_cpu=not torch.cuda.is_available(), logging_steps=1, save_strategy="no", report_to=[], learning_rate=1e-5,
        dataloader_num_workers=0, remove_unused_columns=False, disable_tqdm=True,
    )  # fmt: skip
    trainer = Trainer(model=model, args=args, train_dataset=Data(), data_collator=collate_counted, callbacks=[Clock()])
    trainer.train()
    # per optimizer step (accum micro-batches each); drop the first (warm-up) and keep the best, as for qwenlike
    steps_done = [(sum(seconds_seen[i * accum : (i + 1) * accum]), sum(token_counts[i * accum : (i + 1) * accum]), times[i])
                  for i in range(1, len(times))]  # fmt: skip
    sec, tok, t = max(steps_done, key=lambda x: x[0] / x[2])
    return {"audio_seconds_per_s": sec / t, "tokens_per_s": tok / t, "step_seconds": t}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4, help="optimizer steps (the first is not timed; the best of the rest counts)")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--accum", type=int, default=1)
    ap.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
    ap.add_argument("--clips", type=int, default=32)
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or os.cpu_count() or 1)
    from qwenlike.train import fast_bf16

    peak32 = matmul_peak(torch.float32)
    peak16 = matmul_peak(torch.bfloat16, n=2048 if fast_bf16(torch.device("cpu")) else 256, repeat=3)
    precision = args.precision if args.precision != "auto" else ("bf16" if fast_bf16(torch.device("cpu")) else "fp32")
    print(f"threads={torch.get_num_threads()}  matmul peak: bf16 {peak16 / 1e9:.1f} GFLOP/s, fp32 {peak32 / 1e9:.1f} GFLOP/s; "
          f"training precision: {precision}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifest = make_clips(tmp / "data", args.clips)
        model_dir = build_ours(tmp / "model")
        ours = run_ours(model_dir, manifest, tmp / "ours", args.steps, args.batch, args.accum, precision)
        print(f"qwenlike train    : {ours['audio_seconds_per_s']:7.2f} audio-s/s  {ours['tokens_per_s']:8.1f} tokens/s  "
              f"{ours['step_seconds']:6.2f} s/step  padding {ours['text_padding']:.1%}", flush=True)  # fmt: skip
        print(f"qwenlike MFU      : {ours['flops_per_s'] / 1e9:.1f} GFLOP/s model FLOPs = {ours['flops_per_s'] / peak16:.1%} of the "
              f"measured bf16 peak (target >= 30%), {ours['flops_per_s'] / peak32:.1%} of the fp32 peak", flush=True)  # fmt: skip
        if not args.skip_baseline:
            base = run_baseline(manifest, tmp / "base", args.steps, args.batch, args.accum, precision)
            print(f"baseline (Q2A+HF) : {base['audio_seconds_per_s']:7.2f} audio-s/s  {base['tokens_per_s']:8.1f} tokens/s  "
                  f"{base['step_seconds']:6.2f} s/step  (encoder on 30 s padded windows; LM sees 25 audio tokens per second)")  # fmt: skip
            print(f"ratio             : {ours['audio_seconds_per_s'] / base['audio_seconds_per_s']:.1f}x audio-seconds/s (target >= 2x)")
        print(f"batch {args.batch} x accumulation {args.accum}, best of steps 2..{args.steps}, {args.clips} clips of 3-8 s, "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    main()
