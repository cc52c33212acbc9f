"""Mixtures and the sampler: configured proportions, determinism, resume, map-style and streaming."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from test_tasks import LABEL_SETS, TASK_NAMES, fake_speak, synthetic_row

from qwenlike.errors import UserError
from qwenlike.tasks import MixtureSampler, load_mixture, load_tasks, mixture_from_dict


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(label_sets=LABEL_SETS)


@pytest.fixture(scope="module")
def data():
    """Map-style rows per task, sizes 3..32 so that temperature sampling has something to flatten."""
    return {t: [synthetic_row(t, i) for i in range(3 + (7 * k) % 30)] for k, t in enumerate(TASK_NAMES)}


def key(s) -> tuple:
    """What identifies a sample: task, form, row, and the full user text and answer."""
    from qwenlike import chat

    return (s.index, s.task, s.form, s.row["id"], chat.user_text(s.messages[-2]), s.messages[-1]["content"])


def test_shipped_mixtures_load_and_cover_their_stages(tasks):
    align = load_mixture("alignment", tasks)
    instr = load_mixture("instruction", tasks)
    assert align.forms == {"tags": 1.0} and "voice_chat" not in align.weights and len(align.weights) == 29
    assert set(instr.weights) == set(TASK_NAMES)  # both chat modes
    assert {"natural", "spoken", "tags"} == set(instr.forms) and instr.temperature == 2.0


def test_the_default_ctc_stage_reads_transcripts_and_bare_label_words(tasks, data):
    """objective: ctc takes each draw's answer as its CTC target: the default model's stage 1 must
    give transcripts for transcription and, for the four classification tasks, the label alone (a
    word of the task's closed set), never a sentence around it (docs/default-model.md, tenth run)."""
    mix = load_mixture("default-ctc-labels", tasks)
    assert set(mix.weights) == {"asr", "sound_event", "instrument", "language_id", "speaker_gender"}
    samples = MixtureSampler(mix, tasks, data, seed=0).take(400)
    assert {s.task for s in samples} == set(mix.weights) and {s.form for s in samples} == {"tags"}
    for s in samples:
        target = s.messages[-1]["content"]
        if s.task == "asr":
            assert target == s.row["text"]
        else:
            assert target == s.row["answer"] and target in tasks[s.task].labels, (s.task, target)


def test_10000_samples_match_the_configured_proportions(tasks, data):
    mix = load_mixture("instruction", tasks)
    sampler = MixtureSampler(mix, tasks, data, seed=1234, speak=fake_speak)
    want = mix.probabilities({t: len(d) for t, d in data.items()})
    # temperature 2: p_i ∝ w_i * sqrt(n_i), not the raw weights
    raw = {t: mix.weights[t] * np.sqrt(len(data[t])) for t in want}
    assert want == pytest.approx({t: v / sum(raw.values()) for t, v in raw.items()})
    samples = sampler.take(10_000)
    got = Counter(s.task for s in samples)
    for t, p in want.items():
        assert abs(got[t] / 10_000 - p) < 0.02, (t, got[t] / 10_000, p)
    forms = Counter(s.form for s in samples if s.task != "voice_chat")
    n = sum(forms.values())
    for f, p in mix.form_probabilities().items():
        assert abs(forms[f] / n - p) < 0.02, (f, forms[f] / n, p)
    assert {s.form for s in samples if s.task == "voice_chat"} == {"voice"}
    # within a task, an epoch visits every row once before any repeats
    asr = [s.row["id"] for s in samples if s.task == "asr"][: len(data["asr"])]
    assert sorted(asr) == sorted(r["id"] for r in data["asr"])


def test_same_seed_same_stream_other_seed_other_stream(tasks, data):
    mix = load_mixture("instruction", tasks)
    a = [key(s) for s in MixtureSampler(mix, tasks, data, seed=7, speak=fake_speak).take(500)]
    b = [key(s) for s in MixtureSampler(mix, tasks, data, seed=7, speak=fake_speak).take(500)]
    c = [key(s) for s in MixtureSampler(mix, tasks, data, seed=8, speak=fake_speak).take(500)]
    assert a == b and a != c


def test_resume_after_3000_gives_the_same_remainder(tasks, data):
    mix = load_mixture("instruction", tasks)
    full = MixtureSampler(mix, tasks, data, seed=5, speak=fake_speak)
    head = full.take(3000)
    state = json.dumps(full.state_dict())  # what a checkpoint stores
    tail = [key(s) for s in full.take(2000)]
    resumed = MixtureSampler(mix, tasks, data, seed=5, speak=fake_speak, state=json.loads(state))
    assert [key(s) for s in resumed.take(2000)] == tail
    skipped = MixtureSampler(mix, tasks, data, seed=5, speak=fake_speak)
    skipped.skip(3000)  # no state: recompute the plan, read no data
    assert skipped.state_dict() == json.loads(state)
    assert [key(s) for s in skipped.take(2000)] == tail
    assert head[2999].index == 2999


def test_streaming_datasets_resume_the_same_way(tasks):
    """datasets.IterableDataset sources go through the seeded shuffle buffer; resume re-reads."""
    from datasets import Dataset

    names = ["asr", "speaker_gender", "audio_qa", "voice_chat"]
    rows = {t: [synthetic_row(t, i) for i in range(5 + 4 * k)] for k, t in enumerate(names)}
    streams = {t: Dataset.from_list(r).to_iterable_dataset() for t, r in rows.items()}
    mix = mixture_from_dict({"name": "s", "tasks": {"asr": 2, "speaker_gender": 1, "audio_qa": 1, "voice_chat": 1},
                             "forms": {"natural": 0.5, "tags": 0.5}}, tasks=tasks)  # fmt: skip
    full = MixtureSampler(mix, tasks, streams, seed=3, shuffle_buffer=4)
    head = full.take(300)
    state = json.loads(json.dumps(full.state_dict()))
    tail = [key(s) for s in full.take(200)]
    resumed = MixtureSampler(mix, tasks, streams, seed=3, shuffle_buffer=4, state=state)
    assert [key(s) for s in resumed.take(200)] == tail
    skipped = MixtureSampler(mix, tasks, streams, seed=3, shuffle_buffer=4)
    skipped.skip(300)
    assert [key(s) for s in skipped.take(200)] == tail
    # every epoch of a stream is a permutation of its rows, and epochs differ
    gender = [s.row["id"] for s in head if s.task == "speaker_gender"]
    n = len(rows["speaker_gender"])
    assert sorted(gender[:n]) == sorted(gender[n : 2 * n]) == sorted(r["id"] for r in rows["speaker_gender"])
    assert gender[:n] != gender[n : 2 * n]
    counts = Counter(s.task for s in head)
    assert abs(counts["asr"] / 300 - 0.4) < 0.1


def test_weights_without_temperature_and_sizes_for_streams(tasks, data):
    mix = mixture_from_dict({"tasks": {"asr": 1, "sound_event": 3}}, tasks=tasks)
    assert mix.probabilities() == {"asr": 0.25, "sound_event": 0.75}
    hot = mixture_from_dict(
        {"tasks": {"asr": 1, "sound_event": 1}, "temperature": 1.0, "sizes": {"asr": 30}}, tasks=tasks
    )
    with pytest.raises(UserError, match="sizes.sound_event"):
        hot.probabilities()
    assert hot.probabilities({"sound_event": 10}) == pytest.approx({"asr": 0.75, "sound_event": 0.25})


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"tasks": {"asr": 1}, "colour": 1}, r"unknown key\(s\) \['colour'\]"),
        ({"tasks": {"nope": 1}}, r"unknown task\(s\) \['nope'\]"),
        ({"tasks": {"asr": -1}}, "non-negative"),
        ({"tasks": {"asr": 1}, "forms": {"sung": 1}}, "forms must map"),
        ({"tasks": {"asr": 1}, "temperature": 0}, "positive"),
        ({"tasks": {}}, "non-empty"),
    ],
)
def test_bad_mixtures_are_user_errors(tasks, tmp_path, bad, message):
    import yaml

    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(bad))
    with pytest.raises(UserError, match=message) as e:
        load_mixture(p, tasks)
    assert str(p) in str(e.value)


