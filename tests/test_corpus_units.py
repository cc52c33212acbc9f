"""Unit tests of the corpus building blocks: seeded randomness, held-out partitions, the Qt .rcc
reader, mixing arithmetic (SNR, event times, telephone band) and WAV encoding."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from qwenlike.corpus import common, mix
from qwenlike.corpus.rcc import RccArchive


def test_rng_depends_on_coordinates_only() -> None:
    a = common.rng_for(1, "asr", "train", 3).random(4)
    assert np.array_equal(a, common.rng_for(1, "asr", "train", 3).random(4))
    assert not np.array_equal(a, common.rng_for(1, "asr", "train", 4).random(4))
    assert not np.array_equal(a, common.rng_for(2, "asr", "train", 3).random(4))


def test_partition_disjoint_stable_stratified() -> None:
    items = [(f"v{i}", "male" if i % 3 else "female") for i in range(40)]
    parts = common.partition(items, key=lambda x: x[0], strata=lambda x: x[1])
    ids = {s: {x[0] for x in parts[s]} for s in common.SPLITS}
    assert not ids["train"] & ids["test"] and not ids["validation"] & ids["test"]
    assert ids["train"] | ids["validation"] | ids["test"] == {x[0] for x in items}
    assert {x[1] for x in parts["test"]} == {"male", "female"}  # every stratum is held out
    # adding items never moves an existing item's split... within its stratum order it may shift,
    # but the same input always gives the same split
    again = common.partition(list(reversed(items)), key=lambda x: x[0], strata=lambda x: x[1])
    assert again == parts
    tiny = common.partition([("only", "x")], key=lambda x: x[0])
    assert tiny["train"] == [("only", "x")] and tiny["test"] == [] and tiny["validation"] == tiny["train"]


def test_partition_drops_test_items_made_of_train_content() -> None:
    """Two names, one recording: a test item that shares content with a train item leaves the test
    pool; train and validation keep exactly the items they had without the rule."""
    items = [(f"s{i}", f"take{i % 10}") for i in range(40)]  # 40 names, 10 recordings
    plain = common.partition(items, key=lambda x: x[0])
    parts = common.partition(items, key=lambda x: x[0], content=lambda x: [x[1]])
    assert parts["train"] == plain["train"] and parts["validation"] == plain["validation"]
    train_takes = {x[1] for x in parts["train"]}
    assert parts["test"] == [x for x in plain["test"] if x[1] not in train_takes]
    assert len(parts["test"]) < len(plain["test"])  # this draw did pair test names with train takes
    assert not train_takes & {x[1] for x in parts["test"]}


def _rcc(entries: dict[str, bytes], compress: set[str]) -> bytes:
    """A version-3 Qt resource archive with one directory holding `entries`."""
    names, name_off = b"", {}
    for n in ["dir", *entries]:
        name_off[n] = len(names)
        u = n.encode("utf-16-be")
        names += struct.pack(">HI", len(n), 0) + u
    data, data_off = b"", {}
    for n, blob in entries.items():
        data_off[n] = len(data)
        payload = struct.pack(">I", len(blob)) + zlib.compress(blob) if n in compress else blob
        data += struct.pack(">I", len(payload)) + payload
    node = 22
    tree = struct.pack(">IHII", 0, 2, 1, 1) + b"\0" * 8  # root -> child 1
    tree += struct.pack(">IHII", name_off["dir"], 2, len(entries), 2) + b"\0" * 8
    for n in entries:
        flags = 1 if n in compress else 0
        tree += struct.pack(">IHHHI", name_off[n], flags, 0, 0, data_off[n]) + b"\0" * 8
    header = 24
    tree_at, data_at = header, header + len(tree)
    names_at = data_at + len(data)
    assert len(tree) == node * (2 + len(entries))
    return b"qres" + struct.pack(">IIIII", 3, tree_at, data_at, names_at, 0) + tree + data + names


def test_rcc_reader(tmp_path: Path) -> None:
    p = tmp_path / "a.rcc"
    p.write_bytes(_rcc({"bark.ogg": b"OggS-bark", "knock.wav": b"RIFF-knock" * 50}, compress={"knock.wav"}))
    arc = RccArchive(p)
    assert sorted(arc.files) == ["dir/bark.ogg", "dir/knock.wav"]
    assert arc.read("dir/bark.ogg") == b"OggS-bark"
    assert arc.read("dir/knock.wav") == b"RIFF-knock" * 50
    bad = tmp_path / "b.rcc"
    bad.write_bytes(b"nope" + b"\0" * 40)
    with pytest.raises(ValueError, match="not a Qt resource"):
        RccArchive(bad)


def test_add_noise_hits_snr() -> None:
    rng = common.rng_for(0, "snr")
    clean = np.sin(np.linspace(0, 3000, 32000)).astype(np.float32) * 0.3
    for snr in (0.0, 10.0, 20.0):
        noisy = mix.add_noise(rng, clean, snr, "pink")
        got = 20 * np.log10(common.rms(clean) / common.rms(noisy - clean))
        assert abs(got - snr) < 0.1


def test_place_events_times_match_audio() -> None:
    rng = common.rng_for(0, "place")
    click = np.ones(1600, np.float32) * 0.5  # 0.1 s
    out, placed = mix.place_events(rng, None, [("a", "f1", click), ("b", "f2", click)], 4.0)
    assert len(out) == 64000 and [p.label for p in placed] == ["a", "b"]
    for p in placed:
        seg = out[int(p.onset * 16000) + 10 : int(p.offset * 16000) - 10]
        assert np.all(seg > 0)
    assert placed[0].offset <= placed[1].onset  # disjoint slots


def test_telephone_band_and_reverb_keep_length() -> None:
    rng = common.rng_for(0, "fx")
    x = mix.colored_noise(rng, 32000, "white")
    y = mix.telephone(x)
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / 16000)
    assert spec[(f > 5000)].sum() < 0.01 * spec[(f > 300) & (f < 3400)].sum()
    r = mix.reverb(rng, x, 0.5)
    assert len(r) == len(x) and abs(common.rms(r) - common.rms(x)) < 1e-3


def test_normalise_and_wav_bytes_deterministic() -> None:
    rng = common.rng_for(0, "lvl")
    x = (mix.colored_noise(rng, 16000) * 3).astype(np.float32)
    y = common.normalise(x, common.rng_for(0, "lvl2"))
    assert np.max(np.abs(y)) <= 0.89 + 1e-6
    assert -27 < 20 * np.log10(common.rms(y)) < -15
    assert common.wav_bytes(y) == common.wav_bytes(y.copy())


def test_ktuberling_english_transcripts_are_the_spoken_words() -> None:
    """KTuberling's sound names carry a playground prefix and run-together words; the transcript is what is said."""
    from qwenlike.corpus.recordings import ktuberling_text

    assert [ktuberling_text(k) for k in ("ball", "egypt_camel", "egypt_palmtree", "moon_fallingstar", "pizzeria_brocolli")] == [
        "ball", "camel", "palm tree", "falling star", "broccoli"]  # fmt: skip


