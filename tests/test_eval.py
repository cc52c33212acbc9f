"""`qwenlike eval`: suites over a corpus-schema dataset, resumable, with reports; benchmark adapters."""

from __future__ import annotations

import io
import json

import datasets
import pytest
import soundfile as sf

from qwenlike.cli import main
from qwenlike.evaluation import bootstrap_ci, wilson_ci

from conftest import tone

SCHEMA = ["id", "task", "audio", "audio2", "answer", "label", "text", "language", "voice", "source", "group", "duration", "meta"]


def _wav(x) -> bytes:
    b = io.BytesIO()
    sf.write(b, x, 16000, format="WAV", subtype="PCM_16")
    return b.getvalue()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small corpus in the offline builder's schema: three tasks, train and test splits."""
    root = tmp_path_factory.mktemp("corpus")
    sets = {"sound_event": ["bell", "dog barking", "rain"], "speaker_gender": ["female", "male"]}
    splits = {}
    for split, n in (("train", 3), ("test", 5)):
        rows = {k: [] for k in SCHEMA}
        for i in range(n):
            for task in ("sound_event", "speaker_gender", "asr"):
                label = sets[task][i % len(sets[task])] if task in sets else ""
                answer = label or ["hello world", "the quick brown fox", "one two three"][i % 3]
                row = {"id": f"{split}-{task}-{i}", "task": task, "audio": {"bytes": _wav(tone(0.5 + 0.1 * i, 200 + 40 * i, seed=i)), "path": None},
                       "audio2": None, "answer": answer, "label": label, "text": "" if label else answer, "language": "en", "voice": "",
                       "source": "test", "group": f"{task}-{i}", "duration": 0.5 + 0.1 * i, "meta": "{}"}  # fmt: skip
                for k in SCHEMA:
                    rows[k].append(row[k])
        features = datasets.Features({k: datasets.Value("float32") if k == "duration" else datasets.Value("string") for k in SCHEMA}
                                     | {"audio": datasets.Audio(sampling_rate=16000, decode=False), "audio2": datasets.Audio(sampling_rate=16000, decode=False)})  # fmt: skip
        splits[split] = datasets.Dataset.from_dict(rows, features=features)
    datasets.DatasetDict(splits).save_to_disk(str(root))
    (root / "label_sets.json").write_text(json.dumps(sets))
    return root


def test_smoke_suite_writes_three_files_and_resumes(tiny_dir, corpus, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["eval", "--suite", "smoke", "--corpus", str(corpus), "--out", str(out), "--model", str(tiny_dir), "--quiet"]
    assert main(args) == 0
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 4 + 4 + 4
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores["tasks"]) == {"sound_event", "speaker_gender", "asr"} and len(scores["config_hash"]) == 16
    se = [p for p in preds if p["task"] == "sound_event"]
    acc = sum(p["prediction"] == p["reference"] for p in se) / len(se)
    assert scores["tasks"]["sound_event"]["accuracy"] == pytest.approx(acc)  # the score is what the predictions say
    assert all(abs(sum(p["label_probs"].values()) - 1) < 1e-4 for p in se)
    assert "wer" in scores["tasks"]["asr"] and "mAP" in scores["tasks"]["sound_event"]
    # every task's primary metric carries its 95 % interval: Wilson for accuracy, bootstrap for WER
    assert scores["tasks"]["sound_event"]["ci95"] == wilson_ci(round(acc * len(se)), len(se))
    lo, hi = scores["tasks"]["asr"]["ci95"]
    assert lo <= scores["tasks"]["asr"]["wer"] <= hi
    report = (out / "report.md").read_text()
    assert f"accuracy {scores['tasks']['sound_event']['accuracy']:.4g} [" in report
    assert "| sound_event | 4 |" in report and (out / "scores.png").stat().st_size > 1000
    assert (out / "confusion_sound_event.png").exists()
    before = (out / "predictions.jsonl").read_text()
    assert main(args) == 0  # resume: nothing predicted twice, same scores
    assert (out / "predictions.jsonl").read_text() == before
    assert json.loads((out / "scores.json").read_text())["tasks"] == scores["tasks"]
    capsys.readouterr()
    assert main(["eval", "--compare", str(out / "scores.json"), str(out / "scores.json")]) == 0
    table = capsys.readouterr().out
    assert "| sound_event | accuracy |" in table


