"""Loaders for the public corpora: tiny fixtures in each published layout, loaded into the
corpus schema, with audio that decodes to 16 kHz."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from qwenlike import audio
from qwenlike.corpus import loaders
from qwenlike.errors import UserError


def tone(path: Path, seconds: float = 0.5, sr: int = 16000, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), 0.3 * np.sin(2 * np.pi * 440 * t), sr, format=fmt)
    return path


def table(path: Path, header: list[str], rows: list[list], delimiter: str = ",") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)


def check(rows: list[dict], task: str, n: int) -> None:
    assert len(rows) == n
    for r in rows:
        assert r["task"] == task and r["answer"]
        assert set(r) == {"id", "task", "audio", "audio2", "answer", "label", "text", "language", "voice", "source",
                          "group", "duration", "meta"}
        src = r["audio"]["path"] or r["audio"]["bytes"]
        wav = audio.load(src)
        assert wav.dtype == np.float32 and len(wav) > 1000
        json.loads(r["meta"])


def test_librispeech(tmp_path: Path) -> None:
    d = tmp_path / "LibriSpeech" / "test-clean" / "1089" / "134686"
    tone(d / "1089-134686-0000.flac", fmt="FLAC")
    tone(d / "1089-134686-0001.flac", fmt="FLAC")
    (d / "1089-134686.trans.txt").write_text("1089-134686-0000 HE HOPED THERE WOULD BE STEW\n1089-134686-0001 STUFF IT\n")
    rows = loaders.rows("librispeech", tmp_path / "LibriSpeech", "test-clean")
    check(rows, "asr", 2)
    assert rows[0]["answer"] == "HE HOPED THERE WOULD BE STEW" and rows[0]["voice"] == "1089"
    assert abs(rows[0]["duration"] - 0.5) < 1e-3


def test_common_voice_and_covost2(tmp_path: Path) -> None:
    root = tmp_path / "cv" / "fr"
    tone(root / "clips" / "common_voice_fr_1.wav", sr=48000)
    tone(root / "clips" / "common_voice_fr_2.wav", sr=48000)
    table(root / "test.tsv", ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accents", "locale"],
          [["c1", "common_voice_fr_1.wav", "Bonjour à tous.", 2, 0, "twenties", "female", "", "fr"],
           ["c2", "common_voice_fr_2.wav", "Merci beaucoup.", 2, 0, "", "male", "", "fr"]], "\t")
    rows = loaders.rows("common_voice", root, "test")
    check(rows, "asr", 2)
    assert rows[0]["language"] == "fr" and json.loads(rows[0]["meta"])["gender"] == "female"
    table(root / "covost_v2.fr_en.tsv", ["path", "sentence", "translation", "client_id", "split"],
          [["common_voice_fr_1.wav", "Bonjour à tous.", "Hello everyone.", "c1", "test"],
           ["common_voice_fr_2.wav", "Merci beaucoup.", "Thank you very much.", "c2", "train"]], "\t")
    rows = loaders.rows("covost2", root, "test", pair="fr_en")
    check(rows, "speech_translation", 1)
    assert rows[0]["answer"] == "Hello everyone." and rows[0]["text"] == "Bonjour à tous."


def test_clotho_audiocaps_clotho_aqa(tmp_path: Path) -> None:
    c = tmp_path / "clotho"
    tone(c / "evaluation" / "rain.wav")
    table(c / "clotho_captions_evaluation.csv", ["file_name"] + [f"caption_{i}" for i in range(1, 6)],
          [["rain.wav", "Rain falls on a roof.", "It rains.", "Rain.", "Water drips.", "A storm."]])
    rows = loaders.rows("clotho", c, "evaluation")
    check(rows, "audio_caption", 1)
    assert len(json.loads(rows[0]["meta"])["captions"]) == 5
    a = tmp_path / "audiocaps"
    tone(a / "test" / "abc123_30.wav")
    table(a / "test.csv", ["audiocap_id", "youtube_id", "start_time", "caption"],
          [[1, "abc123", 30, "A dog barks."], [2, "missing", 0, "Not downloaded."]])
    check(loaders.rows("audiocaps", a, "test"), "audio_caption", 1)
    q = tmp_path / "clotho_aqa"
    tone(q / "audio_files" / "birds.wav")
    table(q / "clotho_aqa_test.csv", ["file_name", "QuestionText", "answer", "confidence"],
          [["birds.wav", "Are birds singing?", "yes", "yes"], ["birds.wav", "Is it raining?", "no", "maybe"]])
    rows = loaders.rows("clotho_aqa", q, "test")
    check(rows, "audio_qa", 2)
    assert json.loads(rows[1]["meta"])["question"] == "Is it raining?" and rows[0]["id"] != rows[1]["id"]


def test_esc50_folds(tmp_path: Path) -> None:
    root = tmp_path / "ESC-50-master"
    rows = []
    for k, fold in enumerate([1, 2, 5, 5]):
        name = f"{fold}-1000{k}-A-0.wav"
        tone(root / "audio" / name)
        rows.append([name, fold, 0, "dog" if k % 2 else "crying_baby", "True", f"1000{k}", "A"])
    table(root / "meta" / "esc50.csv", ["filename", "fold", "target", "category", "esc10", "src_file", "take"], rows)
    test = loaders.rows("esc50", root, "test")
    check(test, "sound_event", 2)
    assert {r["label"] for r in test} == {"crying baby", "dog"}
    assert len(loaders.rows("esc50", root, "validation")) == 1  # fold 1 when fold 5 is test
    assert len(loaders.rows("esc50", root, "all")) == 4


def test_vocalsound_nsynth(tmp_path: Path) -> None:
    v = tmp_path / "vocalsound"
    tone(v / "audio_16k" / "f0003_0_cough.wav")
    tone(v / "audio_16k" / "m0101_1_laughter.wav")
    rows = loaders.rows("vocalsound", v, "test")
    check(rows, "vocal_sound", 2)
    assert {r["label"] for r in rows} == {"cough", "laughter"}
    n = tmp_path / "nsynth" / "nsynth-test"
    tone(n / "audio" / "guitar_acoustic_010-060-100.wav", seconds=1.0)
    (n / "examples.json").write_text(json.dumps({"guitar_acoustic_010-060-100": {
        "pitch": 60, "velocity": 100, "instrument_family_str": "guitar", "instrument_source_str": "acoustic",
        "instrument_str": "guitar_acoustic_010", "qualities_str": ["bright"]}}))
    rows = loaders.rows("nsynth", tmp_path / "nsynth", "test")
    check(rows, "instrument", 1)
    assert rows[0]["label"] == "guitar"
    notes = loaders.rows("nsynth", tmp_path / "nsynth", "test", task="note_analysis")
    assert notes[0]["label"] == "C4" and notes[0]["answer"] == "C4, velocity 100"


def test_meld_cochlscene_speech_commands(tmp_path: Path) -> None:
    m = tmp_path / "MELD"
    tone(m / "test" / "dia0_utt0.wav")
    table(m / "test_sent_emo.csv", ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID"],
          [[1, "Oh my God!", "Rachel", "Surprise", "positive", 0, 0], [2, "No.", "Ross", "anger", "negative", 0, 1]])
    rows = loaders.rows("meld", m, "test")
    check(rows, "speech_emotion", 1)  # dia0_utt1 has no audio: skipped
    assert rows[0]["label"] == "surprise" and rows[0]["voice"] == "Rachel"
    c = tmp_path / "CochlScene"
    tone(c / "Test" / "Restaurant" / "r1.wav")
    tone(c / "Test" / "Street" / "s1.wav")
    rows = loaders.rows("cochlscene", c, "test")
    check(rows, "acoustic_scene", 2)
    assert [r["label"] for r in rows] == ["restaurant", "street"]
    s = tmp_path / "speech_commands"
    tone(s / "yes" / "abc_nohash_0.wav")
    tone(s / "marvin" / "abd_nohash_0.wav")
    tone(s / "no" / "abe_nohash_0.wav")
    tone(s / "_background_noise_" / "white.wav")
    (s / "testing_list.txt").write_text("yes/abc_nohash_0.wav\nmarvin/abd_nohash_0.wav\n")
    (s / "validation_list.txt").write_text("no/abe_nohash_0.wav\n")
    rows = loaders.rows("speech_commands", s, "test")
    check(rows, "keyword_spotting", 2)
    assert sorted(r["label"] for r in rows) == ["none", "yes"]
    assert len(loaders.rows("speech_commands", s, "train")) == 0


def test_hf_audio_column_dataset(tmp_path: Path) -> None:
    from datasets import Audio, ClassLabel, Dataset, DatasetDict, Features

    wav = tone(tmp_path / "a.wav").read_bytes()
    feats = Features({"audio": Audio(sampling_rate=16000), "label": ClassLabel(names=["cat", "dog"])})
    ds = Dataset.from_dict({"audio": [{"bytes": wav, "path": None}] * 2, "label": [0, 1]}, features=feats)
    DatasetDict({"test": ds}).save_to_disk(str(tmp_path / "hf"))
    rows = loaders.rows("hf", tmp_path / "hf", "test", task="sound_event")
    check(rows, "sound_event", 2)
    assert [r["label"] for r in rows] == ["cat", "dog"]
    out = loaders.load("hf", tmp_path / "hf", "test", task="sound_event")
    assert out.column_names[:3] == ["id", "task", "audio"] and len(out) == 2


def test_loader_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown corpus"):
        loaders.rows("timit", tmp_path, "test")
    with pytest.raises(UserError, match="not found"):
        loaders.rows("esc50", tmp_path, "test")
    with pytest.raises(UserError, match="no such folder"):
        loaders.rows("clotho", tmp_path / "nope", "test")