def test_state_of_another_mixture_or_seed_is_refused_and_spoken_needs_tts(tasks, data):
    mix = load_mixture("instruction", tasks)
    state = MixtureSampler(mix, tasks, data, seed=1, speak=fake_speak).state_dict()
    with pytest.raises(UserError, match="another mixture/seed"):
        MixtureSampler(mix, tasks, data, seed=2, speak=fake_speak, state=state)
    with pytest.raises(UserError, match="spoken form needs a TTS"):
        MixtureSampler(mix, tasks, data, seed=1)


def test_mixture_opens_a_corpus_build_on_disk(tmp_path):
    """The corpus builder's layout: DatasetDict of all tasks + label_sets.json; audio stays bytes."""
    from datasets import DatasetDict

    from qwenlike.voicechat import to_dataset

    names = ["speaker_gender", "sound_event", "voice_chat"]
    splits = {s: to_dataset([synthetic_row(t, i) for t in names for i in range(3)]) for s in ("train", "test")}
    DatasetDict(splits).save_to_disk(str(tmp_path / "corpus"))
    (tmp_path / "corpus" / "label_sets.json").write_text(json.dumps({"sound_event": LABEL_SETS["sound_event"]}))
    tasks = load_tasks(label_sets=tmp_path / "corpus")
    mix = mixture_from_dict({"tasks": {t: 1 for t in names}, "split": "test", "forms": {"tags": 1}}, tasks=tasks)
    data = mix.open(tasks, corpus=tmp_path / "corpus")
    assert {t: len(d) for t, d in data.items()} == {t: 3 for t in names}
    samples = MixtureSampler(mix, tasks, data, seed=0).take(30)
    assert {s.task for s in samples} == set(names)
    for s in samples:
        assert s.row["task"] == s.task and isinstance(s.row["audio"], bytes)  # encoded, not decoded
    assert tasks["sound_event"].labels == tuple(LABEL_SETS["sound_event"])
    with pytest.raises(UserError, match="pass corpus=DIR"):
        mix.open(tasks)


