"""The default model's latency and memory on a 10 s clip: ours vs the plain transformers way.

Ours: what `qwenlike ask` runs after loading: decode the clip, encode it at its own length,
`qwenlike.generate` (KV cache). Baseline, same weights and prompt: Qwen2-Audio's numerics (the clip's
features padded to a 30 s window, encoded whole, then cropped) and the LM's own transformers
`generate(inputs_embeds=...)`. Both greedy, the same number of new tokens. Also prints the load
time and this process's peak resident memory against the issue's targets (answer < 3 s, < 3 GB).

Run: .venv/bin/python bench/default_model.py [--model default] [--clip qwenlike/examples/weather_report.wav]
"""

from __future__ import annotations

import argparse
import time

import torch
from common import best

from qwenlike import audio as A
from qwenlike.chat import analysis
from qwenlike.checkpoint import from_pretrained
from qwenlike.cli import peak_rss_mb
from qwenlike.generate import GenerationConfig, generate
from qwenlike.inputs import prepare
from qwenlike.paths import EXAMPLES_DIR

QUESTION = "What is said in this clip?"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="default")
    ap.add_argument("--clip", default=str(EXAMPLES_DIR / "weather_report.wav"))
    ap.add_argument("--tokens", type=int, default=24)
    args = ap.parse_args()
    torch.set_num_threads(2)
    t = time.perf_counter()
    model = from_pretrained(args.model)
    load_s = time.perf_counter() - t
    conv = analysis([args.clip], QUESTION)
    cfg = GenerationConfig(max_new_tokens=args.tokens)

    out: dict = {}

    def ours() -> None:
        wave = A.load(args.clip)
        out["ours"] = generate(model, [conv], cfg, clips=[[wave]])[0]

    def baseline() -> None:
        wave = A.load(args.clip)
        model.encoder.pad_to_window = True  # Qwen2-Audio: 30 s window, encoded whole
        try:
            b = prepare([conv], model.tokenizer, model.config, add_generation_prompt=True, clips=[[wave]])
            with torch.no_grad():
                emb = model.embed(b.input_ids, b.audio)
                ids = model.lm.generate(inputs_embeds=emb, attention_mask=b.attention_mask, max_new_tokens=len(out["ours"].token_ids),
                                        min_new_tokens=len(out["ours"].token_ids), do_sample=False,
                                        pad_token_id=model.tokenizer.pad_token_id)  # fmt: skip
            out["base"] = ids[0]
        finally:
            model.encoder.pad_to_window = False

    ours()  # the number of tokens the baseline must match
    t_ours = best(ours)
    t_base = best(baseline)
    peak_mb = peak_rss_mb()  # what `ask --json` reports as peak_rss_mb
    seconds = len(A.load(args.clip)) / A.SAMPLE_RATE
    n = len(out["ours"].token_ids)
    print(f"model {args.model}; clip {args.clip} ({seconds:.1f} s); {n} new tokens; load {load_s:.2f} s")
    print(f"answer: {out['ours'].text!r}")
    print(f"ours     {t_ours:.3f} s   (target < 3 s: {'met' if t_ours < 3 else 'MISSED'})")
    print(f"baseline {t_base:.3f} s   (30 s window + transformers generate, {len(out['base'])} tokens)")
    print(f"speed-up {t_base / t_ours:.2f}x")
    print(f"peak RSS {peak_mb:.0f} MB (target < 3072 MB: {'met' if peak_mb < 3072 else 'MISSED'})")


if __name__ == "__main__":
    main()
