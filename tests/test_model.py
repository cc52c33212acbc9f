"""AudioLM: long audio in windows, batch independence, count checks, loss, save/load."""

from __future__ import annotations

import pytest
import torch

from qwenlike import audio as A
from qwenlike import chat
from qwenlike.inputs import AudioBatch, prepare
from qwenlike.model import AudioLM
from qwenlike.tiny import tiny_audiolm

from conftest import tone


@pytest.fixture(scope="module", params=["stack-mlp", "pool-linear"])
def model(request):
    return tiny_audiolm(seed=1, projector=request.param)


def test_long_audio_is_encoded_in_windows_in_order(model):
    clip = tone(75.0, 500)
    batch = prepare([chat.analysis([clip], "Describe.")], model.tokenizer, model.config, clips=[[clip]])
    want = A.num_audio_tokens(len(clip), **model.config.token_args)
    assert batch.n_audio_tokens == want == (batch.input_ids == model.audio_token_id).sum()
    assert batch.audio.features.mel.shape[0] == 3 and batch.audio.tokens == A.window_tokens(len(clip), **model.config.token_args)
    with torch.no_grad():
        rows = model.encode_audio(batch.audio)  # (sum A, H)
        parts = []
        for s, e in A.window_spans(len(clip)):
            piece = clip[s:e]
            feats = A.log_mel([piece], n_mels=model.config.n_mels)
            parts.append(model.encode_audio(AudioBatch(feats, [A.num_audio_tokens(len(piece), **model.config.token_args)])))
    assert rows.shape[0] == want
    assert torch.allclose(rows, torch.cat(parts), atol=1e-5)


def test_batched_rows_equal_single_rows(model):
    short = chat.analysis([tone(1.5)], "What is it?")
    long = chat.analysis([tone(12.0, 900), tone(3.0, 250)], "Same or different?")
    with torch.no_grad():
        for side in ("left", "right"):
            alone = prepare([short], model.tokenizer, model.config, padding_side=side)
            both = prepare([long, short], model.tokenizer, model.config, padding_side=side)
            la = model(alone.input_ids, alone.attention_mask, alone.audio)["logits"][0]
            lb = model(both.input_ids, both.attention_mask, both.audio)["logits"][1]
            lb = lb[both.attention_mask[1].bool()]
            assert (la - lb).abs().max().item() < 1e-4


def test_slot_count_mismatch_names_both_numbers(model):
    clip = tone(1.0)
    batch = prepare([chat.analysis([clip], "q")], model.tokenizer, model.config, clips=[[clip]])
    ids = batch.input_ids.clone()
    ids[0, (ids[0] == model.audio_token_id).nonzero()[0, 0]] = 0  # drop one slot
    n = int(batch.n_audio_tokens)
    with pytest.raises(ValueError, match=f"n_rows={n} != n_slots={n - 1}"):
        model.embed(ids, batch.audio)


def test_loss_is_mean_over_assistant_tokens(model):
    conv = chat.analysis([tone(2.0)], "What is it?") + [{"role": "assistant", "content": "a bird song."}]
    b = prepare([conv, conv[:1] + [{"role": "assistant", "content": "yes"}]], model.tokenizer, model.config)
    with torch.no_grad():
        out = model(b.input_ids, b.attention_mask, b.audio, labels=b.labels)
        logits = model(b.input_ids, b.attention_mask, b.audio)["logits"]
    ref = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), b.labels[:, 1:].flatten(), ignore_index=-100)
    assert abs(out["loss"].item() - ref.item()) < 1e-5
    assert out["n_tokens"] == int((b.labels != -100).sum())


def test_save_and_load_round_trip(model, tmp_path):
    model.save_pretrained(str(tmp_path / "m"))
    again = AudioLM.from_pretrained(str(tmp_path / "m"))
    b = prepare([chat.voice_chat(tone(1.0))], model.tokenizer, model.config, add_generation_prompt=True)
    with torch.no_grad():
        assert torch.equal(model(b.input_ids, b.attention_mask, b.audio)["logits"], again(b.input_ids, b.attention_mask, b.audio)["logits"])
    assert again.config.to_dict() == model.config.to_dict()
