"""Encoder taps: the adapter also sees earlier encoder blocks (`model.encoder_taps`), trained from a
model without them, saved as a delta over that base, loaded back for ask/eval."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from qwenlike.audio import Features, log_mel
from qwenlike.checkpoint import export_qwen2_audio, from_pretrained
from qwenlike.data import write_tone_manifest
from qwenlike.errors import UserError
from qwenlike.tiny import tiny_audiolm
from qwenlike.train import run

from conftest import tiny_align_args, tone


def _features(model, seconds=(1.0, 0.6)) -> Features:
    waves = [tone(s, 300.0 + 100 * i, seed=i) for i, s in enumerate(seconds)]
    return log_mel(waves, n_mels=model.config.n_mels)


def test_a_tapped_encoder_returns_the_final_output_then_each_tapped_block_normalised():
    model = tiny_audiolm(seed=0).eval()
    d, n_blocks = model.encoder.dim, len(model.encoder.whisper.layers)
    feats = _features(model)
    with torch.no_grad():
        plain, valid = model.encoder(feats)
        seen = {}
        hook = model.encoder.whisper.layers[0].register_forward_hook(lambda _m, _i, o: seen.setdefault("b1", o[0] if isinstance(o, tuple) else o))
        assert model.set_encoder_taps([1]) and not model.set_encoder_taps([1])  # the second call changes nothing
        tapped, valid2 = model.encoder(feats)
        hook.remove()
    assert model.encoder.dim == 2 * d and model.config.projector.in_dim == 2 * d
    assert tapped.shape == (*plain.shape[:2], 2 * d) and torch.equal(valid, valid2)
    mask = (torch.arange(plain.shape[1])[None, :] < valid[:, None])[..., None]
    assert torch.equal(tapped[..., :d], plain)  # the final output is untouched
    want = torch.nn.functional.layer_norm(seen["b1"], (d,)) * mask  # padded frames are zeroed as before
    assert torch.allclose(tapped[..., d:], want, atol=1e-6)
    assert torch.equal(tapped[1, int(valid[1]):], torch.zeros_like(tapped[1, int(valid[1]):]))
    # the rebuilt adapter reads the wider frames: audio tokens come out at the LM's width
    rows = model.projector(tapped)
    assert rows.shape[-1] == model.config.projector.out_dim
    for bad in ([0], [n_blocks], [1, 1]):
        with pytest.raises(ValueError, match="encoder taps"):
            model.set_encoder_taps(bad)


def test_a_recipe_with_taps_trains_a_new_adapter_whose_delta_loads_on_the_untapped_base(tmp_path):
    tones = write_tone_manifest(tmp_path / "tones", n=8, seconds=0.5)
    out = tmp_path / "run"
    opts = ["global_batch_size=4", "data.micro_batch_size=2", "precision=fp32", "max_steps=3", "save_every=3",
            "model.cache_encoder_features=true", "model.encoder_taps=1"]  # fmt: skip
    run(tiny_align_args(tones, out, *opts))
    rows = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(r["grad_norm"] > 0 for r in rows)  # the new adapter gets gradients
    ck = out / "checkpoint-3"
    meta = json.loads((ck / "config.json").read_text())
    assert meta["qwenlike"]["encoder_taps"] == [1] and json.loads((out / "base" / "config.json").read_text())["qwenlike"]["encoder_taps"] == []
    stored = load_file(str(ck / "delta.safetensors"))
    d = tiny_audiolm(seed=0).encoder.dim
    assert any(v.shape[-1] == 2 * d * 4 for k, v in stored.items() if k.startswith("projector."))  # stack-mlp: 4 frames x 2D
    model = from_pretrained(ck)
    assert model.config.encoder_taps == [1] and model.encoder.taps == (1,)
    params = dict(model.named_parameters())
    assert all(torch.equal(params[k], v) for k, v in stored.items())
    # the same seed gives the same new adapter: a second run's weights are identical
    run(tiny_align_args(tones, tmp_path / "again", *opts))
    again = load_file(str(tmp_path / "again" / "checkpoint-3" / "delta.safetensors"))
    assert all(torch.equal(again[k], v) for k, v in stored.items())
    with pytest.raises(UserError, match="Qwen2-Audio layout"):
        export_qwen2_audio(model, tmp_path / "q2a")


@pytest.mark.parametrize("option, extra, msg", [
    ("model.encoder_taps=1", ["model.projector=frozen", "model.lm=full"], "needs model.projector: full"),
    ("model.encoder_taps=9", [], "encoder taps must be"),
    ("model.utterance_block=1", ["model.projector=frozen", "model.lm=full"], "needs model.projector: full"),
    ("model.utterance_block=9", [], "utterance block must be"),
])  # fmt: skip
def test_adapter_inputs_that_cannot_work_are_refused_in_one_line(tmp_path, option, extra, msg):
    """Taps and the utterance vector (tests/test_utterance_vector.py) both add to the adapter."""
    tones = write_tone_manifest(tmp_path / "tones", n=4, seconds=0.3)
    with pytest.raises(UserError, match=msg):
        run(tiny_align_args(tones, tmp_path / "run", "max_steps=1", option, *extra))
