"""Captioning metrics: CIDEr-D and SPIDEr, as coco-caption / pycocoevalcap compute them.

CIDEr-D (Vedantam et al. 2015, the "-D" variant from coco-caption's ciderD scorer): n-grams 1..4,
TF-IDF vectors with document frequencies taken from the references of the evaluated set, candidate
TF-IDF clipped at the reference's value, Gaussian length penalty (sigma 6), averaged over n and over
references, times 10. SPIDEr = (CIDEr-D + SPICE) / 2 (Liu et al. 2017); SPICE is a Java program,
so it is computed only when Java and the SPICE jar are present, otherwise SPIDEr is None.

Captions are tokenised first the way coco-caption does (Stanford PTBTokenizer, lowercased, with
punctuation tokens dropped); `ptb_tokenize` approximates that in pure Python.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from typing import Sequence

from qwenlike.errors import UserError

# ----------------------------------------------------------------------------------------------
# PTB-style tokenisation
# ----------------------------------------------------------------------------------------------
# Tokens coco-caption removes after PTB tokenisation (pycocoevalcap/tokenizer/ptbtokenizer.py);
# the bracket tokens are what PTBTokenizer turns ( ) { } into.
PTB_PUNCTUATIONS = frozenset(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":",
                              "-", "--", "...", ";"])
_ABBREVIATION = re.compile(r"^([a-z]\.)+$|^(mr|mrs|ms|dr|st|jr|sr|prof|vs|etc|no|inc|ltd|co)\.$")
_CLITIC = re.compile(r"^(.+?)(n't|'s|'re|'ve|'ll|'d|'m)$")


def ptb_tokenize(sentence: str) -> list[str]:
    """Lowercase and split a caption like Stanford's PTBTokenizer, then drop punctuation tokens.

    Covers what captions contain: punctuation split from words, clitics ("don't" -> do n't,
    "dog's" -> dog 's), quotes and brackets dropped, abbreviations ("u.s.", "mr.") and numbers
    ("1,000", "3.5", "10:30") kept whole, hyphenated words kept whole.
    """
    s = sentence.lower().replace("\n", " ").replace("\u2019", "'").replace("\u2018", "'")
    s = re.sub(r"[\"\u201c\u201d()\[\]{}]", " ", s)  # quotes and brackets become dropped tokens
    s = re.sub(r"\.\.\.+|--+|[;!?]", " ", s)
    s = re.sub(r"(?<!\d),|,(?!\d)", " ", s)  # commas, except inside numbers
    s = re.sub(r"(?<!\d):|:(?!\d)", " ", s)  # colons, except inside times
    s = re.sub(r"([$#%&])", r" \1 ", s)  # PTB splits these off as their own tokens
    tokens: list[str] = []
    for tok in s.split():
        if tok.endswith(".") and not _ABBREVIATION.match(tok):
            tok = tok.rstrip(".")
        tok = tok.strip("`")
        if tok.startswith("'") and tok not in ("'s", "'re", "'ve", "'ll", "'d", "'m"):
            tok = tok.lstrip("'")  # opening single quote
        if tok.endswith("'") and not tok.endswith("n't"):
            tok = tok.rstrip("'")  # closing quote or plural possessive ("dogs'")
        m = _CLITIC.match(tok)
        if m and m.group(1) not in ("", "'"):
            tokens.extend([m.group(1), m.group(2)])
        elif tok:
            tokens.append(tok)
    return [t for t in tokens if t not in PTB_PUNCTUATIONS and t.upper() not in PTB_PUNCTUATIONS]


def _as_reference_lists(references: Sequence[str | Sequence[str]]) -> list[list[str]]:
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    if any(len(r) == 0 for r in refs):
        raise UserError("every caption needs at least one reference")
    return refs


# ----------------------------------------------------------------------------------------------
# CIDEr-D
# ----------------------------------------------------------------------------------------------
def _ngrams(words: list[str], n: int) -> Counter:
    return Counter(tuple(words[i:i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1))


def _tfidf(counts: Counter, df: Counter, log_n_docs: float, n: int) -> tuple[list[dict], list[float], int]:
    """n-gram counts -> per-order TF-IDF dicts, their L2 norms, and the length CIDEr-D penalises.

    The length is the number of bigrams, as in coco-caption's ciderD (its `if n == 1` counts the
    order-2 n-grams); for a sentence of L >= 2 words that is L - 1, so the penalty is unchanged.
    """
    vec: list[dict] = [{} for _ in range(n)]
    norm = [0.0] * n
    length = 0
    for gram, tf in counts.items():
        k = len(gram) - 1
        # n-grams unseen in the references count as appearing in one document
        vec[k][gram] = w = tf * (log_n_docs - math.log(max(1.0, df[gram])))
        norm[k] += w * w
        if k == 1:
            length += tf
    return vec, [math.sqrt(x) for x in norm], length


def cider_d_scores(predictions: Sequence[str], references: Sequence[str | Sequence[str]], n: int = 4,
                   sigma: float = 6.0, tokenize: bool = True) -> list[float]:
    """Per-caption CIDEr-D (x10 scale). tokenize=False means captions are already tokenised (split on
    spaces only). With a single caption every IDF is 0, so the score is 0: score a whole set."""
    if len(predictions) != len(references):
        raise UserError(f"{len(predictions)=} != {len(references)=}")
    if not predictions:
        raise UserError("no captions to score")
    split = ptb_tokenize if tokenize else str.split
    refs = [[_ngrams(split(r), n) for r in rs] for rs in _as_reference_lists(references)]
    cands = [_ngrams(split(p or ""), n) for p in predictions]
    df: Counter = Counter()
    for rs in refs:  # document frequency: in how many items' reference sets an n-gram appears
        df.update(set(g for r in rs for g in r))
    log_n_docs = math.log(float(len(refs)))
    scores = []
    for cand, rs in zip(cands, refs):
        c_vec, c_norm, c_len = _tfidf(cand, df, log_n_docs, n)
        total = [0.0] * n
        for r in rs:
            r_vec, r_norm, r_len = _tfidf(r, df, log_n_docs, n)
            penalty = math.exp(-((c_len - r_len) ** 2) / (2 * sigma ** 2))
            for k in range(n):
                # clipping (the "-D"): a candidate cannot gain by repeating an n-gram
                val = sum(min(w, r_vec[k].get(g, 0.0)) * r_vec[k].get(g, 0.0) for g, w in c_vec[k].items())
                if c_norm[k] != 0 and r_norm[k] != 0:
                    val /= c_norm[k] * r_norm[k]
                total[k] += val * penalty
        scores.append(sum(total) / n / len(rs) * 10.0)
    return scores


def cider_d(predictions: Sequence[str], references: Sequence[str | Sequence[str]], n: int = 4,
            sigma: float = 6.0, tokenize: bool = True) -> float:
    """Corpus CIDEr-D: mean of per-caption scores (x10 scale, as coco-caption reports it)."""
    scores = cider_d_scores(predictions, references, n=n, sigma=sigma, tokenize=tokenize)
    return sum(scores) / len(scores)


# ----------------------------------------------------------------------------------------------
# SPICE (Java) and SPIDEr
# ----------------------------------------------------------------------------------------------
def _spice_tools(spice_jar: str | None, java: str | None) -> tuple[str, str] | None:
    jar = spice_jar or os.environ.get("QWENLIKE_SPICE_JAR")
    java = java or shutil.which("java")
    if not jar or not java or not os.path.isfile(jar):
        return None
    return java, jar


def spice_available(spice_jar: str | None = None, java: str | None = None) -> bool:
    """True when a Java executable and the SPICE jar (argument or $QWENLIKE_SPICE_JAR) both exist.
    The jar is spice-1.0.jar with its lib/ folder (Stanford CoreNLP models), as coco-caption ships it."""
    return _spice_tools(spice_jar, java) is not None


def spice_scores(predictions: Sequence[str], references: Sequence[str | Sequence[str]],
                 spice_jar: str | None = None, java: str | None = None, max_memory: str = "8G",
                 timeout_s: float = 3600.0) -> list[float]:
    """Per-caption SPICE F-score (0-1) from the SPICE jar, on PTB-tokenised captions.

    Raises UserError when Java or the jar is missing, RuntimeError when the program fails.
    A NaN score (no scene-graph tuples on either side) counts as 0.
    """
    tools = _spice_tools(spice_jar, java)
    if tools is None:
        raise UserError("SPICE needs Java and the SPICE jar (set QWENLIKE_SPICE_JAR)")
    java_exe, jar = tools
    refs = _as_reference_lists(references)
    items = [{"image_id": i, "test": " ".join(ptb_tokenize(p or "")), "refs": [" ".join(ptb_tokenize(r)) for r in rs]}
             for i, (p, rs) in enumerate(zip(predictions, refs))]
    with tempfile.TemporaryDirectory(prefix="qwenlike_spice_") as tmp:
        in_path, out_path = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
        with open(in_path, "w") as f:
            json.dump(items, f)
        cmd = [java_exe, "-jar", f"-Xmx{max_memory}", jar, in_path, "-out", out_path, "-subset",
               "-cache", os.path.join(tmp, "cache")]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        if proc.returncode != 0 or not os.path.isfile(out_path):
            raise RuntimeError(f"SPICE failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
        with open(out_path) as f:
            results = {r["image_id"]: r for r in json.load(f)}
    out = []
    for i in range(len(items)):
        f_score = float(results[i]["scores"]["All"]["f"])
        out.append(0.0 if math.isnan(f_score) else f_score)
    return out


def spider(predictions: Sequence[str], references: Sequence[str | Sequence[str]],
           spice_jar: str | None = None, java: str | None = None) -> dict:
    """SPIDEr = (CIDEr-D + SPICE) / 2, corpus means.

    Returns {"cider_d", "spice", "spider", "spice_available"}; when SPICE cannot run here,
    "spice" and "spider" are None and "spice_available" is False, so no one reads a CIDEr-only
    number as SPIDEr.
    """
    c = cider_d(predictions, references)
    if not spice_available(spice_jar, java):
        return {"cider_d": c, "spice": None, "spider": None, "spice_available": False}
    per_item = spice_scores(predictions, references, spice_jar=spice_jar, java=java)
    s = sum(per_item) / len(per_item)
    return {"cider_d": c, "spice": s, "spider": (c + s) / 2, "spice_available": True}
