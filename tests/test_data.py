"""Manifests, the length-bucketed batch plan, the per-process split and collation."""

from __future__ import annotations

import json

import pytest

from qwenlike.data import BatchPlan, Collate, RankSampler, measure, padding_waste, plan_epoch, read_manifest, write_tone_manifest
from qwenlike.errors import UserError
from qwenlike.tiny import tiny_audiolm


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return write_tone_manifest(tmp_path_factory.mktemp("tones"), n=12, seconds=0.3)


def test_manifest_resolves_audio_relative_to_the_file(manifest):
    convs = read_manifest(manifest)
    assert len(convs) == 12
    audio = convs[0][0]["content"][0]["audio"]
    assert audio.startswith(str(manifest.parent)) and audio.endswith("tone000.wav")


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "invalid JSON"),
        ('{"msgs": []}', 'a "messages" list'),
        ('{"messages": [{"role": "user", "content": [{"type": "audio", "audio": "missing.wav"}]}, {"role": "assistant", "content": "x"}]}', "missing.wav not found"),
        ('{"messages": [{"role": "user", "content": "hi"}]}', "no assistant message"),
        ('{"messages": [{"role": "robot", "content": "hi"}]}', "needs a role"),
    ],
)
def test_bad_manifest_lines_name_the_line(tmp_path, line, message):
    p = tmp_path / "m.jsonl"
    p.write_text(json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}) + "\n" + line + "\n")
    with pytest.raises(UserError, match=message) as e:
        read_manifest(p)
    assert f"{p}:2" in str(e.value)


def test_plan_is_deterministic_and_covers_each_example_once_per_epoch():
    lengths = [(i * 37) % 101 for i in range(50)]
    a = plan_epoch(lengths, 4, 3, seed=1, epoch=0)
    assert a == plan_epoch(lengths, 4, 3, seed=1, epoch=0)
    assert a != plan_epoch(lengths, 4, 3, seed=1, epoch=1)
    flat = [i for b in a for i in b]
    assert len(flat) == len(set(flat)) == 48 and all(len(b) == 4 for b in a)


def test_bucketing_cuts_padding():
    lengths = [10 + (i * 7919) % 500 for i in range(400)]
    bucketed = padding_waste(lengths, plan_epoch(lengths, 8, 16, 0, 0))
    unbucketed = padding_waste(lengths, plan_epoch(lengths, 8, 1, 0, 0))
    assert bucketed < 0.2 * unbucketed, (bucketed, unbucketed)


def test_processes_split_the_global_stream(manifest):
    """P processes together see exactly the micro-batches one process sees, from any position."""
    model = tiny_audiolm()
    ex = measure(read_manifest(manifest), model.tokenizer, model.config)
    plan = BatchPlan(ex, micro=2, bucket_batches=2, seed=0)
    start, n = 5, 12  # crosses into the second epoch (6 micro-batches per epoch)
    ref = [b for _, b in zip(range(n), RankSampler(plan, start, 0, 1))]
    assert ref == [plan[j] for j in range(start, start + n)]
    for rank in (0, 1):
        got = [b for _, b in zip(range(n // 2), RankSampler(plan, start, rank, 2))]
        assert got == [plan[j] for j in range(start, start + n) if j % 2 == rank]


def test_collate_counts_labels_and_window_keys(manifest):
    model = tiny_audiolm()
    ex = measure(read_manifest(manifest), model.tokenizer, model.config)
    tb = Collate(ex, model.tokenizer, model.config)([0, 1, 2])
    assert tb.labels == sum(ex[i].labels for i in range(3))
    assert len(tb.window_keys) == tb.batch.audio.features.mel.shape[0] == 3
    assert tb.tokens == int(tb.batch.attention_mask.sum()) == sum(ex[i].tokens for i in range(3))
    assert 0 <= tb.text_waste < 1 and 0 <= tb.audio_waste < 1
