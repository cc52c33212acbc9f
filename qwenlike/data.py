"""Conversations -> training micro-batches: manifests, length buckets, a resumable batch stream.

Floor 4 (audio, chat, inputs). Shape legend: B conversations, L tokens, W encoder windows,
M mel bins, T mel frames.

The batch order is a pure function of (seed, epoch): every epoch is shuffled, cut into windows of
`bucket_batches` micro-batches, sorted by length inside each window (little padding), cut into
micro-batches, and the micro-batches are shuffled again. The stream of micro-batches over all
epochs is numbered j = 0, 1, 2, ...; optimizer step s takes j in [s*G, (s+1)*G) (G = micro-batches
per global batch) and process r takes those with j % P == r. So the data position to resume
from is just the number of micro-batches consumed, and P processes with accumulation A see the
same global batches as one process with accumulation A*P.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from . import audio as A
from .chat import IGNORE, audio_items, is_audio_part, render
from .errors import UserError
from .inputs import Batch, prepare, with_system

ROLES = ("system", "user", "assistant")


# ----------------------------------------------------------------------------------------------
# sources of conversations
# ----------------------------------------------------------------------------------------------
def _resolve_audio(conv: list[dict], base: Path, where: str) -> list[dict]:
    """Audio paths relative to the manifest -> absolute paths (checked to exist)."""
    out = []
    for m in conv:
        if not isinstance(m, dict) or m.get("role") not in ROLES or "content" not in m:
            raise UserError(f"{where}: each message needs a role ({'|'.join(ROLES)}) and content, got {str(m)[:80]}")
        c = m["content"]
        if isinstance(c, list):
            parts = []
            for p in c:
                if is_audio_part(p):
                    src = p.get("audio", p.get("audio_url", p.get("path")))
                    if not isinstance(src, str):
                        raise UserError(f"{where}: an audio part needs a file path, got {str(p)[:80]}")
                    path = (base / src).resolve()
                    if not path.is_file():
                        raise UserError(f"{where}: audio file {src} not found (looked at {path})")
                    p = {"type": "audio", "audio": str(path)}
                elif not (isinstance(p, dict) and isinstance(p.get("text"), str)):
                    raise UserError(f"{where}: content parts are audio or text, got {str(p)[:80]}")
                parts.append(p)
            c = parts
        elif not isinstance(c, str):
            raise UserError(f"{where}: content must be a string or a list of parts")
        out.append({"role": m["role"], "content": c})
    if not any(m["role"] == "assistant" for m in out):
        raise UserError(f"{where}: conversation has no assistant message to learn")
    return out


def read_manifest(path: str | Path) -> list[list[dict]]:
    """A JSONL manifest: one {"messages": [...]} per line, audio paths relative to the file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: manifest not found")
    convs = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{i}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{where}: invalid JSON ({e.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
            raise UserError(f"{where}: expected an object with a \"messages\" list")
        convs.append(_resolve_audio(row["messages"], path.parent, where))
    if not convs:
        raise UserError(f"{path}: manifest has no conversations")
    return convs


def read_corpus(corpus: str, mixture: str, n: int, seed: int) -> list[list[dict]]:
    """Conversations sampled from the offline corpus with a task mixture (qwenlike.tasks)."""
    try:
        from . import tasks
    except ImportError:
        tasks = None
    sample = getattr(tasks, "sample_conversations", None)
    if sample is None:
        raise UserError("data.corpus needs qwenlike.tasks (sample_conversations is not available yet); use data.manifest")
    if not Path(corpus).is_dir():
        raise UserError(f"data.corpus={corpus}: corpus folder not found (build it with `qwenlike corpus build`)")
    if not Path(mixture).is_file():
        raise UserError(f"data.mixture={mixture}: mixture file not found")
    convs = [list(c) for c in sample(mixture=mixture, corpus=corpus, n=n, seed=seed)]
    if not convs:
        raise UserError(f"data.corpus={corpus}: the mixture {mixture} drew no conversations")
    return convs


# ----------------------------------------------------------------------------------------------
# lengths and the batch plan
# ----------------------------------------------------------------------------------------------
def clip_samples(src: Any) -> int:
    """Samples at 16 kHz of an audio file, from its header (no decoding)."""
    import soundfile as sf

    if not isinstance(src, str):
        return len(A.load(src))
    try:
        info = sf.info(src)
    except Exception:  # a format soundfile cannot read from the header: decode it
        return len(A.load(src))
    return int(np.ceil(info.frames * A.SAMPLE_RATE / info.samplerate))


@dataclass
class Example:
    conversation: list[dict]
    tokens: int  # rendered length with audio expanded: what the LM sees
    labels: int  # assistant tokens (loss targets)
    samples: int  # audio samples at 16 kHz, all clips


def measure(convs: Sequence[list[dict]], tokenizer: Any, config: Any, system_prompt: str | None = None) -> list[Example]:
    """Render every conversation once to know its length (bucketing) and its loss tokens."""
    out = []
    for conv in convs:
        conv = with_system(conv, system_prompt or config.system_prompt)
        lens = [clip_samples(a) for a in audio_items(conv)]
        counts = [A.num_audio_tokens(n, **config.token_args) for n in lens]
        r = render(conv, tokenizer, counts, config.chat_template)
        n_labels = sum(1 for t in r.labels[1:] if t != IGNORE)
        out.append(Example(conv, len(r.input_ids), n_labels, sum(lens)))
    return out


def plan_epoch(lengths: Sequence[int], micro: int, bucket_batches: int, seed: int, epoch: int) -> list[list[int]]:
    """One epoch as a list of micro-batches of example indices (only full micro-batches)."""
    g = np.random.default_rng([seed, epoch])
    order = g.permutation(len(lengths))
    window = micro * bucket_batches
    batches: list[list[int]] = []
    for s in range(0, len(order), window):
        chunk = sorted(order[s : s + window].tolist(), key=lambda i: (lengths[i], i))
        batches += [chunk[j : j + micro] for j in range(0, len(chunk) - micro + 1, micro)]
    return [batches[i] for i in g.permutation(len(batches))]


def padding_waste(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Fraction of padded positions in a batch plan: 1 - sum(len) / sum(B * max len)."""
    real = sum(lengths[i] for b in batches for i in b)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    return 1.0 - real / max(padded, 1)


class BatchPlan:
    """The numbered stream of micro-batches over all epochs (see the module docstring)."""

    def __init__(self, examples: Sequence[Example], micro: int, bucket_batches: int, seed: int):
        self.lengths = [e.tokens for e in examples]
        self.micro, self.bucket_batches, self.seed = micro, bucket_batches, seed
        self.per_epoch = len(self.lengths) // micro
        if self.per_epoch == 0:
            raise UserError(f"{len(self.lengths)} conversations do not fill one micro-batch of {micro}")

    @lru_cache(maxsize=2)
    def epoch(self, e: int) -> list[list[int]]:
        return plan_epoch(self.lengths, self.micro, self.bucket_batches, self.seed, e)

    def __getitem__(self, j: int) -> list[int]:
        return self.epoch(j // self.per_epoch)[j % self.per_epoch]

    def waste(self, epoch: int = 0) -> tuple[float, float]:
        """(bucketed, unbucketed) padding waste of the token positions in one epoch."""
        flat = plan_epoch(self.lengths, self.micro, 1, self.seed, epoch)
        return padding_waste(self.lengths, self.epoch(epoch)), padding_waste(self.lengths, flat)


class RankSampler:
    """This process's micro-batches from global position `start` on: j >= start with j % P == r."""

    def __init__(self, plan: BatchPlan, start: int, rank: int, world: int):
        self.plan, self.rank, self.world = plan, rank, world
        self.first = start + ((rank - start) % world)  # the first j >= start that is ours

    def __iter__(self) -> Iterator[list[int]]:
        j = self.first
        while True:
            yield self.plan[j]
            j += self.world


# ----------------------------------------------------------------------------------------------
# collation
# ----------------------------------------------------------------------------------------------
@dataclass
class TrainBatch:
    batch: Batch
    window_keys: list[str]  # one per encoder window, in slot order: "example:clip:window"
    labels: int  # assistant tokens predicted in this micro-batch
    tokens: int  # non-padding tokens
    text_waste: float  # padded fraction of the (B, L) ids
    audio_waste: float  # padded fraction of the (W, M, T) mel frames


class Collate:
    """Example indices -> TrainBatch (picklable: runs in DataLoader workers)."""

    def __init__(self, examples: Sequence[Example], tokenizer: Any, config: Any):
        self.examples, self.tokenizer, self.config = examples, tokenizer, config

    def __call__(self, indices: list[int]) -> TrainBatch:
        convs = [self.examples[i].conversation for i in indices]
        clips = [[A.load(a) for a in audio_items(c)] for c in convs]
        batch = prepare(convs, self.tokenizer, self.config, clips=clips)
        keys = []
        for i, waves in zip(indices, clips):  # the order `prepare` gives windows: conv, clip, window
            for c, w in enumerate(waves):
                counts = A.window_tokens(len(w), **self.config.token_args)
                keys += [f"{i}:{c}:{k}" for k, n in enumerate(counts) if n > 0]
        mask = batch.attention_mask
        tokens = int(mask.sum())
        audio_waste = 0.0
        if batch.audio is not None:
            fr = batch.audio.features.frames
            audio_waste = 1.0 - float(fr.sum()) / max(fr.numel() * batch.audio.features.mel.shape[-1], 1)
        return TrainBatch(
            batch=batch, window_keys=keys, labels=int((batch.labels[:, 1:] != IGNORE).sum()), tokens=tokens,
            text_waste=1.0 - tokens / mask.numel(), audio_waste=audio_waste,
        )  # fmt: skip


def loader(plan: BatchPlan, collate: Collate, start: int, rank: int, world: int, workers: int = 0) -> Iterator[TrainBatch]:
    """An endless iterator over this process's micro-batches from global position `start`."""
    dl = torch.utils.data.DataLoader(
        range(len(collate.examples)), batch_sampler=RankSampler(plan, start, rank, world), collate_fn=collate,
        num_workers=workers, persistent_workers=False, prefetch_factor=4 if workers else None,
        # its own generator: creating the iterator must not draw from the global RNG, which is part
        # of the resume state (dropout masks after a resume must be the uninterrupted run's)
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    return iter(dl)


# ----------------------------------------------------------------------------------------------
# a tiny synthetic task (tests, recipes/tiny.yaml, first runs): which tone is this?
# ----------------------------------------------------------------------------------------------
TONES = [("low", 220.0), ("middle", 440.0), ("high", 880.0), ("very high", 1760.0)]


def write_tone_manifest(out: str | Path, n: int = 8, seconds: float = 0.6, seed: int = 0) -> Path:
    """`n` conversations about synthetic tones (both chat modes) as out/manifest.jsonl + WAVs.

    Conversation i asks about a tone of TONES[i % 4] (with a little noise and its own length);
    even i use analysis mode (audio + question), odd i voice-chat mode (audio alone).
    """
    import soundfile as sf

    out = Path(out)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        name, freq = TONES[i % len(TONES)]
        dur = seconds * (1.0 + 0.5 * (i % 3))  # three lengths: bucketing has something to sort
        t = np.arange(int(dur * A.SAMPLE_RATE)) / A.SAMPLE_RATE
        wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.02 * rng.standard_normal(t.size)
        rel = f"clips/tone{i:03d}.wav"
        sf.write(out / rel, wave.astype(np.float32), A.SAMPLE_RATE, subtype="PCM_16")
        if i % 2 == 0:
            user = [{"type": "audio", "audio": rel}, {"type": "text", "text": "What tone is this?"}]
            answer = f"a {name} tone"
        else:
            user = [{"type": "audio", "audio": rel}]
            answer = f"I hear a {name} tone of {int(freq)} hertz."
        lines.append(json.dumps({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]}))
    (out / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return out / "manifest.jsonl"
