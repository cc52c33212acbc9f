"""Voice-chat data: TTS questions, target = the text LM's own greedy reply; spoken instructions."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from test_tasks import LABEL_SETS, synthetic_row

from qwenlike import audio as A
from qwenlike import chat
from qwenlike.tasks import MixtureSampler, load_tasks, mixture_from_dict
from qwenlike.tiny import tiny_tokenizer
from qwenlike.voicechat import (
    QUESTIONS, CachedTTS, EspeakTTS, distill, make_voice_chat, prerender_prompts, question_split, to_dataset,
)  # fmt: skip

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@pytest.fixture(scope="module")
def lm_tok():
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer()
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)  # fmt: skip
    torch.manual_seed(0)
    return LlamaForCausalLM(cfg).eval(), tok


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(label_sets=LABEL_SETS)


def greedy_by_hand(lm, tok, text: str, n: int) -> str:
    """Argmax decoding written out, independent of generate(): the reference for text_reply."""
    prompt = tok.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
    ids = tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    new = []
    with torch.no_grad():
        for _ in range(n):
            nxt = int(lm(input_ids=ids).logits[0, -1].argmax())
            if nxt == tok.eos_token_id:
                break
            new.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    return tok.decode(new, skip_special_tokens=True).strip()


def test_question_pool_is_large_varied_and_split_without_leaks():
    assert len(QUESTIONS) >= 100 and len(set(QUESTIONS)) == len(QUESTIONS)
    splits = {s: {q for q in QUESTIONS if question_split(q) == s} for s in ("train", "validation", "test")}
    assert all(splits.values()) and sum(map(len, splits.values())) == len(QUESTIONS)
    assert any(q.startswith("How do I") for q in QUESTIONS) and any("plus" in q or "times" in q for q in QUESTIONS)


class EchoLM:
    """A stand-in LM whose generate() appends the first prompt token: cheap, deterministic."""

    device = torch.device("cpu")

    def generate(self, input_ids, **kw):
        return torch.cat([input_ids, input_ids[:, :1]], dim=1)


class FakeTTS:
    name, engine = "fake:tone", "fake"

    def __call__(self, text: str) -> bytes:
        from test_tasks import wav_bytes

        return wav_bytes(0.3, 200 + len(text))


def test_voice_chat_rows_are_seeded_and_split(lm_tok):
    _lm, tok = lm_tok
    a = make_voice_chat(12, "train", FakeTTS(), EchoLM(), tok, seed=1)
    assert a == make_voice_chat(12, "train", FakeTTS(), EchoLM(), tok, seed=1)
    b = make_voice_chat(12, "train", FakeTTS(), EchoLM(), tok, seed=2)
    assert [r["text"] for r in a] != [r["text"] for r in b]
    assert all(question_split(r["text"]) == "train" for r in a + b)
    assert len({r["id"] for r in a}) == 12 and all(r["source"] == "voicechat.fake" for r in a)


@needs_espeak
def test_voice_chat_rows_reply_as_the_lm_replies_to_text(lm_tok, tmp_path, tasks):
    lm, tok = lm_tok
    tts = CachedTTS(EspeakTTS(), tmp_path / "tts")
    rows = make_voice_chat(3, "test", tts, lm, tok, seed=3, max_new_tokens=5)
    test_questions = {q for q in QUESTIONS if question_split(q) == "test"}
    expected = {q: greedy_by_hand(lm, tok, q, 5) for q in {r["text"] for r in rows}}
    for r in rows:
        assert r["task"] == "voice_chat" and r["text"] in test_questions
        assert r["answer"] == expected[r["text"]]  # the LM's own text-mode greedy reply
        wav = A.load(r["audio"]["bytes"])  # 16 kHz WAV bytes of the spoken question
        assert abs(len(wav) / 16000 - r["duration"]) < 1e-3 and r["duration"] > 0.5
        assert json.loads(r["meta"])["question"] == r["text"]
    # as a dataset it samples and renders like any corpus split: the user turn is the audio alone
    ds = to_dataset(rows)
    mix = mixture_from_dict({"tasks": {"voice_chat": 1}}, tasks=tasks)
    for s in MixtureSampler(mix, tasks, {"voice_chat": ds}, seed=0).take(6):
        user, reply = s.messages[-2], s.messages[-1]["content"]
        assert chat.user_text(user) == "" and len(chat.audio_items(s.messages)) == 1
        assert reply == expected[s.row["text"]]
        assert isinstance(chat.audio_items(s.messages)[0], bytes)  # kept encoded: audio.load decodes it


def test_distill_replaces_reference_replies_with_the_lm_reply(lm_tok):
    lm, tok = lm_tok
    rows = [synthetic_row("voice_chat", i) for i in range(2)]
    out = distill(rows, lm, tok, max_new_tokens=5)
    want = greedy_by_hand(lm, tok, rows[0]["text"], 5)
    assert [r["answer"] for r in out] == [want, want]
    assert json.loads(out[0]["meta"])["reference_reply"] == rows[0]["answer"]


@needs_espeak
def test_spoken_instructions_are_read_by_tts_and_cached(tasks, tmp_path):
    tts = CachedTTS(EspeakTTS(), tmp_path / "tts")
    row = synthetic_row("audio_qa")
    conv = tasks["audio_qa"].conversation(row, "spoken", seed=2, speak=tts)
    clips = chat.audio_items(conv)
    assert len(clips) == 2 and clips[0] == row["audio"]["bytes"]
    question = tasks["audio_qa"].instruction(row, "natural", seed=2)
    assert clips[1] == tts(question) and len(A.load(clips[1])) > 8000  # the instruction, spoken
    assert question not in chat.user_text(conv[-2]) and chat.user_text(conv[-2])  # analysis: a text cue stays
    n_files = len(list((tmp_path / "tts").glob("*.wav")))
    assert n_files == 1
    # warm the cache with every field-free paraphrase of two tasks; a second pass adds nothing
    two = {k: tasks[k] for k in ("speaker_gender", "music_qa")}
    n = prerender_prompts(two, tts)
    assert n == 6 + 0  # music_qa's prompts all read the row's question
    assert len(list((tmp_path / "tts").glob("*.wav"))) == n_files + 6
    prerender_prompts(two, tts)
    assert len(list((tmp_path / "tts").glob("*.wav"))) == n_files + 6