def test_resume_refuses_predictions_of_another_model_or_corpus(tiny_dir, corpus, tmp_path, capsys):
    """Scores never mix two models' predictions: a retrained model in the same --out folder, or a
    rebuilt corpus under the same path, is refused with one line instead of resumed."""
    from qwenlike.tiny import build_tiny_audiolm

    out = tmp_path / "run"
    args = ["eval", "--suite", "smoke", "--corpus", str(corpus), "--out", str(out), "--quiet"]
    assert main([*args, "--model", str(tiny_dir)]) == 0
    before = (out / "predictions.jsonl").read_text()
    other = build_tiny_audiolm(tmp_path / "other", seed=1)  # same config, other weights
    capsys.readouterr()
    assert main([*args, "--model", str(other)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another model" in err[0] and "weights" in err[0], err
    assert (out / "predictions.jsonl").read_text() == before  # nothing appended
    rows = [json.loads(x) for x in before.splitlines()]
    rows[0]["reference"] = "something else"  # as if the corpus had been rebuilt in place
    (out / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main([*args, "--model", str(tiny_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other references" in err[0], err
    (out / "predictions.jsonl").unlink()
    assert main([*args, "--model", str(other), "--limit", "2"]) == 0  # a fresh start in the same folder is fine
    n2 = len((out / "predictions.jsonl").read_text().splitlines())
    assert main([*args, "--model", str(other)]) == 0  # a bigger limit resumes the smaller one's items
    assert n2 == 3 * 2 and len((out / "predictions.jsonl").read_text().splitlines()) == 3 * 4
    assert json.loads((out / "scores.json").read_text())["weights"] != ""


@pytest.mark.parametrize("adapter", ["airbench", "mmau"])
def test_multiple_choice_adapters_read_published_layouts(tiny_dir, tmp_path, adapter):
    if adapter == "airbench":
        (tmp_path / "Sound_AQA" / "clotho").mkdir(parents=True)
        sf.write(tmp_path / "Sound_AQA" / "clotho" / "a.wav", tone(1.0), 16000)
        meta = [{"path": "a.wav", "question": "What is heard?", "choice_a": "a tone", "choice_b": "a dog", "answer_gt": "a tone",
                 "task_name": "Sound_AQA", "dataset_name": "clotho", "uniq_id": 1}]  # fmt: skip
    else:
        (tmp_path / "test-mini-audios").mkdir()
        sf.write(tmp_path / "test-mini-audios" / "x.wav", tone(1.0), 16000)
        meta = [{"id": "m1", "audio_id": "./test-mini-audios/x.wav", "question": "Which?", "choices": ["tone", "speech", "music"],
                 "answer": "tone", "task": "sound"}]  # fmt: skip
    data = tmp_path / "meta.json"
    data.write_text(json.dumps(meta))
    out = tmp_path / "run"
    assert main(["eval", "--suite", adapter, "--data", str(data), "--out", str(out), "--model", str(tiny_dir), "--quiet"]) == 0
    pred = json.loads((out / "predictions.jsonl").read_text())
    assert pred["prediction"] in pred["label_probs"] and abs(sum(pred["label_probs"].values()) - 1) < 1e-4
    assert json.loads((out / "scores.json").read_text())["tasks"][meta[0].get("task_name", "sound")]["n"] == 1


def test_unknown_suite_is_one_line(tiny_dir, tmp_path, capsys):
    assert main(["eval", "--suite", "nope", "--out", str(tmp_path), "--model", str(tiny_dir)]) == 2
    assert "unknown suite" in capsys.readouterr().err


def test_intervals_match_textbook_values():
    # Wilson 95 %: 0/10 -> [0, 0.2775], 5/10 -> [0.2366, 0.7634], 40/40 -> [0.9124, 1]
    assert wilson_ci(0, 10) == [0.0, 0.2775]
    assert wilson_ci(5, 10) == [0.2366, 0.7634]
    assert wilson_ci(40, 40) == [0.9124, 1.0]
    # the bootstrap of a mean over 400 items agrees with the normal interval mean +- 1.96 sd / sqrt(n)
    import numpy as np

    x = np.random.default_rng(0).normal(0.3, 0.2, 400)
    lo, hi = bootstrap_ci(lambda idx: {"m": float(x[idx].mean())}, len(x), "m", seed="t")
    half = 1.96 * x.std() / np.sqrt(len(x))
    assert abs(lo - (x.mean() - half)) < 0.004 and abs(hi - (x.mean() + half)) < 0.004
    assert bootstrap_ci(lambda idx: {"m": float(x[idx].mean())}, len(x), "m", seed="t") == [lo, hi]  # seeded
    assert bootstrap_ci(lambda idx: {"m": 1.0}, 1, "m", seed="t") is None  # one item has no interval
