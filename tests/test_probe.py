"""`qwenlike probe`: a linear probe on the frozen encoder's pooled features, fitted on train, scored on test."""

from __future__ import annotations

import io
import json

import pytest
import soundfile as sf
import torch
from datasets import DatasetDict

from qwenlike.checkpoint import from_pretrained
from qwenlike.cli import main
from qwenlike.probe import fit_linear, probe_tasks
from qwenlike.voicechat import to_dataset

from conftest import tone

# sound_event: the label is the tone's pitch band (separable); speaker_gender: the label is drawn
# independently of the audio (nothing to learn), a control that the test split is really unseen.
PITCH = {"bell": 300.0, "dog barking": 1200.0, "rain": 4000.0}


def _row(task: str, split: str, i: int, label: str, freq: float) -> dict:
    b = io.BytesIO()
    sf.write(b, tone(0.4 + 0.05 * (i % 5), freq * (1 + 0.03 * (i % 4)), seed=i + (1000 if split == "test" else 0)), 16000, format="WAV")
    return {"id": f"{task}-{split}-{i}", "task": task, "audio": {"bytes": b.getvalue(), "path": None}, "audio2": None,
            "answer": label, "label": label, "text": "", "language": "", "voice": "", "source": "test", "group": "",
            "duration": 0.5, "meta": "{}"}  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe") / "corpus"
    gen = torch.Generator().manual_seed(0)
    splits = {}
    for split, n in (("train", 24), ("test", 12)):
        rows = []
        for i in range(n):
            label = sorted(PITCH)[i % 3]
            rows.append(_row("sound_event", split, i, label, PITCH[label]))
            g = ["female", "male"][int(torch.randint(2, (1,), generator=gen))]
            rows.append(_row("speaker_gender", split, i, g, 250.0 + 40 * (i % 6)))
        splits[split] = to_dataset(rows)
    DatasetDict(splits).save_to_disk(str(root))
    (root / "label_sets.json").write_text(json.dumps({"sound_event": sorted(PITCH), "speaker_gender": ["female", "male"]}))
    return root


def test_the_probe_separates_what_the_audio_tells_and_not_what_it_does_not(tiny_dir, corpus):
    model = from_pretrained(tiny_dir)
    res = {r.task: r for r in probe_tasks(model, str(corpus), ["sound_event", "speaker_gender"])}
    se, sg = res["sound_event"], res["speaker_gender"]
    assert (se.labels, se.n_train, se.n_test) == (3, 24, 12)
    assert se.test_accuracy == 1.0 and se.chance == pytest.approx(1 / 3)
    # labels unrelated to the audio: it can fit train, but held-out items stay near chance
    assert sg.n_test == 12 and sg.test_accuracy <= 0.75


def test_fit_linear_learns_a_linear_rule_and_generalises():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 6, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 3] > 0).long()
    predict = fit_linear(x[:500], y[:500], 2)
    assert (predict(x[500:]) == y[500:]).double().mean() >= 0.95
    shuffled = fit_linear(x[:500], y[:500][torch.randperm(500, generator=g)], 2)  # no rule to find
    assert (shuffled(x[500:]) == y[500:]).double().mean() < 0.7


def test_cli_prints_a_table_writes_json_and_refuses_bad_input_in_one_line(tiny_dir, corpus, tmp_path, capsys):
    out = tmp_path / "probe.json"
    assert main(["probe", "--corpus", str(corpus), "--model", str(tiny_dir), "--tasks", "sound_event", "--out", str(out), "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "| sound_event | final | 3 | 24 | 12 |" in table and "1.000" in table
    saved = json.loads(out.read_text())
    assert saved["tasks"][0]["task"] == "sound_event" and saved["tasks"][0]["test_accuracy"] == 1.0
    for args, msg in ((["--tasks", "asr"], "not a closed-set"), (["--tasks", "nope"], "unknown task"),
                      (["--tasks", "sound_event", "--layers", "0"], "blocks 1.."), (["--layers", "two"], "block numbers"),
                      (["--corpus", str(tmp_path / "missing")], "corpus not found")):
        argv = ["probe", "--corpus", str(corpus), "--model", str(tiny_dir), *args]
        if args[0] == "--corpus":
            argv = ["probe", *args, "--model", str(tiny_dir)]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err


def test_layers_probe_each_encoder_block_from_one_encoding_and_leave_the_model_as_it_was(tiny_dir, corpus, tmp_path, capsys):
    model = from_pretrained(tiny_dir)
    n_blocks = len(model.encoder.whisper.layers)
    res = probe_tasks(model, str(corpus), ["sound_event", "speaker_gender"], layers=[1, n_blocks])
    assert [(r.task, r.layer) for r in res] == [("sound_event", 1), ("sound_event", n_blocks),
                                                ("speaker_gender", 1), ("speaker_gender", n_blocks)]
    by = {(r.task, r.layer): r for r in res}
    assert by["sound_event", 1].test_accuracy == 1.0  # the pitch band is plain from the first block on
    assert all(r.n_test == 12 and r.test_accuracy <= 0.75 for r in res if r.task == "speaker_gender")
    # the hooks are gone: the default probe afterwards is the final output's, as before
    assert all(not b._forward_hooks for b in model.encoder.whisper.layers)
    final = probe_tasks(model, str(corpus), ["sound_event"])
    assert [(r.layer, r.test_accuracy) for r in final] == [(None, 1.0)]
    out = tmp_path / "layers.json"
    assert main(["probe", "--corpus", str(corpus), "--model", str(tiny_dir), "--tasks", "sound_event",
                 "--layers", f"1,{n_blocks}", "--out", str(out), "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "| sound_event | block 1 | 3 | 24 | 12 |" in table and f"| sound_event | block {n_blocks} |" in table
    saved = json.loads(out.read_text())
    assert saved["layers"] == [1, n_blocks] and [t["layer"] for t in saved["tasks"]] == [1, n_blocks]
