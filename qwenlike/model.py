"""AudioLM = Whisper encoder + projector + any AutoModelForCausalLM, by composition.

Floor 3. Shape legend: B conversations, L tokens, W encoder windows in the batch (all clips of
all conversations, in slot order), M mel bins, T mel frames, E encoder frames, D encoder width,
A audio tokens, H LM hidden size, V vocabulary.

The forward pass, top to bottom:
  windows (W, M, T) --encoder--> (W, E, D) --projector--> (W, A_max, H) --valid rows--> (sum A, H)
  (with `utterance_block`, each window's pooled summary frames add one (H,) vector to its rows;
  with `label_head`, each window gets G more rows after its own: per closed-set task the label
  probabilities of its pooled summary frames times the labels' input embeddings)
  input_ids (B, L) --embed--> (B, L, H); masked_scatter the audio rows into the <|AUDIO|> slots
  --lm--> logits (B, L, V) or the loss on assistant tokens.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, WhisperConfig

from .audio import projector_tokens
from .chat import AUDIO_TOKEN, IGNORE
from .encoder import AudioEncoder, check_summary, check_taps
from .inputs import AudioBatch, Batch
from .projector import LabelHead, ProjectorConfig, UtteranceVector, build_projector


VOLATILE_KEYS = ("_name_or_path", "transformers_version", "architectures", "dtype", "torch_dtype")


def _plain_config(cfg: Any) -> dict[str, Any]:
    """An LM config as a dict without the keys that change with the run, not with the model."""
    return {k: v for k, v in sorted(cfg.to_dict().items()) if k not in VOLATILE_KEYS}


# the WhisperConfig fields that define an encoder (the decoder's are not ours to keep)
ENCODER_KEYS = (
    "num_mel_bins", "d_model", "encoder_layers", "encoder_attention_heads", "encoder_ffn_dim",
    "max_source_positions", "activation_function", "scale_embedding", "dropout",
    "attention_dropout", "activation_dropout", "encoder_layerdrop",
)  # fmt: skip


def encoder_dict(cfg: Any) -> dict[str, Any]:
    """The encoder fields of a WhisperConfig-like config object or dict."""
    d = cfg if isinstance(cfg, dict) else cfg.to_dict()
    return {k: d[k] for k in ENCODER_KEYS if k in d}


@dataclass
class AudioLMConfig:
    """Everything needed to rebuild an AudioLM's modules; saved as config.json beside the weights."""

    encoder: dict[str, Any]  # WhisperConfig.to_dict()
    lm: dict[str, Any]  # the causal LM's config.to_dict() (has model_type)
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    encoder_final_norm: bool = True  # False: the norm sits in the projector (Qwen2-Audio)
    pad_to_window: bool = False  # True: encode 30 s windows with masks (Qwen2-Audio checkpoints)
    encoder_taps: list[int] = field(default_factory=list)  # earlier encoder blocks the adapter also sees
    utterance_block: int = 0  # encoder block pooled into each window's utterance vector (0: none)
    # {"blocks": [b, ...], "groups": [{"task": name, "labels": [...], "token_ids": [[...], ...]}, ...]}: a
    # fitted linear classifier per task on those blocks' pooled frames, read by the LM as G more rows a window
    label_head: dict[str, Any] | None = None
    chat_template: str = "tokenizer"  # "qwen2-audio" | "tokenizer"
    system_prompt: str | None = None
    audio_token: str = AUDIO_TOKEN
    format: str = "qwenlike-audiolm/1"

    @property
    def n_mels(self) -> int:
        return int(self.encoder["num_mel_bins"])

    @property
    def token_args(self) -> dict[str, Any]:
        """Keyword arguments of `audio.num_audio_tokens` for this model."""
        args: dict[str, Any] = {"stride": self.projector.stride, "mode": self.projector.mode}
        if self.label_head:
            args["extra"] = len(self.label_head["groups"])  # one row per label group a window
        return args

    @property
    def summary_blocks(self) -> tuple[int, ...]:
        """The encoder blocks the utterance vector (one) or the label head (one or more) pool; they
        share them when both are present."""
        if self.utterance_block:
            return (self.utterance_block,)
        return tuple((self.label_head or {}).get("blocks", ()))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["projector"] = self.projector.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AudioLMConfig":
        d = dict(d)
        d["projector"] = ProjectorConfig(**d.get("projector", {}))
        return cls(**d)

    def whisper_config(self) -> WhisperConfig:
        return WhisperConfig(**self.encoder)

    def lm_config(self):
        d = dict(self.lm)
        return AutoConfig.for_model(d.pop("model_type"), **d)


