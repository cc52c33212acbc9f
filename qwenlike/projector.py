"""Adapters from encoder frames to LM embeddings.

Floor 1. Shape legend: B batch of encoder windows, E encoder frames, D encoder width,
A audio tokens, H LM hidden size.

pool-linear  Qwen2-Audio: AvgPool1d(k) over time, optional LayerNorm (Qwen2-Audio applies the
             encoder's final norm after pooling), Linear(D, H).          A = (E - k) // k + 1
stack-mlp    Ultravox-like: stack k frames, RMSNorm(kD), SwiGLU MLP -> H.  A = ceil(E / k)

UtteranceVector (optional, `model.utterance_block`): one encoder block's frames pooled over each
window (mean and std of the valid frames), LayerNorm, Linear(2D, H) initialised to zero, added to
every audio token of that window. What is constant over a clip (who speaks, which language, which
sound or instrument) then reaches the LM as a denoised whole-clip reading, the way a linear probe
reads it (`qwenlike probe`), instead of being averaged by the LM out of per-frame tokens that an
alignment stage has pulled onto words. Zero at the start: a model gains it without changing.

LabelHead (optional, `model.label_head`): the same pooled reading (of one or more blocks, side by
side) through a fitted linear classifier per closed-set task; each window gets one more audio row
per task, the probability-weighted mean of that task's label embeddings (see the class).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass
class ProjectorConfig:
    kind: str = "pool-linear"  # "pool-linear" | "stack-mlp"
    stride: int = 2  # frames per audio token (k)
    hidden: int = 1024  # stack-mlp inner width
    norm: bool = False  # pool-linear: LayerNorm after pooling (Qwen2-Audio layout)
    in_dim: int = 512
    out_dim: int = 576

    @property
    def mode(self) -> str:
        """The `audio.projector_tokens` mode of this projector."""
        return {"pool-linear": "pool", "stack-mlp": "stack"}[self.kind]

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(var + self.eps)).to(x.dtype) * self.weight


class PoolLinear(nn.Module):
    def __init__(self, cfg: ProjectorConfig):
        super().__init__()
        self.pool = nn.AvgPool1d(cfg.stride, stride=cfg.stride)
        self.norm = nn.LayerNorm(cfg.in_dim) if cfg.norm else nn.Identity()
        self.linear = nn.Linear(cfg.in_dim, cfg.out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x.transpose(1, 2)).transpose(1, 2)  # (B, E, D) -> (B, A, D)
        return self.linear(self.norm(x))  # (B, A, D) -> (B, A, H)


class StackMLP(nn.Module):
    def __init__(self, cfg: ProjectorConfig):
        super().__init__()
        self.k = cfg.stride
        self.norm = RMSNorm(cfg.in_dim * cfg.stride)
        self.up = nn.Linear(cfg.in_dim * cfg.stride, 2 * cfg.hidden, bias=False)
        self.down = nn.Linear(cfg.hidden, cfg.out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, e, d = x.shape
        pad = (-e) % self.k
        x = nn.functional.pad(x, (0, 0, 0, pad))  # (B, E, D) -> (B, k*A, D), zero tail
        x = x.reshape(b, (e + pad) // self.k, self.k * d)  # -> (B, A, kD)
        gate, up = self.up(self.norm(x)).chunk(2, dim=-1)  # -> 2 x (B, A, hidden)
        return self.down(nn.functional.silu(gate) * up)  # -> (B, A, H)


class UtteranceVector(nn.Module):
    """(B, E, D) frames + (B,) valid counts -> (B, H): masked mean and std, LayerNorm, Linear."""

    def __init__(self, in_dim: int, out_dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.norm = nn.LayerNorm(2 * in_dim)
        self.linear = nn.Linear(2 * in_dim, out_dim, bias=False)
        nn.init.zeros_(self.linear.weight)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        pooled = pool_frames(x, valid, self.eps)  # (B, 2D)
        return self.linear(self.norm(pooled).to(self.linear.weight.dtype))  # (B, H)


def pool_frames(x: torch.Tensor, valid: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """(B, E, D) frames + (B,) valid counts -> (B, 2D): mean and std over each row's valid frames (fp32)."""
    x = x.float()
    keep = (torch.arange(x.shape[1], device=x.device)[None, :] < valid.to(x.device)[:, None]).float()  # (B, E)
    n = keep.sum(1, keepdim=True).clamp(min=1.0)  # (B, 1)
    mean = (x * keep[..., None]).sum(1) / n  # (B, D)
    var = (((x - mean[:, None]) ** 2) * keep[..., None]).sum(1) / n  # (B, D)
    return torch.cat([mean, (var + eps).sqrt()], dim=-1)  # (B, 2D)


class LabelHead(nn.Module):
    """(B, E, D) frames (D: the summary blocks' widths side by side) + (B,) valid counts + (K, H)
    label embeddings -> (B, G, H): one audio row per label group (a closed-set task such as speaker
    gender), the label probabilities of the window's pooled frames times those labels' LM input
    embeddings. A linear classifier (Linear(2D, K), fitted by `qwenlike label-head`, a logistic
    regression on the train split) whose reading reaches the LM as the words themselves: "female"
    arrives as (nearly) the embedding of "female", which an LM reads in part untrained and nearly
    as well as the head after a short LoRA stage (docs/default-model.md, fourteenth run).

    `sizes` are the groups' label counts (K = their sum, in the order of the label table)."""

    def __init__(self, in_dim: int, sizes: list[int], eps: float = 1e-5):
        super().__init__()
        self.sizes = list(sizes)
        self.eps = eps
        self.linear = nn.Linear(2 * in_dim, sum(sizes))
        nn.init.zeros_(self.linear.weight)  # uniform probabilities until fitted
        nn.init.zeros_(self.linear.bias)

    def probs(self, x: torch.Tensor, valid: torch.Tensor) -> list[torch.Tensor]:
        """Each group's label probabilities: G tensors (B, K_g)."""
        logits = self.linear(pool_frames(x, valid, self.eps).to(self.linear.weight.dtype)).float()  # (B, K)
        return [z.softmax(-1) for z in logits.split(self.sizes, dim=-1)]

    def forward(self, x: torch.Tensor, valid: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        rows = [p @ t.float() for p, t in zip(self.probs(x, valid), table.split(self.sizes))]  # G x (B, H)
        return torch.stack(rows, dim=1)  # (B, G, H)


def build_projector(cfg: ProjectorConfig) -> nn.Module:
    if cfg.kind == "pool-linear":
        return PoolLinear(cfg)
    if cfg.kind == "stack-mlp":
        return StackMLP(cfg)
    raise ValueError(f"unknown projector kind {cfg.kind!r} (pool-linear | stack-mlp)")
