"""Exact parity with transformers' Qwen2-Audio: import, logits, greedy text, export back."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from transformers import Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor

from qwenlike import audio as A
from qwenlike import chat
from qwenlike.checkpoint import from_pretrained
from qwenlike.cli import main
from qwenlike.inputs import prepare

from conftest import tone


@pytest.fixture(scope="module")
def hf(q2a_dir):
    return Qwen2AudioForConditionalGeneration.from_pretrained(q2a_dir).eval(), Qwen2AudioProcessor.from_pretrained(q2a_dir)


@pytest.fixture(scope="module")
def converted(q2a_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("conv") / "qwenlike"
    assert main(["convert", str(q2a_dir), "--to", "qwenlike", "--out", str(out)]) == 0
    return out


def _hf_inputs(proc, conv, clips):
    text = proc.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
    return proc(text=text, audio=clips, sampling_rate=16000, return_tensors="pt")


CASES = {"1s": [1.0], "10s": [10.0], "29s": [29.0], "two_clips": [3.0, 7.5]}


@pytest.mark.parametrize("case", list(CASES))
def test_logits_match_transformers(hf, converted, case):
    ref, proc = hf
    ours = from_pretrained(converted)
    clips = [tone(s, 200 + 150 * i, seed=i) for i, s in enumerate(CASES[case])]
    conv = chat.analysis(clips, "What is that sound?")
    inp = _hf_inputs(proc, conv, clips)
    batch = prepare([conv], ours.tokenizer, ours.config, add_generation_prompt=True, clips=[clips])
    assert torch.equal(batch.input_ids, inp["input_ids"])
    assert batch.n_audio_tokens == sum(A.num_audio_tokens(len(c)) for c in clips)
    with torch.no_grad():
        want = ref(**inp).logits
        got = ours(batch.input_ids, batch.attention_mask, batch.audio)["logits"]
    assert (want - got).abs().max().item() < 1e-4


def test_ask_greedy_text_equals_transformers_generate(hf, converted, tmp_path, capsys):
    ref, proc = hf
    clip = tone(4.0, 330)
    wav = tmp_path / "clip.wav"
    sf.write(wav, clip, 16000, subtype="FLOAT")
    conv = chat.analysis([clip], "Describe the audio.")
    inp = _hf_inputs(proc, conv, [clip])
    out = ref.generate(**inp, max_new_tokens=12, do_sample=False)
    want = proc.batch_decode(out[:, inp["input_ids"].shape[1] :], skip_special_tokens=True)[0].strip()
    assert main(["ask", str(wav), "-q", "Describe the audio.", "--model", str(converted), "--max-new-tokens", "12", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["answer"] == want and want != ""
    assert got["audio_tokens"] == A.num_audio_tokens(len(clip)) and got["new_tokens"] == 12


def test_export_back_loads_in_transformers_with_same_logits(hf, converted, tmp_path):
    ref, proc = hf
    out = tmp_path / "exported"
    assert main(["convert", str(converted), "--to", "qwen2-audio", "--out", str(out)]) == 0
    back = Qwen2AudioForConditionalGeneration.from_pretrained(out).eval()
    proc2 = Qwen2AudioProcessor.from_pretrained(out)
    clip = tone(2.0)
    conv = chat.analysis([clip], "What is it?")
    inp = _hf_inputs(proc, conv, [clip])
    inp2 = _hf_inputs(proc2, conv, [clip])
    assert torch.equal(inp["input_ids"], inp2["input_ids"])
    with torch.no_grad():
        assert (ref(**inp).logits - back(**inp2).logits).abs().max().item() < 1e-6
