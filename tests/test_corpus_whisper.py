"""Whisper base (from the base-models extra) transcribes the corpus's Piper, MBROLA and Pico ASR
test items with WER under 0.25 per voice; the per-voice table goes into the data card."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

pytestmark = pytest.mark.base_models


def _norm(s: str) -> str:
    return " ".join(s.lower().replace("-", " ").translate(str.maketrans("", "", string.punctuation)).split())


def test_whisper_base_wer_per_voice(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from jiwer import wer
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration

    from qwenlike import audio
    from qwenlike.convert.ct2 import load_ct2_tokenizer, load_ct2_whisper
    from qwenlike.convert.sources import _locate
    from qwenlike.corpus import build, card

    try:
        found = [f for f in _locate("whisper-base") if f.kind == "ct2-whisper"]
    except Exception as e:  # the base-models extra is not installed
        pytest.skip(f"Whisper base not installed: {e}")
    config, state_dict, info = load_ct2_whisper(found[0].paths[0] if len(found[0].paths) == 1 else found[0].paths)
    model = WhisperForConditionalGeneration(config).eval()
    model.load_state_dict(state_dict, strict=True)
    model.generation_config = info["generation_config"]
    tok = load_ct2_tokenizer(info)
    fe = WhisperFeatureExtractor()

    out = tmp_path / "asr"
    assert build.main(["--out", str(out), "--tasks", "asr", "--sizes", "0,0,40", "--quiet"]) == 0
    from datasets import Audio, load_from_disk

    test = load_from_disk(str(out))["test"].cast_column("audio", Audio(decode=False))
    by_voice: dict[str, tuple[list[str], list[str]]] = {}
    for r in test:
        if r["source"] not in ("speech.piper", "speech.mbrola", "speech.pico"):
            continue
        wav = audio.load(r["audio"]["bytes"])
        feats = fe(wav, sampling_rate=16000, return_tensors="pt").input_features
        with torch.no_grad():
            ids = model.generate(feats, language="en", task="transcribe", max_new_tokens=96)
        hyp = tok.batch_decode(ids, skip_special_tokens=True)[0]
        refs, hyps = by_voice.setdefault(r["voice"], ([], []))
        refs.append(_norm(r["text"]))
        hyps.append(_norm(hyp))
    assert {v.split(":")[0] for v in by_voice} >= {"piper", "mbrola", "pico"}
    results = [{"voice": v, "items": len(rs), "wer": wer(rs, hs)} for v, (rs, hs) in sorted(by_voice.items())]
    section = card.append_asr_check(out, results)
    print(section)
    assert "## ASR check" in (out / "README.md").read_text()
    engines: dict[str, tuple[list[str], list[str]]] = {}
    for v, (rs, hs) in by_voice.items():
        e = engines.setdefault(v.split(":")[0], ([], []))
        e[0].extend(rs)
        e[1].extend(hs)
    per_engine = {e: wer(rs, hs) for e, (rs, hs) in engines.items()}
    print(json.dumps(per_engine, indent=1))
    assert all(w < 0.25 for w in per_engine.values()), per_engine
