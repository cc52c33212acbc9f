"""`qwenlike corpus build --voices multilingual`: MBROLA's voices of other languages for
speaker_gender and language_id (more voices per gender and language than the English TTS engines
give), held out by voice within each language and gender."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from qwenlike.corpus import build, speech, tasks_speech
from qwenlike.corpus.common import SPLITS


def _espeak_mbrola_voices() -> dict[str, tuple[str, str]]:
    """espeak-ng's own table of MBROLA voices: file name -> (language, gender)."""
    out = subprocess.run(["espeak-ng", "--voices=mb"], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines()[1:]:
        parts = line.split()  # Pty Language Age/Gender VoiceName File [Other Languages]
        name = parts[4].split("/")[-1].removeprefix("mb-")
        table[name] = (parts[1], {"M": "male", "F": "female"}[parts[2].split("/")[1]])
    return table


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_world_table_agrees_with_espeak_ng() -> None:
    known = _espeak_mbrola_voices()
    for name, lang, gender in speech.MBROLA_WORLD:
        assert name in known, name
        espeak_lang, espeak_gender = known[name]
        assert gender == espeak_gender, (name, gender, espeak_gender)
        assert lang in speech.LANGUAGES and espeak_lang.split("-")[0] == lang, (name, lang, espeak_lang)


def test_world_voices_are_held_out_by_language_and_gender(monkeypatch) -> None:
    voices = tuple(speech.Voice(f"mbrola:{n}", "mbrola", lang, g, "adult", "", f"mb-{n}")
                   for n, lang, g in sorted(speech.MBROLA_WORLD))
    monkeypatch.setattr(speech, "world_voices", lambda: voices)
    tasks_speech.world_voice_parts.cache_clear()
    try:
        parts = tasks_speech.world_voice_parts()
    finally:
        tasks_speech.world_voice_parts.cache_clear()
    train, test = {v.id for v in parts["train"]}, {v.id for v in parts["test"]}
    assert not train & test and train | test | {v.id for v in parts["validation"]} == {v.id for v in voices}
    for lang in {v.lang for v in voices}:
        for gender in ("female", "male"):
            n = sum(1 for v in voices if (v.lang, v.gender) == (lang, gender))
            held = sum(1 for v in parts["test"] if (v.lang, v.gender) == (lang, gender))
            assert held == (0 if n < 2 else max(1, round(n * 0.25))), (lang, gender)
    # enough voices of both genders on both sides for a held-out gender test
    for split in ("train", "test"):
        assert {v.gender for v in parts[split]} == {"female", "male"}
        assert sum(1 for v in parts[split] if v.gender == "female") >= 4


def _rows(out: Path) -> dict[str, list[dict]]:
    from datasets import load_from_disk

    dd = load_from_disk(str(out))
    return {s: list(dd[s].remove_columns(["audio", "audio2"])) for s in SPLITS}


@pytest.mark.skipif(len(speech.world_voices()) < 20, reason="MBROLA voices of other languages missing: run scripts/install_assets.sh")
def test_multilingual_build_draws_held_out_world_voices(tmp_path: Path) -> None:
    sizes = ["--sizes", "24,0,16", "--seed", "3", "--quiet", "--tasks", "speaker_gender,language_id"]
    multi, english = tmp_path / "multi", tmp_path / "english"
    assert build.main(["--out", str(multi), "--voices", "multilingual"] + sizes) == 0
    assert build.main(["--out", str(english)] + sizes) == 0
    assert json.loads((multi / "build.json").read_text())["voices"] == "multilingual"
    assert "voices" not in json.loads((english / "build.json").read_text())  # earlier builds' options still match
    assert "- voices: multilingual" in (multi / "README.md").read_text()

    world = {v.id: v for v in speech.world_voices()}
    rows = _rows(multi)
    used = {s: {r["voice"] for r in rows[s] if r["voice"] in world} for s in SPLITS}
    assert used["train"] and used["test"] and not used["train"] & used["test"]
    for s in SPLITS:
        for r in rows[s]:
            if r["voice"] in world:
                v = world[r["voice"]]
                assert r["source"] == "speech.mbrola" and r["language"] == v.lang and r["text"]
                if r["task"] == "speaker_gender":
                    assert r["answer"] == v.gender
                else:
                    assert r["answer"] == speech.LID_LANGUAGES[v.lang]
    assert not any(r["voice"] in world for s in SPLITS for r in _rows(english)[s])
    # a language-id clip is one speaker's run of utterances, several seconds long: one word or caption
    # (0.5-1.5 s) is too little to tell the languages apart (the head: 0.74 -> 0.94 on 200 test clips)
    lid = [r for s in SPLITS for r in rows[s] if r["task"] == "language_id"]
    assert lid and all(r["duration"] >= tasks_speech.LID_SECONDS[0] for r in lid)
    with pytest.raises(SystemExit):  # argparse: one line naming the choices, exit 2
        build.main(["--out", str(tmp_path / "x"), "--voices", "klingon"])


def test_install_script_installs_every_world_voice() -> None:
    script = (Path(__file__).resolve().parents[1] / "scripts" / "install_assets.sh").read_text()
    block = script.split("APT_PACKAGES=(\n", 1)[1].split("\n)\n", 1)[0]
    listed = {w for line in block.splitlines() for w in line.split("#", 1)[0].split()}
    assert {f"mbrola-{n}" for n, _, _ in speech.MBROLA_WORLD} <= listed


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_multilingual_build_without_the_voices_warns_once(tmp_path: Path, monkeypatch, capsys) -> None:
    from qwenlike.corpus.common import _warned

    monkeypatch.setattr(speech, "world_voices", lambda: ())
    tasks_speech.world_voice_parts.cache_clear()
    _warned.discard("mbrola-world")
    try:
        assert build.main(["--out", str(tmp_path / "c"), "--tasks", "speaker_gender", "--sizes", "2,0,1",
                           "--voices", "multilingual", "--workers", "1", "--quiet"]) == 0
    finally:
        tasks_speech.world_voice_parts.cache_clear()
    err = capsys.readouterr().err
    assert err.count(f"--voices multilingual: 0 of the {len(speech.MBROLA_WORLD)} MBROLA voices") == 1
    world = {f"mbrola:{n}" for n, _, _ in speech.MBROLA_WORLD}
    rows = [r for s in SPLITS for r in _rows(tmp_path / "c")[s]]
    assert len(rows) == 3 and not any(r["voice"] in world for r in rows)  # the English voices still serve


def _spin(seconds: float) -> None:
    import time

    end = time.time() + seconds
    while time.time() < end:
        pass


@pytest.mark.skipif(not Path("/usr/share/mbrola/es1/es1").exists(), reason="mbrola-es1 missing: run scripts/install_assets.sh")
def test_mbrola_voice_gives_the_same_samples_on_a_busy_cpu() -> None:
    """mbrola meets 16 diphones es1 lacks among the 63 phonemes espeak-ng gives it for this sentence; through
    espeak-ng's own pipe to mbrola such a voice lost samples on a busy CPU (a corpus rebuild differed
    in 7 clips). Phonemes first, then mbrola, each a process of its own: the same samples every time,
    at espeak-ng's level."""
    import multiprocessing as mp

    import numpy as np

    voice = speech.Voice("mbrola:es1", "mbrola", "es", "male", "adult", "", "mb-es1")
    text = "El perro de mi vecino ladra todas las noches junto a la ventana."
    busy = [mp.get_context("spawn").Process(target=_spin, args=(60.0,)) for _ in range(2)]
    for p in busy:
        p.start()
    try:
        takes = [speech.synth(voice, text, rate=1.1, pitch=40) for _ in range(4)]
    finally:
        for p in busy:
            p.terminate()
    assert all(np.array_equal(takes[0], t) for t in takes[1:])
    assert 2.5 < takes[0].size / 16000 < 8.0  # the whole sentence, not a cut-off stump
    assert abs(float(np.abs(takes[0]).max()) - 0.75) < 0.05
    # the amplitude asked for scales the level
    quiet = speech.synth(voice, text, rate=1.1, pitch=40, volume=50)
    assert abs(float(np.abs(quiet).max()) - 0.375) < 0.03
