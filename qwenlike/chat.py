"""Conversations with audio -> token ids, labels and audio slots. Used by training AND inference.

Floor 2. A conversation is a list of messages, as in transformers' chat templates:

    [{"role": "system", "content": "..."},                                   # optional
     {"role": "user", "content": [{"type": "audio", "audio": "clip.wav"},   # path | bytes | array
                                  {"type": "text", "text": "What is that sound?"}]},
     {"role": "assistant", "content": "A dog barking."}]

Two chat modes, told apart only by what the user turn holds:
  voice chat   the user turn is audio alone: the model answers what was said;
  analysis     audio plus a text instruction.

Templates:
  "qwen2-audio"  byte-identical to transformers' Qwen2AudioProcessor default chat template
                 (default system prompt, `Audio N: <|audio_bos|><|AUDIO|><|audio_eos|>\\n`);
  "tokenizer"    the LM's own chat template, with each audio part written as the same
                 `Audio N: ...` line inside the message text.

Each clip's single `<|AUDIO|>` is expanded to as many audio tokens as `audio.num_audio_tokens`
gives for it; the caller passes those counts, so this module never touches audio samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

AUDIO_TOKEN = "<|AUDIO|>"
AUDIO_BOS = "<|audio_bos|>"
AUDIO_EOS = "<|audio_eos|>"
AUDIO_SPECIAL_TOKENS = [AUDIO_BOS, AUDIO_TOKEN, AUDIO_EOS]
QWEN2_AUDIO_SYSTEM = "You are a helpful assistant."
IGNORE = -100
# end-of-turn markers that belong to the assistant's answer: the model must learn to emit them
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "</s>", "<|endoftext|>")

Message = dict[str, Any]
Conversation = Sequence[Message]


@dataclass
class Rendered:
    """One rendered conversation. `audio_slots[i] = (start, n)`: clip i fills ids[start:start+n]."""

    text: str  # one <|AUDIO|> per clip (what the Qwen2-Audio processor's template prints)
    input_ids: list[int]
    labels: list[int]
    audio_slots: list[tuple[int, int]] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# building conversations
# ----------------------------------------------------------------------------------------------
def analysis(audios: Sequence[Any] | Any, question: str, system: str | None = None) -> list[Message]:
    """Analysis mode: one user turn with the clips followed by a text instruction."""
    audios = list(audios) if isinstance(audios, (list, tuple)) else [audios]
    content = [{"type": "audio", "audio": a} for a in audios] + [{"type": "text", "text": question}]
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]


def voice_chat(audio: Any, system: str | None = None) -> list[Message]:
    """Voice-chat mode: the user turn is the audio alone."""
    return ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": [{"type": "audio", "audio": audio}]}
    ]


def is_audio_part(part: Any) -> bool:
    return isinstance(part, dict) and (part.get("type") in ("audio", "input_audio") or "audio" in part or "audio_url" in part)


def audio_items(conversation: Conversation) -> list[Any]:
    """The audio payloads of a conversation, in the order their slots appear."""
    out = []
    for m in conversation:
        if isinstance(m.get("content"), list):
            for p in m["content"]:
                if is_audio_part(p):
                    out.append(p.get("audio", p.get("audio_url", p.get("path"))))
    return out


def user_text(message: Message) -> str:
    """The text a user turn carries (empty for a voice-chat turn)."""
    c = message.get("content")
    if isinstance(c, str):
        return c
    return "".join(p.get("text", "") for p in c if isinstance(p, dict) and p.get("type") == "text")


# ----------------------------------------------------------------------------------------------
# templates -> text with assistant spans
# ----------------------------------------------------------------------------------------------
def _audio_line(n: int) -> str:
    return f"Audio {n}: {AUDIO_BOS}{AUDIO_TOKEN}{AUDIO_EOS}\n"


def _render_qwen2_audio(conv: Conversation, add_generation_prompt: bool) -> tuple[str, list[tuple[int, int]]]:
    """Qwen2AudioProcessor.default_chat_template, in Python, recording assistant content spans."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    n_audio = 0

    def emit(s: str) -> None:
        nonlocal pos
        out.append(s)
        pos += len(s)

    for i, m in enumerate(conv):
        if i == 0 and m["role"] != "system":
            emit(f"<|im_start|>system\n{QWEN2_AUDIO_SYSTEM}<|im_end|>\n")
        emit(f"<|im_start|>{m['role']}\n")
        start = pos
        c = m["content"]
        if isinstance(c, str):
            emit(c)
        else:
            for p in c:
                if is_audio_part(p):
                    n_audio += 1
                    emit(_audio_line(n_audio))
                elif isinstance(p, dict) and "text" in p:
                    emit(p["text"])
        if m["role"] == "assistant":
            spans.append((start, pos))
        emit("<|im_end|>\n")
    if add_generation_prompt:
        emit("<|im_start|>assistant\n")
    return "".join(out), spans