def _label_sizes(spec: dict[str, Any]) -> list[int]:
    return [len(g["labels"]) for g in spec["groups"]]


def check_label_head(spec: dict[str, Any], n_layers: int) -> dict[str, Any]:
    """A label-head spec, checked and normalised: 1+ distinct blocks in 1..n_layers (`blocks`, sorted;
    a lone `block` is read as [block]), 1+ groups of 2+ labels, one token-id list (non-empty) per label."""
    raw = spec.get("blocks", [spec["block"]] if "block" in spec else [])
    blocks = sorted({int(b) for b in raw})
    if not blocks or len(blocks) != len(list(raw)) or any(not 1 <= b <= n_layers for b in blocks):
        raise ValueError(f"the label head's block must be in 1..{n_layers} (distinct blocks), not {list(raw)}")
    groups = spec.get("groups") or []
    if not groups:
        raise ValueError("a label head needs at least one label group")
    for g in groups:
        labels, ids = list(g.get("labels", [])), list(g.get("token_ids", []))
        if len(labels) < 2 or len(ids) != len(labels) or any(not i for i in ids):
            raise ValueError(f"label group {g.get('task')!r}: needs 2+ labels and one non-empty token-id list per label")
    return {"blocks": blocks, "groups": [{"task": str(g["task"]), "labels": [str(x) for x in g["labels"]],
                                        "token_ids": [[int(t) for t in i] for i in g["token_ids"]]} for g in groups]}  # fmt: skip


class CTCHead(nn.Module):
    """What `objective: ctc` trains beside the adapter: a blank vector (the CTC "nothing here"
    class, read like one more embedding row) and a logit scale. A training-only part: checkpoints
    keep it for resume, `from_pretrained` leaves it out (the adapter is what the next stage uses)."""

    def __init__(self, width: int, scale: float):
        super().__init__()
        self.blank = nn.Parameter(torch.zeros(width))
        self.scale = nn.Parameter(torch.tensor(float(scale)))


def ctc_alignment_loss(rows: torch.Tensor, counts: list[int], targets: list[list[int]], table: torch.Tensor,
                       head: CTCHead, loss_normalizer: float | None = None, masked: list[int] | None = None) -> dict[str, Any]:
    """CTC of audio-token rows against an embedding table: rows (sum A, H) split by `counts` into
    conversations, logits (A, V + 1) = scale * rows @ [table; blank].T (the blank is class V),
    `targets[i]` the token ids conversation i should read as, `masked` table rows that are never
    an output. Conversations without audio or targets, or with more targets than audio tokens, add
    nothing (`n_tokens` counts what did)."""
    classes = torch.cat([table.float(), head.blank.float()[None]])  # (V + 1, H)
    logits = head.scale * (rows.float() @ classes.T)  # (sum A, V + 1)
    if masked:
        logits = logits.index_fill(1, torch.tensor(masked, device=logits.device), -1e4)  # not -inf: CTC's backward makes NaN of it
    parts = logits.log_softmax(-1).split(counts)
    keep = [i for i, (p, t) in enumerate(zip(parts, targets)) if len(t) and p.shape[0] >= len(t)]
    n = sum(len(targets[i]) for i in keep)
    if not keep:
        zero = rows.sum() * 0.0  # keeps the graph: every process must still all-reduce gradients
        return {"loss": zero, "loss_sum": zero.detach(), "n_tokens": 0}
    lens = torch.tensor([parts[i].shape[0] for i in keep])
    padded = nn.utils.rnn.pad_sequence([parts[i] for i in keep])  # (T, B, V + 1)
    flat = torch.tensor([t for i in keep for t in targets[i]])
    loss_sum = nn.functional.ctc_loss(padded, flat, lens, torch.tensor([len(targets[i]) for i in keep]),
                                      blank=table.shape[0], reduction="sum", zero_infinity=True)  # fmt: skip
    loss = loss_sum / (loss_normalizer if loss_normalizer is not None else max(n, 1))
    return {"loss": loss, "loss_sum": loss_sum.detach(), "n_tokens": n}