def test_fortune_sentences_split_prose_and_drop_layout() -> None:
    """A fortune of several sentences gives each clean one; attributions go; verse and code are skipped."""
    from qwenlike.corpus.text import fortune_text_sentences

    prose = "Never put off till tomorrow what you can do today.  Unless it is\nthe washing up. OK?\n\t\t-- Anonymous"
    assert fortune_text_sentences(prose) == ["Never put off till tomorrow what you can do today.",
                                             "Unless it is the washing up."]  # "OK?" is too short to transcribe
    two = "A clean desk is a sign of a sick mind. Tidy people are just too lazy to search."
    assert fortune_text_sentences(two) == ["A clean desk is a sign of a sick mind.", "Tidy people are just too lazy to search."]
    assert fortune_text_sentences("Roses are red,\n    violets are blue,\n    sugar is sweet.") == []  # laid out
    assert fortune_text_sentences("Use the SOURCE, Luke, and read it twice.") == []  # shouting is hard to read aloud
    assert fortune_text_sentences("x = y + 1; /* not prose at all */") == []


def test_espeak_call_is_repeated_when_it_leaves_an_unsized_wav(monkeypatch) -> None:
    """espeak-ng sizes its WAV header on close; one left at the placeholder (seen under load) is
    synthesised again with the same arguments, not read as a truncated file."""
    import subprocess

    from qwenlike.corpus import speech

    good = common.wav_bytes(np.sin(np.linspace(0, 200, 8000)).astype(np.float32) * 0.3)
    unsized = good[:4] + (0x7FFFF000 + 36).to_bytes(4, "little") + good[8:40] + (0x7FFFF000).to_bytes(4, "little") + good[44:]
    calls = []

    def fake_run(args, **kw):
        calls.append(args)
        Path(args[args.index("-w") + 1]).write_bytes(unsized if len(calls) < 3 or always_bad else good)
        return subprocess.CompletedProcess(args, 0, b"", b"")

    monkeypatch.setattr(speech, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(speech.subprocess, "run", fake_run)
    always_bad = False
    wav = speech._espeak("de+m3", "Hallo", 1.0, None, 100)
    assert len(calls) == 3 and calls[0] == calls[2] and wav.shape == (8000,)
    calls.clear()
    always_bad = True
    with pytest.raises(RuntimeError, match="unfinished WAV file three times"):
        speech._espeak("de+m3", "Hallo", 1.0, None, 100)
    assert len(calls) == 3


def _child_scratch(_: int) -> str:
    return str(common.scratch_dir())


def test_forked_workers_get_their_own_scratch_folder() -> None:
    """The build forks its workers; a scratch folder the parent made first must not be shared, or two
    workers synthesise into one `espeak.wav` and read each other's speech (CI: a language-id test
    clip came out byte-identical to a speaker-gender train clip)."""
    import multiprocessing as mp

    parent = str(common.scratch_dir())
    with mp.get_context("fork").Pool(2) as pool:
        children = set(pool.map(_child_scratch, range(8), chunksize=1))
    assert parent not in children and len(children) >= 1
    assert all(Path(c).is_dir() for c in children)
    assert common.scratch_dir() == Path(parent)  # stable within a process
