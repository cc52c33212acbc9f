"""The label head (`qwenlike label-head`, `model.label_head`): a logistic regression per closed-set task
on an encoder block's pooled frames, fitted on the train split; each window gets one more audio row
per task, its label probabilities times the labels' input embeddings."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from qwenlike import audio as A
from qwenlike.checkpoint import export_qwen2_audio, from_pretrained, pack_delta
from qwenlike.cli import main
from qwenlike.errors import UserError
from qwenlike.generate import score_labels
from qwenlike.inputs import AudioBatch, prepare
from qwenlike.label_head import fit_label_head, window_features
from qwenlike.projector import pool_frames
from qwenlike.train import run

from conftest import tiny_align_args, tone
from test_probe import PITCH, corpus  # noqa: F401  (the fixture: sound_event by pitch band, speaker_gender apart from the audio)


def _rows(model, waves):
    feats = A.log_mel(waves, n_mels=model.config.n_mels)
    tokens = [A.num_audio_tokens(len(w), **model.config.token_args) for w in waves]
    with torch.no_grad():
        return tokens, model.encode_audio(AudioBatch(feats, tokens)).split(tokens)


def test_a_fitted_head_names_held_out_pitch_bands_and_hands_the_lm_that_label_s_embedding(tiny_dir, corpus):
    model = from_pretrained(tiny_dir).eval()
    waves = [tone(0.5, PITCH["rain"] * 1.02, seed=5000), tone(0.45, PITCH["bell"], seed=5001)]
    plain_tokens, plain = _rows(model, waves)
    report = {r["task"]: r for r in fit_label_head(model, str(corpus), ["sound_event", "speaker_gender"], blocks=[1])}
    se, sg = report["sound_event"], report["speaker_gender"]
    assert (se["labels"], se["n_train"], se["n_test"], se["test_accuracy"]) == (3, 24, 12, 1.0)
    assert sg["n_test"] == 12 and sg["test_accuracy"] <= 0.75  # labels unrelated to the audio: no better than chance on held-out clips
    assert model.config.token_args["extra"] == 2 and model.encoder.summary == (1,)
    tokens, rows = _rows(model, waves)
    assert tokens == [n + 2 for n in plain_tokens]  # one more row per task and window
    for r, p in zip(rows, plain):
        assert torch.equal(r[:-2], p)  # the frame rows are untouched
    table = model.label_table().detach()  # (5, H): bell, dog barking, rain, female, male
    emb = model.lm.get_input_embeddings().weight.detach()
    rain = emb[model.tokenizer("rain", add_special_tokens=False)["input_ids"]].mean(0)
    assert torch.allclose(table[2], rain)
    for r, band in zip(rows, ("rain", "bell")):
        k = sorted(PITCH).index(band)
        probs = torch.linalg.lstsq(table[:3].T.double(), r[-2].double()[:, None]).solution[:, 0]  # the row as a mix of the three label embeddings
        assert probs.argmax() == k and probs[k] > 0.9 and probs.sum() == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(UserError, match="not a closed-set"):
        fit_label_head(model, str(corpus), ["asr"])


def test_batched_features_stop_at_the_last_summary_block_and_match_the_model_s_own_windows(tiny_dir):
    model = from_pretrained(tiny_dir).eval()
    model.set_label_head({"blocks": [1], "groups": [{"task": "t", "labels": ["a", "b"], "token_ids": [[5], [6]]}]})
    long = A.WINDOW_SAMPLES + 8000  # two windows: 30 s and 0.5 s
    waves = [tone(0.3, 300, seed=1), tone(long / A.SAMPLE_RATE, 500, seed=2), tone(1.7, 900, seed=3), tone(0.9, 200, seed=4)]
    x, owner = window_features(model, waves, batch=3)
    assert owner == [0, 1, 1, 2, 3]  # rows in clip order, whatever order the batches ran in
    d = model.encoder.dim
    for row, win in zip(x, [waves[0], waves[1][: A.WINDOW_SAMPLES], waves[1][A.WINDOW_SAMPLES :], waves[2], waves[3]]):
        with torch.no_grad():  # one window alone, through the whole encoder, as encode_audio runs it
            hidden, valid = model.encoder(A.log_mel([win], n_mels=model.config.n_mels))
        assert torch.allclose(row, pool_frames(hidden[..., d:], valid)[0], atol=1e-4)


def test_the_cli_writes_a_small_delta_that_loads_scores_and_trains_on_with_the_head_frozen(tiny_dir, corpus, tmp_path, capsys):
    out = tmp_path / "head"
    assert main(["label-head", "--model", str(tiny_dir), "--corpus", str(corpus), "--tasks", "sound_event",
                 "--blocks", "1", "--out", str(out), "--quiet"]) == 0  # fmt: skip
    assert "sound_event" in capsys.readouterr().out
    stored = load_file(str(out / "delta.safetensors"))
    assert sorted(stored) == ["label_head.linear.bias", "label_head.linear.weight"]  # only what was fitted
    fit = json.loads((out / "label_head.json").read_text())
    assert fit["tasks"][0]["test_accuracy"] == 1.0 and (out / "label_sets.json").exists()
    model = from_pretrained(out).eval()
    assert model.config.label_head["blocks"] == [1] and [g["task"] for g in model.config.label_head["groups"]] == ["sound_event"]
    assert torch.equal(model.label_head.linear.weight, stored["label_head.linear.weight"])
    conv = [{"role": "user", "content": [{"type": "audio", "audio": str(tmp_path / "t.wav")}, {"type": "text", "text": "What sound is this?"}]}]
    import soundfile as sf

    sf.write(tmp_path / "t.wav", tone(0.5, PITCH["dog barking"]), 16000)
    batch = prepare([conv], model.tokenizer, model.config, add_generation_prompt=True)
    n_frames = A.num_audio_tokens(8000, stride=model.config.projector.stride, mode=model.config.projector.mode)
    assert int((batch.input_ids == model.audio_token_id).sum()) == n_frames + 1
    s = score_labels(model, conv, sorted(PITCH))
    assert sum(s.probs) == pytest.approx(1.0)
    with pytest.raises(UserError, match="Qwen2-Audio layout"):
        export_qwen2_audio(model, tmp_path / "q2a")
    # without --model: the model $QWENLIKE_MODEL names is the one fitted on, and the delta's base
    env_out = tmp_path / "env_head"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QWENLIKE_MODEL", str(tiny_dir))
        assert main(["label-head", "--corpus", str(corpus), "--tasks", "sound_event", "--blocks", "1", "--out", str(env_out), "--quiet"]) == 0
    assert json.loads((env_out / "config.json").read_text())["delta"]["base"] == str(tiny_dir.resolve())
    capsys.readouterr()
    # refused in one line each: a task without labels, an unknown task, a block past the top, a used folder
    for args, msg in ((["--tasks", "asr"], "not a closed-set"), (["--tasks", "nope"], "unknown task"),
                      (["--blocks", "9"], "block must be in"), (["--blocks", "two"], "block numbers"), (["--out", str(out)], "not empty")):  # fmt: skip
        argv = ["label-head", "--model", str(tiny_dir), "--corpus", str(corpus), "--tasks", "sound_event", "--out", str(tmp_path / "x"), *args]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err
    # a LoRA stage on the fitted model: the head stays as fitted, the stage's package carries it
    from qwenlike.data import write_tone_manifest

    tones = write_tone_manifest(tmp_path / "tones", n=8, seconds=0.5)
    run_dir = tmp_path / "run"
    args = tiny_align_args(tones, run_dir, "global_batch_size=4", "data.micro_batch_size=2", "precision=fp32", "max_steps=2",
                           "save_every=2", "model.lm=lora", "model.tiny=false", f"model.path={out}")  # fmt: skip
    run(args)
    ck = run_dir / "checkpoint-2"
    assert not any(k.startswith("label_head.") for k in load_file(str(ck / "delta.safetensors")))
    trained = from_pretrained(ck).eval()
    assert torch.equal(trained.label_head.linear.weight, model.label_head.linear.weight)
    packed = from_pretrained(pack_delta(ck, tmp_path / "package", dtype=torch.float32)).eval()
    waves = [tone(0.5, PITCH["rain"])]
    assert torch.allclose(_rows(packed, waves)[1][0], _rows(trained, waves)[1][0], atol=1e-5)


def test_a_head_over_several_blocks_reads_them_side_by_side_and_an_old_single_block_spec_still_loads(tiny_dir, corpus):
    model = from_pretrained(tiny_dir).eval()
    d = model.encoder.config.d_model
    report = fit_label_head(model, str(corpus), ["sound_event"], blocks=[2, 1])
    assert report[0]["test_accuracy"] == 1.0
    assert model.config.label_head["blocks"] == [1, 2] and model.encoder.summary == (1, 2)
    assert model.label_head.linear.in_features == 2 * 2 * d  # mean and std of each block
    assert model.encoder.out_dim == model.encoder.dim + 2 * d
    spec = {**model.config.label_head}
    del spec["blocks"]
    old = from_pretrained(tiny_dir)
    assert old.set_label_head({**spec, "block": 1}) and old.config.label_head["blocks"] == [1]  # as the first shipped head wrote it
    with pytest.raises(ValueError, match="distinct blocks"):
        old.set_label_head({**spec, "blocks": [1, 1]})


def test_model_label_head_full_trains_the_head_on_with_the_lm_loss_and_keeps_it_in_the_delta(tiny_dir, corpus, tmp_path):
    from qwenlike.data import write_tone_manifest
    from qwenlike.label_head import save_label_head

    model = from_pretrained(tiny_dir)
    report = fit_label_head(model, str(corpus), ["sound_event"], blocks=[1])
    save_label_head(model, tmp_path / "head", str(tiny_dir), report, str(corpus))
    fitted = model.label_head.linear.weight.detach().clone()
    tones = write_tone_manifest(tmp_path / "tones", n=8, seconds=0.5)
    run(tiny_align_args(tones, tmp_path / "run", "global_batch_size=4", "data.micro_batch_size=2", "precision=fp32", "max_steps=2",
                        "save_every=2", "model.tiny=false", f"model.path={tmp_path / 'head'}", "model.label_head=full"))  # fmt: skip
    stored = load_file(str(tmp_path / "run" / "checkpoint-2" / "delta.safetensors"))
    assert not torch.equal(stored["label_head.linear.weight"], fitted)  # trained on from the fit
    with pytest.raises(UserError, match="model.label_head"):
        run(tiny_align_args(tones, tmp_path / "bad", "model.label_head=lora"))


@pytest.fixture(scope="module")
def note_corpus(tmp_path_factory):
    """note_analysis as the corpus writes it: the answer is "A4, velocity 93", the label (what accuracy
    scores) the pitch alone; three pitches an octave apart, a different velocity on every clip."""
    from datasets import DatasetDict
    from qwenlike.voicechat import to_dataset
    from test_probe import _row

    notes = {"A3": 220.0, "A4": 440.0, "A5": 880.0}
    root = tmp_path_factory.mktemp("notes") / "corpus"
    splits = {}
    for split, n in (("train", 18), ("test", 9)):
        rows = []
        for i in range(n):
            name = sorted(notes)[i % 3]
            row = _row("note_analysis", split, i, name, notes[name])
            row["answer"] = f"{name}, velocity {30 + 7 * i + (50 if split == 'test' else 0)}"
            rows.append(row)
        splits[split] = to_dataset(rows)
    DatasetDict(splits).save_to_disk(str(root))
    (root / "label_sets.json").write_text(json.dumps({"note_analysis": sorted(notes)}))
    return root


def test_head_and_probe_learn_a_task_s_label_not_its_longer_answer(tiny_dir, note_corpus):
    # Until the twenty-first session both read note_analysis's answers as labels: the head refused
    # ("labels outside its label set") and the probe scored 0 (every answer its own class).
    from qwenlike.probe import probe_tasks

    model = from_pretrained(tiny_dir).eval()
    (r,) = fit_label_head(model, str(note_corpus), ["note_analysis"], blocks=[1])
    assert (r["labels"], r["n_train"], r["n_test"], r["test_accuracy"]) == (3, 18, 9, 1.0)
    (p,) = probe_tasks(model, str(note_corpus), ["note_analysis"], layers=[1])
    assert (p.labels, p.n_test, p.test_accuracy) == (3, 9, 1.0)