class AudioLM(nn.Module):
    def __init__(self, config: AudioLMConfig, lm: nn.Module | None = None, tokenizer: Any = None):
        super().__init__()
        self.config = config
        if config.label_head:
            config.label_head = check_label_head(config.label_head, config.whisper_config().encoder_layers)
        self.encoder = AudioEncoder(config.whisper_config(), config.encoder_final_norm, config.pad_to_window,
                                    config.encoder_taps, config.summary_blocks)  # fmt: skip
        config.projector.in_dim = self.encoder.dim
        self.lm = lm if lm is not None else AutoModelForCausalLM.from_config(config.lm_config())
        config.lm = _plain_config(self.lm.config)  # what the LM really is, stable across save/load
        config.projector.out_dim = self.lm.get_input_embeddings().embedding_dim
        self.projector = build_projector(config.projector)
        if config.utterance_block:
            self.projector.utterance = UtteranceVector(config.whisper_config().d_model, config.projector.out_dim)
        if config.label_head:
            self.label_head = LabelHead(config.whisper_config().d_model * len(config.label_head["blocks"]), _label_sizes(config.label_head))
        self.tokenizer = tokenizer

    # ------------------------------------------------------------------ properties
    @property
    def audio_token_id(self) -> int:
        return int(self.tokenizer.convert_tokens_to_ids(self.config.audio_token))

    @property
    def device(self) -> torch.device:
        return next(self.lm.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return self.lm.get_input_embeddings().weight.dtype

    # ------------------------------------------------------------------ forward
    def encode_audio(self, audio: AudioBatch) -> torch.Tensor:
        """All windows -> their audio-token rows, concatenated in slot order: (sum A, H)."""
        hidden, enc_frames = self.encoder(audio.features)  # (W, E, D), (W,)
        d = self.encoder.dim
        proj = self.projector(hidden[..., :d].to(self.projector_dtype))  # (W, A_max, H)
        if self.config.utterance_block:
            proj = proj + self.projector.utterance(hidden[..., d:], enc_frames)[:, None, :].to(proj.dtype)
        labels = None
        if self.config.label_head:
            labels = self.label_head(hidden[..., d:], enc_frames, self.label_table()).to(proj.dtype)  # (W, G, H)
        rows = []
        for w in range(proj.shape[0]):
            n = projector_tokens(int(enc_frames[w]), self.config.projector.stride, self.config.projector.mode)
            extra = 0 if labels is None else labels.shape[1]
            if n + extra != audio.tokens[w]:
                raise ValueError(f"window {w}: projector made {n + extra} tokens but the rendering reserved {audio.tokens[w]}")
            rows.append(proj[w, :n])
            if labels is not None:
                rows.append(labels[w])
        return torch.cat(rows) if rows else proj.new_zeros(0, proj.shape[-1])  # (sum A, H)

    @property
    def projector_dtype(self) -> torch.dtype:
        return next(self.projector.parameters()).dtype

    def embed(self, input_ids: torch.Tensor, audio: AudioBatch | None) -> torch.Tensor:
        """(B, L) ids -> (B, L, H) embeddings with audio rows spliced into the <|AUDIO|> slots."""
        embeds = self.lm.get_input_embeddings()(input_ids)  # (B, L, H)
        slots = input_ids == self.audio_token_id  # (B, L)
        n_slots = int(slots.sum())
        if audio is None or not audio.tokens:
            if n_slots:
                raise ValueError(f"{n_slots=} audio slots in the ids but no audio was given")
            return embeds
        rows = self.encode_audio(audio)  # (sum A, H)
        if rows.shape[0] != n_slots:
            raise ValueError(f"audio rows and slots differ: n_rows={rows.shape[0]} != {n_slots=}")
        return embeds.masked_scatter(slots[..., None], rows.to(embeds.dtype))

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        audio: AudioBatch | None = None,
        labels: torch.Tensor | None = None,
        loss_normalizer: float | None = None,
        objective: str = "lm",
        **lm_kwargs: Any,
    ) -> dict[str, Any]:
        """Logits (labels=None) or the loss on assistant tokens.

        The loss is the summed token cross-entropy divided by `loss_normalizer` (the number of
        assistant tokens in the whole global batch when training with accumulation or several
        processes), or by this batch's own count when not given. `objective="ctc"` gives
        `ctc_loss` instead (the LM does not run).
        """
        if objective == "ctc":
            return self.ctc_loss(input_ids, audio, labels, loss_normalizer)
        embeds = self.embed(input_ids, audio)  # (B, L, H)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # left padding safe
        if labels is None:
            out = self.lm(inputs_embeds=embeds, attention_mask=attention_mask, position_ids=position_ids, **lm_kwargs)
            return {"logits": out.logits, "past_key_values": getattr(out, "past_key_values", None)}
        # Training: only positions that predict an assistant token go through the LM head,
        # which saves the (B, L, V) logits tensor (V is 49k-150k) for the prompt and audio.
        base = self.lm.get_decoder() if hasattr(self.lm, "get_decoder") else self.lm.model
        hidden = base(inputs_embeds=embeds, attention_mask=attention_mask, position_ids=position_ids).last_hidden_state
        target = labels[:, 1:]  # (B, L-1): token t+1 is predicted at position t
        keep = target != IGNORE
        logits = self.lm.get_output_embeddings()(hidden[:, :-1][keep])  # (n, V)
        loss_sum = nn.functional.cross_entropy(logits.float(), target[keep], reduction="sum")
        n = int(keep.sum())
        loss = loss_sum / (loss_normalizer if loss_normalizer is not None else max(n, 1))
        return {"loss": loss, "loss_sum": loss_sum.detach(), "n_tokens": n}

    def set_encoder_taps(self, taps: list[int]) -> bool:
        """Let the adapter see these earlier encoder blocks too (`model.encoder_taps` in a recipe):
        the encoder keeps its weights, the projector is rebuilt for the wider input, freshly
        initialised (seed first for a reproducible init). Returns whether anything changed."""
        new = list(check_taps(taps, self.config.whisper_config().encoder_layers))
        if new == list(self.config.encoder_taps):
            return False
        ref = next(self.projector.parameters())
        self.config.encoder_taps = new
        self.encoder.taps = tuple(new)
        self.config.projector.in_dim = self.encoder.dim
        utterance = getattr(self.projector, "utterance", None)
        self.projector = build_projector(self.config.projector).to(device=ref.device, dtype=ref.dtype)
        if utterance is not None:
            self.projector.utterance = utterance  # reads its own block, not the frames: unchanged
        return True

    def set_utterance_block(self, block: int) -> bool:
        """Give the adapter an utterance vector pooled from this encoder block (`model.utterance_block`
        in a recipe; 0 removes it). A new one starts at zero, so the model's outputs are unchanged
        until it is trained; the frame adapter keeps its weights. Returns whether anything changed."""
        new = check_summary(block, self.config.whisper_config().encoder_layers)
        if new == self.config.utterance_block:
            return False
        head = self.config.label_head
        if new and head and head["blocks"] != [new]:
            raise ValueError(f"the utterance block must be the label head's block, {head['blocks']}, not {new}")
        self.config.utterance_block = new
        self.encoder.summary = self.config.summary_blocks
        if hasattr(self.projector, "utterance"):
            del self.projector.utterance
        if new:
            ref = next(self.projector.parameters())
            self.projector.utterance = UtteranceVector(self.encoder.config.d_model, self.config.projector.out_dim).to(
                device=ref.device, dtype=ref.dtype)  # fmt: skip
        return True

    def label_table(self) -> torch.Tensor:
        """(K, H): each label group's labels, in order, as the mean of their tokens' input embeddings."""
        table = self.lm.get_input_embeddings().weight
        ids = [t for g in self.config.label_head["groups"] for t in g["token_ids"]]
        return torch.stack([table[torch.tensor(i, device=table.device)].mean(0) for i in ids])

    def set_label_head(self, spec: dict[str, Any] | None) -> bool:
        """Give the model a label head (`AudioLMConfig.label_head`; None removes it). A new head is
        zero (uniform probabilities: every window's label rows are its groups' mean label embedding)
        until fitted (`label_head.fit_label_head`). Returns whether anything changed."""
        spec = None if not spec else check_label_head(spec, self.config.whisper_config().encoder_layers)
        if spec == self.config.label_head:
            return False
        if spec and self.config.utterance_block and spec["blocks"] != [self.config.utterance_block]:
            raise ValueError(f"the label head must pool the utterance vector's block {self.config.utterance_block}, not {spec['blocks']}")
        self.config.label_head = spec
        self.encoder.summary = self.config.summary_blocks
        if hasattr(self, "label_head"):
            del self.label_head
        if spec:
            ref = next(self.projector.parameters())
            width = self.encoder.config.d_model * len(spec["blocks"])
            self.label_head = LabelHead(width, _label_sizes(spec)).to(device=ref.device, dtype=ref.dtype)
        return True

    def attach_ctc_head(self) -> CTCHead:
        """Give the model the blank vector and logit scale `ctc_loss` trains (qwenlike train does
        this for `objective: ctc`). The scale starts at 1 / the mean embedding norm."""
        table = self.lm.get_input_embeddings().weight
        self.ctc_head = CTCHead(table.shape[1], 1.0 / float(table.detach().float().norm(dim=1).mean()))
        return self.ctc_head.to(table.device)

    def ctc_loss(self, input_ids: torch.Tensor, audio: AudioBatch | None, labels: torch.Tensor | None,
                 loss_normalizer: float | None = None) -> dict[str, Any]:
        """Adapter alignment without running the LM (`objective: ctc` in qwenlike train).

        Each conversation's audio-token rows are read as CTC logits against the LM's own input
        embedding table (logit = scale * <row, E[token]>, plus a learnt blank), and the targets are
        its assistant text tokens: on transcription data this pulls the adapter's outputs onto the
        embeddings of the words spoken, at the cost of one (A, V) product instead of an LM pass.
        Special and added tokens are neither outputs nor targets. Summed over conversations,
        divided by `loss_normalizer` or by the number of target tokens.
        """
        head = getattr(self, "ctc_head", None)
        if head is None:
            raise ValueError("ctc_loss needs attach_ctc_head() first")
        if labels is None or audio is None or not audio.tokens:
            raise ValueError("objective ctc needs audio and labels (assistant text) in every batch")
        rows = self.encode_audio(audio)  # (sum A, H)
        table = self.lm.get_input_embeddings().weight  # (V, H), frozen
        specials = sorted((set(self.tokenizer.all_special_ids) | set(self.tokenizer.added_tokens_decoder)) & set(range(table.shape[0])))
        counts = (input_ids == self.audio_token_id).sum(1).tolist()  # audio rows per conversation
        targets = [[t for t in lab[lab != IGNORE].tolist() if t not in specials] for lab in labels]
        return ctc_alignment_loss(rows, counts, targets, table, head, loss_normalizer, specials)

    # ------------------------------------------------------------------ checkpoints
    def save_pretrained(self, out: str) -> None:
        """Write config.json, model.safetensors and the tokenizer to `out` (atomically)."""
        from .checkpoint import save_pretrained

        save_pretrained(self, out)

    @classmethod
    def from_pretrained(cls, path: str, dtype: torch.dtype | None = None, device: str | None = None) -> "AudioLM":
        """Load a qwenlike checkpoint or a transformers Qwen2-Audio folder."""
        from .checkpoint import from_pretrained

        return from_pretrained(path, dtype=dtype, device=device)