@pytest.mark.skipif(__import__("shutil").which("espeak-ng") is None, reason="espeak-ng not installed")
def test_sample_conversations_streams_a_shipped_mixture_over_a_corpus(tmp_path, monkeypatch):
    """What data.py trains on: the instruction mixture (spoken form via espeak-ng) over a corpus."""
    from datasets import DatasetDict

    from qwenlike import chat
    from qwenlike.tasks import sample_conversations
    from qwenlike.voicechat import to_dataset

    monkeypatch.setenv("QWENLIKE_CACHE", str(tmp_path / "cache"))
    rows = [synthetic_row(t, i) for t in TASK_NAMES for i in range(2)]
    DatasetDict({"train": to_dataset(rows)}).save_to_disk(str(tmp_path / "corpus"))
    (tmp_path / "corpus" / "label_sets.json").write_text(json.dumps(LABEL_SETS))
    convs = sample_conversations("instruction", tmp_path / "corpus", n=40, seed=4)
    again = sample_conversations("instruction", tmp_path / "corpus", n=40, seed=4)
    assert len(convs) == 40 and [chat.render_text(c)[0] for c in convs] == [chat.render_text(c)[0] for c in again]
    n_audio = [len(chat.audio_items(c)) for c in convs]
    assert max(n_audio) >= 2  # spoken instructions (or verification pairs) appear
    assert list((tmp_path / "cache" / "tts").glob("*.wav"))  # spoken prompts came from espeak-ng, cached
