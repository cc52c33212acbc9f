"""Label scoring: batched with a shared prompt cache, equal to one-label-at-a-time scoring."""

from __future__ import annotations

import json
import math

import pytest
import torch

from qwenlike import chat
from qwenlike.cli import main
from qwenlike.generate import label_logliks, score_labels, score_multilabel
from qwenlike.inputs import prepare
from qwenlike.tiny import tiny_audiolm

from conftest import tone

LABELS = ["dog", "dog barking", "cat", "a bell rings twice", "rain"]


@pytest.fixture(scope="module")
def model():
    return tiny_audiolm(seed=3)


def test_probabilities_are_normalised_exp_of_single_label_logliks(model):
    clip = tone(2.0)
    conv = chat.analysis([clip], "Which sound is this?")
    s = score_labels(model, conv, LABELS, clips=[clip])
    assert abs(sum(s.probs) - 1) < 1e-9
    one_by_one = [label_logliks(model, conv, [lab], clips=[clip])[0] for lab in LABELS]
    z = sum(math.exp(x) for x in one_by_one)
    for p, x in zip(s.probs, one_by_one):
        assert abs(p - math.exp(x) / z) < 1e-6
    # and each log-likelihood is the teacher-forced loss of that answer (label + end of turn)
    for lab, ll in zip(LABELS, s.loglik):
        b = prepare([conv + [{"role": "assistant", "content": lab}]], model.tokenizer, model.config, clips=[[clip]])
        with torch.no_grad():
            assert abs(-model(b.input_ids, b.attention_mask, b.audio, labels=b.labels)["loss_sum"].item() - ll) < 1e-3


def test_multilabel_probabilities_are_independent(model):
    probs = score_multilabel(model, [tone(1.0)], ["dog", "rain", "bell"])
    assert set(probs) == {"dog", "rain", "bell"} and all(0 < p < 1 for p in probs.values())
    assert abs(sum(probs.values()) - 1) > 1e-6  # not a softmax over labels


def test_classify_cli_json(tiny_dir, wav_path, capsys):
    assert main(["classify", str(wav_path), "--labels", "dog,cat,rain", "--model", str(tiny_dir), "--json", "--top-k", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert abs(sum(out["probabilities"].values()) - 1) < 1e-6 and len(out["top"]) == 2
    assert out["label"] == max(out["probabilities"], key=out["probabilities"].get)
    assert main(["classify", str(wav_path), "--labels", "dog", "--model", str(tiny_dir)]) == 2


def test_classify_with_a_task_label_set(tiny_dir, wav_path, capsys):
    from qwenlike.tasks import load_tasks

    labels = list(load_tasks()["speaker_gender"].labels)
    assert main(["classify", str(wav_path), "--task", "speaker_gender", "--model", str(tiny_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(out["probabilities"]) == sorted(labels) and abs(sum(out["probabilities"].values()) - 1) < 1e-6
    assert main(["classify", str(wav_path), "--task", "asr", "--model", str(tiny_dir)]) == 2
