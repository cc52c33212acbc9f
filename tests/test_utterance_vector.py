"""The utterance vector (`model.utterance_block`): one encoder block pooled over each window, added
to that window's audio tokens; starts at zero, trains with the adapter, saves in the delta."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from qwenlike import audio as A
from qwenlike.checkpoint import export_qwen2_audio, from_pretrained
from qwenlike.data import write_tone_manifest
from qwenlike.errors import UserError
from qwenlike.inputs import AudioBatch
from qwenlike.tiny import tiny_audiolm
from qwenlike.train import run

from conftest import tiny_align_args, tone


def _rows(model, waves):
    feats = A.log_mel(waves, n_mels=model.config.n_mels)
    tokens = [A.num_audio_tokens(len(w), **model.config.token_args) for w in waves]
    with torch.no_grad():
        return model.encode_audio(AudioBatch(feats, tokens)).split(tokens)


def test_a_new_utterance_vector_changes_nothing_until_trained_then_shifts_each_window_by_its_own_pooled_reading():
    model = tiny_audiolm(seed=0).eval()
    waves = [tone(1.0, 300.0, seed=0), tone(0.6, 700.0, seed=1)]
    before = _rows(model, waves)
    assert model.set_utterance_block(1) and not model.set_utterance_block(1)
    assert model.encoder.out_dim == 2 * model.encoder.dim and model.config.projector.in_dim == model.encoder.dim
    zero = _rows(model, waves)
    assert all(torch.equal(a, b) for a, b in zip(before, zero))  # zero-initialised: the same audio tokens
    torch.manual_seed(0)
    torch.nn.init.normal_(model.projector.utterance.linear.weight, std=0.5)
    after = _rows(model, waves)
    shifts = [a - b for a, b in zip(after, before)]
    for s in shifts:  # one vector per window, the same on each of its tokens
        assert s.abs().max() > 1e-3 and torch.allclose(s, s[:1].expand_as(s), atol=1e-5)
    assert not torch.allclose(shifts[0][0], shifts[1][0], atol=1e-3)  # two clips, two readings
    alone = _rows(model, waves[1:])[0]
    assert torch.allclose(alone, after[1], atol=1e-5)  # pooled over the clip's own frames: padding is not read
    assert model.set_utterance_block(0) and not hasattr(model.projector, "utterance")
    assert all(torch.equal(a, b) for a, b in zip(before, _rows(model, waves)))
    with pytest.raises(ValueError, match="utterance block"):
        model.set_utterance_block(len(model.encoder.whisper.layers) + 1)


def test_a_recipe_with_an_utterance_block_trains_it_and_its_delta_loads_on_the_base_without_one(tmp_path):
    tones = write_tone_manifest(tmp_path / "tones", n=8, seconds=0.5)
    out = tmp_path / "run"
    run(tiny_align_args(tones, out, "global_batch_size=4", "data.micro_batch_size=2", "precision=fp32", "max_steps=3",
                        "save_every=3", "model.cache_encoder_features=true", "model.utterance_block=1"))  # fmt: skip
    ck = out / "checkpoint-3"
    meta = json.loads((ck / "config.json").read_text())
    assert meta["qwenlike"]["utterance_block"] == 1
    assert json.loads((out / "base" / "config.json").read_text())["qwenlike"]["utterance_block"] == 0
    stored = load_file(str(ck / "delta.safetensors"))
    w = stored["projector.utterance.linear.weight"]
    assert w.abs().max() > 0  # trained away from its zero start
    model = from_pretrained(ck)
    assert model.config.utterance_block == 1 and model.encoder.summary == (1,)
    params = dict(model.named_parameters())
    assert all(torch.equal(params[k], v) for k, v in stored.items())
    with pytest.raises(UserError, match="Qwen2-Audio layout"):
        export_qwen2_audio(model, tmp_path / "q2a")


# refused recipes (projector frozen, a block past the top): tests/test_encoder_taps.py
