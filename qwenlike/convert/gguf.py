"""GGUF causal LM -> a plain float transformers model and its tokenizer (chat template included).

transformers reads GGUF through its GGUF "quantizer": the result is marked quantised and refuses
`save_pretrained`. We let transformers do the reading and dequantising (it knows every architecture's
tensor names and quirks, e.g. llama.cpp's rotary row permutation), then rebuild the model from a plain
config and the dequantised state dict, so it saves and reloads like any checkpoint.

Cost for SmolLM2-135M Q4_1 on 2 CPU cores: ~20 s CPU, dominated by transformers' legacy metadata
parser (gguf.GGUFReader walks the 49k-token vocabulary in Python, twice: config, then tensors), not by
dequantisation (~2 s).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import torch

from qwenlike.errors import UserError

# llama.cpp spells a few architectures differently from transformers' model types.
_ARCH_ALIASES = {"qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "gpt-oss": "gpt_oss", "minimax-m2": "minimax_m2"}
# In transformers' GGUF tables but not causal LMs (or not models at all).
_NOT_CAUSAL = {"general", "tokenizer", "t5", "t5encoder", "umt5", "bert", "nomic-bert", "jina-bert-v2"}


def supported_gguf_architectures() -> list[str]:
    """GGUF `general.architecture` values this transformers version loads as a causal LM."""
    from transformers.integrations.gguf import GGUF_ARCHS
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    return sorted((set(GGUF_SUPPORTED_ARCHITECTURES) | set(GGUF_ARCHS)) - _NOT_CAUSAL)


def _resolve_file(path: Path) -> Path:
    """A .gguf file, or the single .gguf inside a folder."""
    if path.is_dir():
        found = sorted(path.glob("*.gguf"))
        if len(found) != 1:
            what = "no .gguf file" if not found else f"{len(found)} .gguf files ({', '.join(f.name for f in found)})"
            raise UserError(f"{path}: {what}; name the file")
        return found[0]
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    return path


def inspect_gguf(path: Path | str) -> dict[str, Any]:
    """Check a GGUF file's header and tensor table without loading tensors; raises UserError.

    Returns {"architecture", "name", "tensors", "file_size"}.
    """
    from transformers.integrations.gguf import GgufHeader, read_gguf_metadata

    path = _resolve_file(Path(path))
    size = path.stat().st_size
    try:
        metadata, names = read_gguf_metadata(str(path))
    except (ValueError, struct.error, IndexError, UnicodeDecodeError, OverflowError) as err:
        raise UserError(f"{path}: not a readable GGUF file ({_one_line(err)})") from None
    arch = str(metadata["general.architecture"])
    model_type = _ARCH_ALIASES.get(arch, arch)
    supported = supported_gguf_architectures()
    if model_type not in supported and arch not in supported:
        raise UserError(
            f"{path}: GGUF architecture {arch!r} is not a causal LM this transformers can load "
            f"(supported: {', '.join(supported)})"
        )
    # A truncated download still parses (the header is at the front): check the tensor table's extent.
    try:
        header = GgufHeader.from_file(str(path))
    except ValueError:
        header = None  # a tensor type only the legacy reader knows; from_pretrained will judge it
    if header is not None and header.tensors:
        last = max(header.tensors, key=lambda t: t.offset + t.nbytes)
        end = header.data_start + last.offset + last.nbytes
        if end > size:
            raise UserError(f"{path}: truncated at tensor {last.name} (needs {end} bytes, file has {size})")
    return {"architecture": arch, "name": metadata.get("general.name"), "tensors": len(names), "file_size": size}


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def load_gguf_lm(path: Path | str, dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """Load a GGUF causal LM as (plain float PreTrainedModel, tokenizer) that save_pretrained normally.

    `path`: a .gguf file or a folder holding exactly one. Weights are dequantised to `dtype`.
    The tokenizer carries the file's chat template. Raises UserError for an unsupported
    architecture or a damaged file.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, GgufConfig, PreTrainedTokenizerFast

    path = _resolve_file(Path(path))
    meta = inspect_gguf(path)
    folder, name = str(path.parent), path.name
    try:
        # Parse the metadata once and hand the config on: each reload re-walks the whole vocabulary.
        gguf_config = AutoConfig.from_pretrained(folder, gguf_file=name, local_files_only=True)
        # dequantize=True: architectures on transformers' packed-kernel path load as plain Linear too
        gguf_model = AutoModelForCausalLM.from_pretrained(
            folder,
            gguf_file=name,
            config=gguf_config,
            dtype=dtype,
            quantization_config=GgufConfig(dequantize=True),
            local_files_only=True,
        )
        # The generic fast tokenizer, built from the file's own vocabulary, merges and chat template:
        # AutoTokenizer would produce the same one but re-parse the whole metadata first (~7 s).
        tokenizer = PreTrainedTokenizerFast.from_pretrained(folder, gguf_file=name, local_files_only=True)
    except (
        ValueError,
        KeyError,
        OSError,
        RuntimeError,
        IndexError,
        TypeError,
        NotImplementedError,
        struct.error,
    ) as err:
        raise UserError(f"{path}: cannot load this GGUF {meta['architecture']} model ({_one_line(err)})") from None

    # Rebuild from a plain config: same weights, no quantisation marker, so save_pretrained works.
    config_dict = gguf_model.config.to_dict()
    config_dict.pop("quantization_config", None)
    config_dict.pop("_name_or_path", None)
    model_type = config_dict.pop("model_type")
    config = AutoConfig.for_model(model_type, **config_dict)
    state_dict = gguf_model.state_dict()
    model_class = type(gguf_model)
    del gguf_model
    model = model_class.from_pretrained(None, config=config, state_dict=state_dict, dtype=dtype)
    model.generation_config.bos_token_id = config.bos_token_id
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.eval()
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token  # batching needs one; EOS is the usual stand-in
    return model, tokenizer


__all__ = ["inspect_gguf", "load_gguf_lm", "supported_gguf_architectures"]