def _render_tokenizer(conv: Conversation, tokenizer: Any, add_generation_prompt: bool) -> tuple[str, list[tuple[int, int]]]:
    """The LM's own chat template over messages whose audio parts became `Audio N:` lines."""
    flat = []
    n_audio = 0
    for m in conv:
        c = m["content"]
        if not isinstance(c, str):
            parts = []
            for p in c:
                if is_audio_part(p):
                    n_audio += 1
                    parts.append(_audio_line(n_audio))
                elif isinstance(p, dict) and "text" in p:
                    parts.append(p["text"])
            c = "".join(parts)
        flat.append({"role": m["role"], "content": c})
    text = tokenizer.apply_chat_template(flat, tokenize=False, add_generation_prompt=add_generation_prompt)
    # walk every message in order, so an answer that also appears in an earlier prompt is found
    # where the assistant says it, not where the user did
    spans, cursor = [], 0
    for m in flat:
        start = text.find(m["content"], cursor) if m["content"] else -1
        if start < 0:
            if m["role"] == "assistant" and m["content"]:
                raise ValueError(f"chat template dropped an assistant message: {m['content'][:60]!r}")
            continue
        if m["role"] == "assistant":
            spans.append((start, start + len(m["content"])))
        cursor = start + len(m["content"])
    return text, spans


def render_text(conv: Conversation, tokenizer: Any = None, template: str = "qwen2-audio", add_generation_prompt: bool = False) -> tuple[str, list[tuple[int, int]]]:
    """Rendered text (one <|AUDIO|> per clip) and the character spans of assistant contents."""
    if not conv:
        raise ValueError("empty conversation")
    if template == "qwen2-audio":
        return _render_qwen2_audio(conv, add_generation_prompt)
    if template == "tokenizer":
        return _render_tokenizer(conv, tokenizer, add_generation_prompt)
    raise ValueError(f"unknown chat template {template!r} (qwen2-audio | tokenizer)")


# ----------------------------------------------------------------------------------------------
# text -> ids, labels, audio slots
# ----------------------------------------------------------------------------------------------
def render(
    conversation: Conversation,
    tokenizer: Any,
    audio_tokens: Sequence[int],
    template: str = "qwen2-audio",
    add_generation_prompt: bool = False,
) -> Rendered:
    """Render a conversation to ids with loss labels on assistant tokens (and their end-of-turn) only.

    `audio_tokens[i]` is the number of audio tokens of clip i (from `audio.num_audio_tokens`).
    """
    text, spans = render_text(conversation, tokenizer, template, add_generation_prompt)
    # the end-of-turn marker right after an answer is part of what the model must say
    spans = [(a, b + len(next((e for e in END_OF_TURN if text.startswith(e, b)), ""))) for a, b in spans]
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    audio_id = tokenizer.convert_tokens_to_ids(AUDIO_TOKEN)
    n_clips = enc["input_ids"].count(audio_id)
    if n_clips != len(audio_tokens):
        raise ValueError(f"conversation has {n_clips} audio slots but {len(audio_tokens)} token counts were given")
    ids: list[int] = []
    labels: list[int] = []
    slots: list[tuple[int, int]] = []
    clip = 0
    for tok, (s, _e) in zip(enc["input_ids"], enc["offset_mapping"]):
        if tok == audio_id:  # tokenised once, expanded here: the audio token is special, nothing merges
            n = int(audio_tokens[clip])
            slots.append((len(ids), n))
            ids.extend([audio_id] * n)
            labels.extend([IGNORE] * n)
            clip += 1
            continue
        ids.append(tok)
        labels.append(tok if any(a <= s < b for a, b in spans) else IGNORE)
    return Rendered(text=text, input_ids=ids, labels=labels, audio_slots=slots)
