"""Conversations -> one padded batch of ids, labels and encoder windows (train and inference).

Floor 2 (audio, chat). Shape legend: B conversations, L tokens, W windows, M mels, T frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from . import audio as A
from .chat import IGNORE, Conversation, audio_items, render


@dataclass
class AudioBatch:
    """The encoder windows of a batch, in slot order. `tokens[w]` audio tokens come from window w."""

    features: A.Features
    tokens: list[int]


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, L)
    attention_mask: torch.Tensor  # (B, L)
    labels: torch.Tensor  # (B, L), IGNORE outside assistant tokens
    audio: AudioBatch | None
    audio_seconds: float
    n_audio_tokens: int

    def to(self, device: torch.device | str) -> "Batch":
        self.input_ids = self.input_ids.to(device)
        self.attention_mask = self.attention_mask.to(device)
        self.labels = self.labels.to(device)
        return self


def with_system(conv: Conversation, system: str | None) -> list[dict]:
    conv = list(conv)
    if system and (not conv or conv[0]["role"] != "system"):
        conv = [{"role": "system", "content": system}] + conv
    return conv


def load_clips(conv: Conversation) -> list[np.ndarray]:
    return [A.load(x) for x in audio_items(conv)]


def windows_of(wave: np.ndarray) -> list[np.ndarray]:
    return [wave[s:e] for s, e in A.window_spans(len(wave))]


def features_of(windows: Sequence[np.ndarray], config: Any) -> A.Features:
    """Encoder windows -> the log-mel features this model's encoder expects (its mel count; 30 s
    padded windows for Qwen2-Audio numerics, the windows' own lengths otherwise)."""
    return A.log_mel(windows, n_mels=config.n_mels, pad_to=A.WINDOW_SAMPLES if config.pad_to_window else None)


def prepare(
    conversations: Sequence[Conversation],
    tokenizer: Any,
    config: Any,
    add_generation_prompt: bool = False,
    padding_side: str = "right",
    clips: Sequence[Sequence[np.ndarray]] | None = None,
) -> Batch:
    """Render and pad a batch. `config` is an AudioLMConfig (chat template, projector, mels).

    `clips[i]` may hold conversation i's decoded audio (16 kHz float32) to skip decoding.
    """
    rows, wins, toks = [], [], []
    seconds = 0.0
    for i, conv in enumerate(conversations):
        conv = with_system(conv, config.system_prompt)
        waves = list(clips[i]) if clips is not None else load_clips(conv)
        per_clip = []
        for w in waves:
            seconds += len(w) / A.SAMPLE_RATE
            counts = A.window_tokens(len(w), **config.token_args)
            for piece, n in zip(windows_of(w), counts):
                if n > 0:  # a window too short to make a token (< 40 ms tail) carries nothing
                    wins.append(piece)
                    toks.append(n)
            if sum(counts) == 0:
                raise ValueError(f"clip of {len(w)} samples is too short for one audio token")
            per_clip.append(sum(counts))
        rows.append(render(conv, tokenizer, per_clip, config.chat_template, add_generation_prompt))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    length = max(len(r.input_ids) for r in rows)
    ids = torch.full((len(rows), length), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), length), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for b, r in enumerate(rows):
        n = len(r.input_ids)
        sl = slice(length - n, length) if padding_side == "left" else slice(0, n)
        ids[b, sl] = torch.tensor(r.input_ids)
        labels[b, sl] = torch.tensor(r.labels)
        mask[b, sl] = 1
    audio = AudioBatch(features_of(wins, config), toks) if wins else None
    return Batch(ids, mask, labels, audio, seconds, sum(toks))
