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


PER_ROW_PREFILL_WASTE = 0.15  # above this share of padding, prefill rows one by one


def _prefill_per_row(model: AudioLM, embeds: torch.Tensor, lengths: torch.Tensor) -> tuple[Any, torch.Tensor]:
    """Prefill each row at its own length and stack the caches, left-padded, for batched decoding.

    Prefill is compute-bound: padding a batch of prompts of unequal length wastes that share of
    the FLOPs. Padded cache slots stay zero and are masked by the decode steps' attention mask.
    """
    from transformers import DynamicCache

    b, length, _ = embeds.shape
    rows, logits = [], []
    for r in range(b):
        n = int(lengths[r])
        c = DynamicCache(config=model.lm.config)
        out = model.lm(inputs_embeds=embeds[r : r + 1, length - n :], past_key_values=c, use_cache=True, logits_to_keep=1)
        rows.append((n, c))
        logits.append(out.logits[:, -1])
    cache = DynamicCache(config=model.lm.config)
    for i in range(len(rows[0][1].layers)):
        k0 = rows[0][1].layers[i].keys
        keys = k0.new_zeros(b, k0.shape[1], length, k0.shape[3])  # (B, H_kv, L, D_head)
        values = torch.zeros_like(keys)
        for r, (n, c) in enumerate(rows):
            keys[r, :, length - n :] = c.layers[i].keys[0]
            values[r, :, length - n :] = c.layers[i].values[0]
        cache.update(keys, values, i)
    return cache, torch.cat(logits)  # (B, V)


@torch.inference_mode()
def generate_batch(
    model: AudioLM,
    batch: Batch,
    cfg: GenerationConfig = GenerationConfig(),
    on_token: Callable[[int, str], None] | None = None,
    row_max_new_tokens: Sequence[int] | None = None,
    cancelled: Callable[[int], bool] | None = None,
) -> list[Generation]:
    """Generate for a left-padded batch. `on_token(row, text_delta)` streams decoded text;
    `cancelled(row)` True ends that row early (a client that went away).

    `row_max_new_tokens[r]` caps row r below `cfg.max_new_tokens` (requests batched together
    from different clients keep their own limits).
    """
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
    lengths = mask.sum(-1)  # (B,)
    if b > 1 and 1 - float(lengths.sum()) / mask.numel() > PER_ROW_PREFILL_WASTE:
        cache, logits = _prefill_per_row(model, embeds, lengths)
    else:
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
            if cancelled is not None and cancelled(r):
                done[r], reasons[r] = True, "cancelled"
                continue
            t = int(nxt[r])
            if t in stops:
                done[r], reasons[r] = True, "stop"
                continue
            new[r].append(t)
            if row_max_new_tokens is not None and len(new[r]) >= row_max_new_tokens[r]:
                done[r] = True  # reason stays "length"
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
    row_max_new_tokens: Sequence[int] | None = None,
    cancelled: Callable[[int], bool] | None = None,
) -> list[Generation]:
    """Answer a batch of conversations (each ends with a user turn)."""
    batch = prepare(conversations, model.tokenizer, model.config, add_generation_prompt=True, padding_side="left", clips=clips)
    res = generate_batch(model, batch, cfg, on_token, row_max_new_tokens, cancelled)
    if batch.audio is not None:  # per-row audio accounting for --json and the server's usage field
        per_row = (batch.input_ids == model.audio_token_id).sum(-1).tolist()
        for g, n in zip(res, per_row):
            g.audio_tokens = int(n)
    return res


# ----------------------------------------------------------------------------------------------
# closed-set label scoring
# ----------------------------------------------------------------------------------------------
@dataclass
class LabelScores:
    labels: list[str]
    loglik: list[float]  # log P(label text + end of turn | audio, prompt)
    probs: list[float]  # softmax of loglik / temperature: sums to 1

    def top(self, k: int | None = None) -> list[tuple[str, float]]:
        order = sorted(range(len(self.labels)), key=lambda i: -self.probs[i])
        return [(self.labels[i], self.probs[i]) for i in order[: k or len(order)]]


def _end_of_turn_id(model: AudioLM) -> int | None:
    tok = model.tokenizer
    for t in END_OF_TURN:  # chat.render puts the same marker in the training labels
        i = tok.convert_tokens_to_ids(t)
        if isinstance(i, int) and i != tok.unk_token_id:
            return i
    return tok.eos_token_id


@torch.inference_mode()
def label_logliks(model: AudioLM, conversation: Conversation, labels: Sequence[str], clips: Sequence[Any] | None = None) -> list[float]:
    """log P(label + end-of-turn | conversation) for every label, in one batched pass.

    The prompt (audio included) is encoded once; its KV cache is repeated for the K labels, which
    run together right-padded. The end-of-turn token makes "dog" and "dog barking" different
    answers rather than one being a prefix of the other.
    """
    from transformers import DynamicCache

    if not labels:
        raise ValueError("no labels to score")
    tok = model.tokenizer
    batch = prepare([conversation], tok, model.config, add_generation_prompt=True, clips=[clips] if clips is not None else None)
    batch.to(model.device)
    eot = _end_of_turn_id(model)
    seqs = [tok(lab, add_special_tokens=False)["input_ids"] + ([eot] if eot is not None else []) for lab in labels]
    k, n = len(seqs), max(len(q) for q in seqs)
    embeds = model.embed(batch.input_ids, batch.audio)  # (1, L, H)
    length = embeds.shape[1]
    cache = DynamicCache(config=model.lm.config)
    out = model.lm(inputs_embeds=embeds, past_key_values=cache, use_cache=True, logits_to_keep=1)
    first = out.logits[0, -1].float().log_softmax(-1)  # (V,) predicts each label's first token
    cache.batch_repeat_interleave(k)
    ids = torch.full((k, n), tok.pad_token_id or 0, dtype=torch.long, device=model.device)
    for i, q in enumerate(seqs):
        ids[i, : len(q)] = torch.tensor(q)
    mask = torch.ones(k, length + n, dtype=torch.long, device=model.device)
    for i, q in enumerate(seqs):
        mask[i, length + len(q) :] = 0
    pos = torch.arange(length, length + n, device=model.device)[None].expand(k, n)
    logp = model.lm(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True).logits.float().log_softmax(-1)  # (K, n, V)
    scores = []
    for i, q in enumerate(seqs):
        s = first[q[0]]
        for j in range(1, len(q)):  # token j is predicted at position j - 1 of the label run
            s = s + logp[i, j - 1, q[j]]
        scores.append(float(s))
    return scores


def score_labels(
    model: AudioLM, conversation: Conversation, labels: Sequence[str], clips: Sequence[Any] | None = None, temperature: float = 1.0
) -> LabelScores:
    """Single-label classification: probabilities = normalised exp of the label log-likelihoods."""
    ll = label_logliks(model, conversation, labels, clips)
    probs = torch.tensor(ll, dtype=torch.float64).div(temperature).softmax(0).tolist()
    return LabelScores(list(labels), ll, probs)


def score_multilabel(
    model: AudioLM, clips: Sequence[Any], labels: Sequence[str], question: str = "Is there {label} in the audio? Answer yes or no.",
) -> dict[str, float]:
    """Multi-label: per label, P(yes) / (P(yes) + P(no)) = a sigmoid of the yes/no log-odds."""
    from .chat import analysis

    out = {}
    for lab in labels:
        conv = analysis(list(clips), question.format(label=lab))
        ll = label_logliks(model, conv, ["yes", "no"], clips=list(clips))
        out[lab] = float(torch.tensor(ll[0] - ll[1]).sigmoid())
    return out
