"""chat.render: both modes, byte-identical to transformers' Qwen2-Audio processor, loss masks."""

from __future__ import annotations

import pytest
from transformers import Qwen2AudioProcessor, WhisperFeatureExtractor

from qwenlike import chat
from qwenlike.tiny import tiny_tokenizer

SYS = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
SLOT = "<|audio_bos|><|AUDIO|><|audio_eos|>"

GOLDEN = {
    "voice_chat": (
        chat.voice_chat("a.wav"),
        SYS + f"<|im_start|>user\nAudio 1: {SLOT}\n<|im_end|>\n<|im_start|>assistant\n",
    ),
    "analysis": (
        chat.analysis("a.wav", "What is that sound?"),
        SYS + f"<|im_start|>user\nAudio 1: {SLOT}\nWhat is that sound?<|im_end|>\n<|im_start|>assistant\n",
    ),
    "two_clips_system": (
        chat.analysis(["a.wav", "b.wav"], "Same speaker?", system="Answer briefly."),
        "<|im_start|>system\nAnswer briefly.<|im_end|>\n"
        f"<|im_start|>user\nAudio 1: {SLOT}\nAudio 2: {SLOT}\nSame speaker?<|im_end|>\n<|im_start|>assistant\n",
    ),
    "multi_turn": (
        chat.analysis("a.wav", "What is it?")
        + [{"role": "assistant", "content": "A dog."},
           {"role": "user", "content": [{"type": "audio", "audio": "b.wav"}, {"type": "text", "text": "And this?"}]}],
        SYS + f"<|im_start|>user\nAudio 1: {SLOT}\nWhat is it?<|im_end|>\n<|im_start|>assistant\nA dog.<|im_end|>\n"
        f"<|im_start|>user\nAudio 2: {SLOT}\nAnd this?<|im_end|>\n<|im_start|>assistant\n",
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_render_matches_qwen2_audio_processor(tok, name):
    conv, golden = GOLDEN[name]
    text, _ = chat.render_text(conv, template="qwen2-audio", add_generation_prompt=True)
    assert text == golden
    proc = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(), tokenizer=tok)
    assert proc.apply_chat_template(conv, tokenize=False, add_generation_prompt=True) == golden


def test_voice_chat_has_no_text_instruction_and_analysis_has(tok):
    vc = chat.voice_chat("a.wav")
    an = chat.analysis("a.wav", "Describe it.")
    assert chat.user_text(vc[-1]) == "" and chat.audio_items(vc) == ["a.wav"]
    assert chat.user_text(an[-1]) == "Describe it."


@pytest.mark.parametrize("template", ["qwen2-audio", "tokenizer"])
def test_labels_cover_only_assistant_answers_and_end_of_turn(tok, template):
    conv = chat.analysis("a.wav", "What is it?") + [
        {"role": "assistant", "content": "A dog barking."},
        {"role": "user", "content": [{"type": "audio", "audio": "c.wav"}]},
        {"role": "assistant", "content": "Paris is the capital."},
    ]
    r = chat.render(conv, tok, audio_tokens=[5, 3], template=template)
    assert len(r.input_ids) == len(r.labels)
    learned = tok.decode([t for t in r.labels if t != chat.IGNORE])
    assert learned == "A dog barking.<|im_end|>Paris is the capital.<|im_end|>"
    audio_id = tok.convert_tokens_to_ids("<|AUDIO|>")
    assert [(s, n) for s, n in r.audio_slots] == [(r.input_ids.index(audio_id), 5), (r.audio_slots[1][0], 3)]
    assert r.input_ids.count(audio_id) == 8
    for s, n in r.audio_slots:
        assert r.input_ids[s : s + n] == [audio_id] * n and all(x == chat.IGNORE for x in r.labels[s : s + n])


def test_token_count_mismatch_is_an_error(tok):
    with pytest.raises(ValueError, match="2 audio slots but 1"):
        chat.render(chat.analysis(["a", "b"], "q"), tok, audio_tokens=[4])
