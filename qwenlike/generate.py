"""Batched generation with a KV cache, stop tokens and strings, greedy or sampled; streaming.

Floor 4. Shape legend: B rows, L prompt tokens (left-padded), V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from .chat import END_OF_TURN, Conversation
from .inputs import Batch, prepare
from .model import AudioLM


@dataclass
class GenerationConfig:
    max_new_tokens: int = 128
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    stop: Sequence[str] = ()
    seed: int | None = None


@dataclass
class Generation:
    text: str
    token_ids: list[int]
    finish_reason: str  # "stop" | "length"
    prompt_tokens: int = 0
    audio_tokens: int = 0
    audio_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def stop_token_ids(model: AudioLM) -> set[int]:
    tok = model.tokenizer
    ids = {tok.eos_token_id} if tok.eos_token_id is not None else set()
    for t in END_OF_TURN:
        i = tok.convert_tokens_to_ids(t)
        if isinstance(i, int) and i != tok.unk_token_id and i is not None:
            ids.add(i)
    gen_eos = getattr(getattr(model.lm, "generation_config", None), "eos_token_id", None)
    for i in [gen_eos] if isinstance(gen_eos, int) else (gen_eos or []):
        ids.add(int(i))
    return {i for i in ids if i is not None and i >= 0}


def _sample(logits: torch.Tensor, cfg: GenerationConfig, gen: torch.Generator | None) -> torch.Tensor:
    """(B, V) -> (B,) next tokens."""
    if not cfg.do_sample or cfg.temperature <= 0:
        return logits.argmax(-1)
    logits = logits.float() / cfg.temperature
    if cfg.top_k > 0:
        kth = logits.topk(min(cfg.top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if cfg.top_p < 1.0:
        sorted_logits, idx = logits.sort(dim=-1, descending=True)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop = cum - sorted_logits.softmax(-1) > cfg.top_p  # keep the smallest set reaching top_p
        logits = logits.masked_fill(drop.scatter(1, idx, drop), float("-inf"))
    return torch.multinomial(logits.softmax(-1), 1, generator=gen).squeeze(-1)


@torch.inference_mode()
def generate_batch(
    model: AudioLM,
    batch: Batch,
    cfg: GenerationConfig = GenerationConfig(),
    on_token: Callable[[int, str], None] | None = None,
) -> list[Generation]:
    """Generate for a left-padded batch. `on_token(row, text_delta)` streams decoded text."""
    from transformers import DynamicCache

    tok = model.tokenizer
    device = model.device
    batch.to(device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed) if cfg.seed is not None else None
    stops = stop_token_ids(model)
    b = batch.input_ids.shape[0]
    mask = batch.attention_mask
    embeds = model.embed(batch.input_ids, batch.audio)  # (B, L, H)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # (B, L)
    cache = DynamicCache(config=model.lm.config)
    out = model.lm(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, past_key_values=cache,
                   use_cache=True, logits_to_keep=1)  # fmt: skip
    logits = out.logits[:, -1]  # (B, V)
    next_pos = positions[:, -1:] + 1  # (B, 1)
    new: list[list[int]] = [[] for _ in range(b)]
    texts = [""] * b
    done = torch.zeros(b, dtype=torch.bool, device=device)
    reasons = ["length"] * b
    for _step in range(cfg.max_new_tokens):
        nxt = _sample(logits, cfg, gen)  # (B,)
        for r in range(b):
            if done[r]:
                continue
            t = int(nxt[r])
            if t in stops:
                done[r], reasons[r] = True, "stop"
                continue
            new[r].append(t)
            full = tok.decode(new[r], skip_special_tokens=True)
            hit = next((s for s in cfg.stop if s and s in full), None)
            if hit is not None:
                full = full[: full.index(hit)]
                done[r], reasons[r] = True, "stop"
            if on_token is not None and len(full) > len(texts[r]) and full.startswith(texts[r]) and not full.endswith("\ufffd"):
                on_token(r, full[len(texts[r]) :])
                texts[r] = full
            elif hit is not None or not full.endswith("\ufffd"):
                texts[r] = full
        if bool(done.all()):
            break
        mask = torch.cat([mask, torch.ones(b, 1, dtype=mask.dtype, device=device)], dim=1)  # (B, L+1)
        step_ids = torch.where(done, torch.full_like(nxt, tok.pad_token_id or 0), nxt)[:, None]  # (B, 1)
        out = model.lm(input_ids=step_ids, attention_mask=mask, position_ids=next_pos, past_key_values=cache, use_cache=True)
        logits = out.logits[:, -1]
        next_pos = next_pos + 1
    results = []
    for r in range(b):
        final = tok.decode(new[r], skip_special_tokens=True)
        for s in cfg.stop:
            if s and s in final:
                final = final[: final.index(s)]
        if on_token is not None and len(final) > len(texts[r]) and final.startswith(texts[r]):
            on_token(r, final[len(texts[r]) :])
        results.append(Generation(final.strip(), new[r], reasons[r], int(batch.attention_mask[r].sum())))
    return results


def generate(
    model: AudioLM,
    conversations: Sequence[Conversation],
    cfg: GenerationConfig = GenerationConfig(),
    clips: Sequence[Sequence[Any]] | None = None,
    on_token: Callable[[int, str], None] | None = None,
) -> list[Generation]:
    """Answer a batch of conversations (each ends with a user turn)."""
    batch = prepare(conversations, model.tokenizer, model.config, add_generation_prompt=True, padding_side="left", clips=clips)
    res = generate_batch(model, batch, cfg, on_token)
    if batch.audio is not None:  # per-row audio accounting for --json and the server's usage field
        per_row = (batch.input_ids == model.audio_token_id).sum(-1).tolist()
        for g, n in zip(res, per_row):
            g.audio_tokens = int(n)
    return res
