"""End-to-end tests of `qwenlike corpus build` on a tiny build of all 30 tasks (built once per
session), plus determinism, kill-and-resume, skipping of missing sources and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qwenlike.corpus import build, catalog, checks
from qwenlike.corpus.common import SPLITS
from qwenlike.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def _assets_installed() -> bool:
    """The asset packages of scripts/install_assets.sh (a probe of each kind of source)."""
    import shutil

    from qwenlike.corpus import music, sounds, speech

    return (shutil.which("espeak-ng") is not None and all(speech.engines().values()) and music.available()
            and sounds.WESNOTH.is_dir() and sounds.GCOMPRIS.is_dir() and bool(music.works("bach")))


pytestmark = pytest.mark.skipif(not _assets_installed(), reason="corpus assets missing: run scripts/install_assets.sh")
TINY = ["--sizes", "2,1,2", "--seed", "7", "--quiet"]
# A subset touching every kind of source: Piper/espeak/MBROLA/Pico speech, recordings, two-clip
# items, mixed scenes, rendered and corpus music.
SUBSET = "asr,speaker_verification,audio_caption,music_style"


def _rows_from_disk(out: Path) -> dict[str, list[dict]]:
    from datasets import Audio, load_from_disk

    dd = load_from_disk(str(out))
    rows = {}
    for s in SPLITS:
        ds = dd[s].cast_column("audio", Audio(decode=False)).cast_column("audio2", Audio(decode=False))
        rows[s] = list(ds)
    return rows


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "tiny"
    assert build.main(["--out", str(out)] + TINY) == 0
    return out


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_tiny_build_has_all_tasks_and_schema(tiny: Path, capsys) -> None:
    from datasets import DatasetDict, load_from_disk

    dd = load_from_disk(str(tiny))
    assert isinstance(dd, DatasetDict) and set(dd) == set(SPLITS)
    assert dd["train"].column_names == list(build.COLUMNS)
    assert dd["train"].features["audio"].sampling_rate == 16000
    for s, n in zip(SPLITS, (2, 1, 2)):
        tasks = dd[s]["task"]
        assert sorted(set(tasks)) == sorted(t.name for t in catalog.TASKS)
        assert all(tasks.count(t) == n for t in set(tasks)), s
    ids = [i for s in SPLITS for i in dd[s]["id"]]
    assert len(ids) == len(set(ids))
    # decoded audio is 16 kHz mono float (through datasets' own Audio decoder where torchcodec works)
    ex = dd["test"][0]["audio"]
    arr = ex["array"] if isinstance(ex, dict) else ex.get_all_samples().data.numpy()[0]
    assert arr.ndim == 1 and len(arr) > 1600


def test_label_sets_and_listen_free_checks(tiny: Path) -> None:
    rows = _rows_from_disk(tiny)
    assert checks.audio_problems(rows) == []
    sets = json.loads((tiny / "label_sets.json").read_text())
    closed = {t.name for t in catalog.TASKS if t.labels is not None}
    assert set(sets) == closed
    for t in closed:
        assert sets[t] == sorted(sets[t]) and len(sets[t]) >= 2
    assert sets["language_id"] == sorted(["Dutch", "English", "French", "German", "Italian", "Polish", "Portuguese",
                                          "Russian", "Spanish", "Turkish"])  # the default model's 10 languages
    assert {r["label"] for r in rows["train"] + rows["test"] if r["task"] == "language_id"} <= set(sets["language_id"])
    for r in rows["train"] + rows["test"]:
        meta = json.loads(r["meta"])
        if r["task"] in ("spoken_qa", "audio_qa", "music_qa"):
            assert meta["question"].endswith("?")
        if r["task"] == "intent_slots":
            assert set(json.loads(r["answer"])) == {"intent", "slots"}
        if r["task"] == "sound_event_detection":
            for ev in meta["events"]:
                assert f"{ev['onset']:.2f}-{ev['offset']:.2f} {ev['label']}" in r["answer"]
                assert 0 <= ev["onset"] < ev["offset"] <= r["duration"] + 0.01


def test_checks_catch_bad_clips(tiny: Path) -> None:
    """The listen-free checks must fail on silent, clipped and mislabelled items."""
    from qwenlike.corpus.common import wav_bytes

    rows = _rows_from_disk(tiny)
    r = dict(rows["train"][0])
    bad = {"train": [], "validation": [], "test": []}
    silent = dict(r, audio={"bytes": wav_bytes(np.zeros(16000, np.float32))})
    loud = np.sin(np.linspace(0, 2000, 16000)).astype(np.float32)
    clipped = dict(r, id="c", audio={"bytes": wav_bytes(loud)})
    closed = next(x for x in rows["train"] if x["task"] == "speaker_gender")
    wrong = dict(closed, id="w", label="robot")
    bad["train"] = [silent, clipped, wrong]
    found = " ".join(checks.audio_problems(bad))
    assert "silent" in found and "clipped" in found and "not in the speaker_gender label set" in found


def test_no_leak_between_train_and_test(tiny: Path) -> None:
    rows = _rows_from_disk(tiny)
    assert checks.leaks(rows) == []
    # the check fails when a train item (its audio and source items) shows up in test
    leaked = {**rows, "test": rows["test"] + [dict(rows["train"][5], id="leak")]}
    problems = checks.leaks(leaked)
    assert f"leak: audio identical to train clip {rows['train'][5]['id']}" in problems
    assert any("also in train" in p for p in problems)
    # held-out voices: espeak/MBROLA/Pico voices of test are unseen in train for speaker_gender
    tr = {a for r in rows["train"] if r["task"] == "speaker_gender" for a in checks.atoms(r) if a.startswith("voice:")}
    te = {a for r in rows["test"] if r["task"] == "speaker_gender" for a in checks.atoms(r) if a.startswith("voice:")}
    assert te and not tr & te


def test_data_card(tiny: Path) -> None:
    card = (tiny / "README.md").read_text()
    for t in catalog.TASKS:
        assert f"| {t.name} |" in card
    assert "Leak check (audio hash and source item, test vs train): passed" in card
    assert "GPL" in card and "hours" in card and "Weak labels" in card


def test_same_seed_identical_and_killed_build_resumes(tmp_path: Path) -> None:
    args = ["--tasks", SUBSET, "--sizes", "3,1,2", "--seed", "3", "--quiet"]
    ref = tmp_path / "ref"
    assert build.main(["--out", str(ref)] + args) == 0
    # second build, killed mid-way, then rerun with the same options
    out = tmp_path / "resumed"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "qwenlike.corpus.build", "--out", str(out)] + args
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        done = list((out / ".work").rglob("*.json")) if (out / ".work").exists() else []
        if len(done) >= 6:  # of 24 items (+ config.json)
            break
        time.sleep(0.05)
    assert proc.poll() is None, "build finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "dataset_dict.json").exists()
    assert build.main(["--out", str(out)] + args) == 0
    a, b = _files(ref), _files(out)
    assert sorted(a) == sorted(b)
    assert all(a[k] == b[k] for k in a), [k for k in a if a[k] != b[k]]
    assert not (out / ".work").exists()


def test_other_seed_differs_and_item_independent_of_plan(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "other"
    assert build.main(["--out", str(out), "--tasks", "asr,note_analysis", "--sizes", "2,1,2", "--seed", "8", "--quiet"]) == 0
    mine = {r["id"]: r["audio"]["bytes"] for r in _rows_from_disk(out)["train"]}
    base = {r["id"]: r["audio"]["bytes"] for r in _rows_from_disk(tiny)["train"] if r["task"] in ("asr", "note_analysis")}
    assert set(mine) == set(base) and all(mine[k] != base[k] for k in mine)
    same = tmp_path / "same"
    assert build.main(["--out", str(same), "--tasks", "note_analysis", "--sizes", "2,1,2", "--seed", "7", "--quiet"]) == 0
    again = {r["id"]: r["audio"]["bytes"] for r in _rows_from_disk(same)["train"]}
    assert all(again[k] == base[k] for k in again)  # an item depends on (seed, task, split, index) only


def test_fingerprint_matches_the_same_build_and_names_the_task_splits_that_differ(tiny: Path, tmp_path: Path, capsys) -> None:
    from qwenlike.corpus import fingerprint as fp

    same, other = tmp_path / "same", tmp_path / "other"
    for out, seed in ((same, "7"), (other, "8")):
        assert build.main(["--out", str(out), "--tasks", "note_analysis", "--sizes", "2,1,2", "--seed", seed, "--quiet"]) == 0
    whole, mine = fp.fingerprint(tiny), fp.fingerprint(same)
    assert mine["corpus_version"] == build.CORPUS_VERSION and mine["items"] == {"train": 2, "validation": 1, "test": 2}
    assert set(whole["tasks"]) == {t.name for t in catalog.TASKS}
    assert mine["tasks"]["note_analysis"] == whole["tasks"]["note_analysis"]  # the same items, built apart
    assert len({d for t in whole["tasks"].values() for d in t.values()}) == 3 * len(catalog.TASKS)
    recorded = tmp_path / "recorded.json"
    recorded.write_text(json.dumps(mine))
    capsys.readouterr()
    assert fp.main([str(same), "--expect", str(recorded)]) == 0
    assert "matches" in capsys.readouterr().err
    assert fp.main([str(other), "--expect", str(recorded)]) == 1  # seed 8: other notes
    err = capsys.readouterr().err
    assert "differs" in err and "in 3 of 3 task splits: note_analysis/test, note_analysis/train, note_analysis/validation" in err
    with pytest.raises(UserError, match="not a corpus build"):
        fp.main([str(tmp_path), "--expect", str(recorded)])


def test_missing_source_is_skipped_with_one_warning(tmp_path: Path, monkeypatch, capsys) -> None:
    from qwenlike.corpus import music
    from qwenlike.corpus.common import SourceMissing, _warned

    def no_soundfont() -> str:
        raise SourceMissing("no General MIDI soundfont (fluid-soundfont-gm)")

    monkeypatch.setattr(music, "soundfont", no_soundfont)
    _warned.discard("fluidsynth")
    out = tmp_path / "partial"
    assert build.main(["--out", str(out), "--tasks", "note_analysis,keyword_spotting", "--sizes", "2,1,1",
                       "--workers", "1", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.count("GM soundfont is missing") == 1
    assert err.count("task note_analysis skipped") == 1
    rows = _rows_from_disk(out)
    assert {r["task"] for r in rows["train"]} == {"keyword_spotting"}


@pytest.mark.parametrize("argv, message", [
    (["--tasks", "asr,nope"], "unknown task"),
    (["--sizes", "1,2"], "TRAIN,VAL,TEST"),
    (["--per-task", "0"], "--per-task must be >= 1"),
    (["--task-size", "asr=1,1,1", "--tasks", "note_analysis"], "not one of the tasks"),
])
def test_bad_options_are_user_errors(tmp_path: Path, argv: list[str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        build.main(["--out", str(tmp_path / "x")] + argv)


def test_refuses_foreign_folder_and_changed_options(tmp_path: Path) -> None:
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        build.main(["--out", str(tmp_path / "f"), "--tasks", "asr", "--sizes", "1,0,1", "--quiet"])
    out = tmp_path / "g"
    (out / ".work").mkdir(parents=True)
    (out / ".work" / "config.json").write_text('{"other": 1}')
    with pytest.raises(UserError, match="other options"):
        build.main(["--out", str(out), "--tasks", "asr", "--sizes", "1,0,1", "--quiet"])
    # a finished test-only build (empty train split) loads, and is not silently replaced
    from datasets import load_from_disk

    done = tmp_path / "h"
    assert build.main(["--out", str(done), "--tasks", "keyword_spotting", "--sizes", "0,0,1", "--quiet"]) == 0
    assert [len(load_from_disk(str(done))[s]) for s in SPLITS] == [0, 0, 1]
    assert build.main(["--out", str(done), "--tasks", "keyword_spotting", "--sizes", "0,0,1", "--quiet"]) == 0
    with pytest.raises(UserError, match="finished build made with other options"):
        build.main(["--out", str(done), "--tasks", "keyword_spotting", "--sizes", "1,0,1", "--quiet"])
    assert build.main(["--out", str(done), "--tasks", "keyword_spotting", "--sizes", "1,0,1", "--quiet", "--overwrite"]) == 0
    assert [len(load_from_disk(str(done))[s]) for s in SPLITS] == [1, 0, 1]


@pytest.mark.slow
def test_default_small_build(tmp_path: Path) -> None:
    """The default build: all 30 tasks, >= 20 train and >= 10 test each, under 3 minutes on 2 cores."""
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "qwenlike.corpus.build", "--out", str(tmp_path / "d"), "--quiet"],
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert time.time() - t0 < 180
    print(proc.stdout)
    rows = _rows_from_disk(tmp_path / "d")
    for t in catalog.TASKS:
        assert sum(r["task"] == t.name for r in rows["train"]) >= 20
        assert sum(r["task"] == t.name for r in rows["test"]) >= 10
    assert checks.leaks(rows) == [] and checks.audio_problems(rows) == []
    for t in ("speaker_gender", "speech_emotion", "accent_id", "keyword_spotting", "speaker_count"):
        for s in ("train", "test"):
            counts = {}
            for r in rows[s]:
                if r["task"] == t:
                    counts[r["label"]] = counts.get(r["label"], 0) + 1
            assert max(counts.values()) - min(counts.values()) <= 1, (t, s, counts)


def test_asr_train_only_sentences_never_touch_held_out_text() -> None:
    """Transcription's extra natural sentences: thousands, none equal to, inside or around a validation
    or test sentence; training items draw about half from them, held-out items never do."""
    import numpy as np

    from qwenlike.corpus import tasks_speech as ts

    more = ts.asr_train_sentences()
    assert len(more) > 3000
    held = [ts._words(s.text) for sp in ("validation", "test") for s in ts.sentence_parts()[sp]]
    assert not any(ts._words(s.text) in h or h in ts._words(s.text) for s in more for h in held)
    assert not {s.id for s in more} & {s.id for sp in ts.sentence_parts().values() for s in sp}
    extra = {s.text for s in more}
    drawn = {sp: [ts.asr(sp, i, np.random.default_rng(i)) for i in range(24)] for sp in ("train", "test")}
    n = sum(e.answer in extra for e in drawn["train"])
    assert 4 <= n <= 20  # ~half of the ~85 % sentence items
    assert not any(e.answer in extra for e in drawn["test"])


def test_a_recorded_word_has_one_split_in_every_task() -> None:
    """KTuberling's English words serve transcription and language id: a word held out in one is held
    out in the other (a 6,000-clip transcription train split once drew language id's test word 'oasis')."""
    from qwenlike.corpus import tasks_speech as ts

    asr = {r.id: s for s, rs in ts.english_word_recordings().items() for r in rs}
    lid = {r.id: s for s, rs in ts.word_recording_parts().items() for r in rs}
    shared = asr.keys() & lid.keys()
    assert len(shared) > 50 and all(asr[k] == lid[k] for k in shared)
    assert {asr[k] for k in shared} == {"train", "validation", "test"}


def test_no_packaged_twin_of_a_train_item_is_held_out() -> None:
    """Packages ship one recording or one caption under several names (Tux Paint's crown1/crown2 and
    filled/outlined letters share spoken descriptions and captions; Hedgewars' Default and Classic
    voices share files): no test pool item may share a file's bytes or a caption with train."""
    from qwenlike.corpus import sounds, tasks_music as tm, tasks_sound as tsd, tasks_speech as ts
    from qwenlike.corpus.common import file_digest

    pools = {
        "stamps": (ts.stamp_parts(), ts._stamp_content),
        "ktuberling words": (ts.word_recording_parts(), lambda r: [file_digest(r.path)]),
        "english words": (ts.english_word_recordings(), lambda r: [file_digest(r.path)]),
        "events": (tsd.event_parts(), lambda f: [sounds.digest(f)]),
        "vocal sounds": (tsd.vocal_parts(), lambda f: [sounds.digest(f)]),
        "instruments": (tm.recorded_instrument_parts(), lambda f: [sounds.digest(f)]),
    }
    for name, (parts, content) in pools.items():
        train = {c for it in parts["train"] for c in content(it)}
        twins = [getattr(it, "id", it) for it in parts["test"] if train & set(content(it))]
        assert parts["test"] and not twins, (name, twins[:3])
    from qwenlike.corpus import recordings, speech
    from qwenlike.corpus.common import partition

    stamps = ts.stamp_parts()
    # the rule leaves a test pool to measure with: 100+ stamps with a caption in every language id language
    assert all(sum(lang in st.captions for st in stamps["test"]) >= 100 for lang in speech.LID_LANGUAGES)
    # and it is needed: split by stamp name alone, test stamps share recordings with train stamps
    by_name = partition([s for s in recordings.tuxpaint_stamps() if len(s.captions) >= 5], key=lambda s: s.id)
    said = {file_digest(p) for st in by_name["train"] for p in st.spoken.values()}
    assert sum(bool(said & {file_digest(p) for p in st.spoken.values()}) for st in by_name["test"]) > 10
