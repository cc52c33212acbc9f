"""Whisper encoder (transformers' `WhisperEncoder` modules) run at each window's own length.

Floor 2. Shape legend: B windows, M mel bins, T mel frames, E = (T - 1) // 2 + 1 encoder
frames, D encoder width.

transformers' WhisperEncoder.forward insists on 3000 mel frames (30 s); we drive its submodules
ourselves so a 5 s window costs 5 s of compute. `pad_to_window=True` reproduces Qwen2-Audio
exactly (30 s of features, padding frames masked out of attention) for checkpoints trained so.

`taps` adds earlier blocks' outputs beside the final one: (B, E, D) becomes (B, E, D * (1 + len(taps))),
each tapped block's output layer-normalised without learnt scale (its residual stream is not on the
final output's scale). Whisper's top block keeps what transcription needs; speaker, language and
sound cues are plainer mid-encoder (`qwenlike probe --layers`), so an adapter that sees both can
read them.

`summary` (block numbers, or one block, 0 for none) appends those blocks' normalised outputs once
more, after the taps: not for the frame adapter (`dim` excludes them) but for the utterance vector
(`projector.UtteranceVector`, one block) and the label head (`projector.LabelHead`, one or more),
which pool them over the clip.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import WhisperConfig
from transformers.masking_utils import create_bidirectional_mask
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from .audio import Features, encoder_frames


class AudioEncoder(nn.Module):
    def __init__(self, config: WhisperConfig, final_norm: bool = True, pad_to_window: bool = False,
                 taps: tuple[int, ...] | list[int] = (), summary: int | tuple[int, ...] | list[int] = 0):
        super().__init__()
        self.config = config
        self.pad_to_window = pad_to_window
        self.taps = check_taps(taps, config.encoder_layers)
        self.summary = summary_blocks(summary, config.encoder_layers)
        self.whisper = WhisperEncoder(config)
        if not final_norm:  # the norm lives in the projector (Qwen2-Audio pools before normalising)
            self.whisper.layer_norm = nn.Identity()
        self.gradient_checkpointing = False

    @property
    def dim(self) -> int:
        """Width of the frame adapter's input: the final output, then each tapped block's."""
        return self.config.d_model * (1 + len(self.taps))

    @property
    def out_dim(self) -> int:
        """Width of what forward returns: `dim`, then the summary blocks' outputs."""
        return self.dim + self.config.d_model * len(self.summary)

    @property
    def dtype(self) -> torch.dtype:
        return self.whisper.conv1.weight.dtype

    def forward(self, features: Features, summary_only: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, M, T) log-mel -> ((B, E, D) hidden states, (B,) valid encoder frames per row).

        `summary_only`: just the summary blocks' channels (what the label head reads), the blocks past
        the last of them not run (fitting the head: blocks 1-4 of Whisper base's 6 cost 2/3 of it).
        """
        if summary_only and not self.summary:
            raise ValueError("summary_only: this encoder has no summary blocks")
        w = self.whisper
        mel = features.mel.to(device=w.conv1.weight.device, dtype=self.dtype)
        frames = features.frames.to(mel.device)
        if self.pad_to_window:
            # Same numbers as the full 30 s window, for a fraction of the cost: a valid frame sees
            # at most 3 mel frames past itself through the two convolutions, and padded frames are
            # masked out of attention, so frames beyond the longest row + a margin never matter.
            mel = mel[..., : min(mel.shape[-1], int(frames.max()) + 8)]
        t = mel.shape[-1]
        x = nn.functional.gelu(w.conv1(mel))  # (B, M, T) -> (B, D, T)
        if not self.pad_to_window:
            # Zero what lies past each row's end, as the conv's own zero padding would for that row
            # alone: a window's output then does not depend on what else is in the batch.
            keep = torch.arange(t, device=mel.device)[None, :] < frames[:, None]  # (B, T)
            x = x * keep[:, None, :].to(x.dtype)
        x = nn.functional.gelu(w.conv2(x)).transpose(1, 2)  # (B, D, T) -> (B, E, D)
        e = x.shape[1]
        x = x + w.embed_positions.weight[:e].to(x.dtype)  # (B, E, D)
        valid = encoder_frames(frames)  # (B,)
        mask2d = torch.arange(e, device=x.device)[None, :] < valid[:, None]  # (B, E)
        full = bool(mask2d.all())  # no padding anywhere: no mask, and the attention kernel's fast path
        mask = None if full else create_bidirectional_mask(config=self.config, inputs_embeds=x, attention_mask=mask2d.long())
        tapped, summary = [], {}
        for i, layer in enumerate(w.layers, 1):
            if self.gradient_checkpointing and self.training:
                x = torch.utils.checkpoint.checkpoint(layer, x, mask, use_reentrant=False)
            else:
                x = layer(x, mask)
            if i in self.taps:
                tapped.append(nn.functional.layer_norm(x, x.shape[-1:]))  # (B, E, D), no learnt scale
            if i in self.summary:
                summary[i] = nn.functional.layer_norm(x, x.shape[-1:])  # (B, E, D), appended after the taps
                if summary_only and i == self.summary[-1]:
                    return torch.cat([summary[j] for j in self.summary], dim=-1), valid
        x = w.layer_norm(x)  # (B, E, D)
        tapped += [summary[i] for i in self.summary]
        if tapped:
            x = torch.cat([x, *tapped], dim=-1)  # (B, E, out_dim)
        if not self.pad_to_window and not full:
            x = x * mask2d[..., None].to(x.dtype)  # padded frames -> 0 (stacking projectors see zeros)
        return x, valid


def check_taps(taps: tuple[int, ...] | list[int], n_layers: int) -> tuple[int, ...]:
    """Encoder blocks to tap (1-based, sorted, distinct, below the top block, which is always out)."""
    t = tuple(sorted({int(k) for k in taps}))
    if len(t) != len(list(taps)) or any(not 1 <= k < n_layers for k in t):
        raise ValueError(f"encoder taps must be distinct blocks in 1..{n_layers - 1} (block {n_layers} is the final output), not {list(taps)}")
    return t


def check_summary(block: int, n_layers: int) -> int:
    """The block the utterance vector pools: 1..n_layers (the top block's normalised output is
    the final one's), or 0 for none."""
    b = int(block)
    if not 0 <= b <= n_layers:
        raise ValueError(f"the utterance block must be in 1..{n_layers} (0: none), not {block}")
    return b


def summary_blocks(blocks: int | tuple[int, ...] | list[int], n_layers: int) -> tuple[int, ...]:
    """Summary blocks as a sorted tuple of distinct blocks in 1..n_layers (0 or () for none)."""
    if isinstance(blocks, int):
        return () if blocks == 0 else (check_summary(blocks, n_layers),)
    t = tuple(sorted({int(b) for b in blocks}))
    if len(t) != len(list(blocks)) or any(not 1 <= b <= n_layers for b in t):
        raise ValueError(f"summary blocks must be distinct blocks in 1..{n_layers}, not {list(blocks)}")
    return t
