"""WER/CER against jiwer, BLEU/chrF against sacrebleu, the Whisper-style normalisers, token F1."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")

import jiwer  # noqa: E402
import pytest  # noqa: E402
import sacrebleu  # noqa: E402

from qwenlike.errors import UserError  # noqa: E402
from qwenlike.metrics import (BasicTextNormalizer, EnglishTextNormalizer, bleu, cer, chrf, exact_match,  # noqa: E402
                              token_f1, wer)

HYPS = ["the cat sat on the mat", "a quick brown fox jumped over the dog", "hello word",
        "this is is a test of speech recognition", "good morning everyone"]
REFS = ["the cat sat on a mat", "the quick brown fox jumps over the lazy dog", "hello world",
        "this is a test of speech recognition", "good morning to everyone here"]


def test_wer_and_cer_equal_jiwer_without_normalisation():
    assert wer(HYPS, REFS, normalizer=None) == pytest.approx(jiwer.wer(REFS, HYPS), abs=1e-12)
    assert cer(HYPS, REFS, normalizer=None) == pytest.approx(jiwer.cer(REFS, HYPS), abs=1e-12)


def test_wer_is_corpus_level_not_mean_of_utterances():
    # 1 error in a 1-word ref and 0 in a 9-word ref: corpus 1/10, utterance mean would be 0.5
    hyps, refs = ["no", "a b c d e f g h i"], ["yes", "a b c d e f g h i"]
    assert wer(hyps, refs, normalizer=None) == pytest.approx(0.1)
    assert wer(hyps, refs, normalizer=None) == pytest.approx(jiwer.wer(refs, hyps))


def test_wer_with_english_normaliser_equals_jiwer_on_normalised_text():
    hyps = ["Mr. Smith paid twenty-five dollars.", "I don't know, it's the colour grey!", "uh we met in 1999"]
    refs = ["mister smith paid $25", "i do not know it is the color gray", "We met in nineteen ninety nine."]
    norm = EnglishTextNormalizer()
    assert wer(hyps, refs) == 0.0  # every difference above is one the normaliser removes
    hyps2 = ["the (inaudible) cats sat [noise] down", "Two hundred and five people"]
    refs2 = ["the cat sat down", "205 persons"]
    expected = jiwer.wer([norm(r) for r in refs2], [norm(h) for h in hyps2])
    assert wer(hyps2, refs2) == pytest.approx(expected)
    assert expected == pytest.approx(2 / 6)  # cats->cat, people->persons


def test_wer_rejects_bad_input():
    with pytest.raises(UserError):
        wer(["a"], ["a", "b"])
    with pytest.raises(UserError):
        wer(["a"], ["[noise]"])  # nothing left to score


@pytest.mark.parametrize("text, expected", [
    ("Hello, World! [noise] (laughs) Um, I don't know.", "hello world i do not know"),
    ("Mr. Smith paid twenty five dollars on the twenty first of May, nineteen ninety nine.",
     "mister smith paid $25 on the 21st of may 1999"),
    ("It's two hundred and five thousand three hundred.", "it is 205300"),
    ("three point one four percent", "3.14%"),
    ("the nineteen sixties", "the 1960s"),
    ("one of them", "one of them"),
    ("room two oh five", "room 205"),
    ("$20 million", "$20000000"),
    ("1,000 people", "1000 people"),
    ("minus five degrees", "-5 degrees"),
    ("I won't go, can't you see? We'd been there.", "i will not go can not you see we had been there"),
    ("The colour of the centre; we're travelling to organise it.",
     "the color of the center we are traveling to organize it"),
    ("He’s gonna go", "he is going to go"),
    ("Café naïve", "cafe naive"),
])
def test_english_normaliser(text, expected):
    assert EnglishTextNormalizer()(text) == expected


def test_basic_normaliser():
    assert BasicTextNormalizer()("Ça va? Très bien! [x] ＡＢＣ") == "ça va très bien abc"
    assert BasicTextNormalizer(remove_diacritics=True)("Ça va? Très bien! Straße") == "ca va tres bien strasse"
    assert BasicTextNormalizer()("你好，世界！") == "你好 世界"


def test_cer_with_basic_normaliser():
    # punctuation removed and case folded before counting characters
    assert cer(["Hello, World!"], ["hello world"]) == 0.0
    assert cer(["abd"], ["abc"]) == pytest.approx(1 / 3)


MT_HYPS = ["the cat sat on the mat today", "a dog ran quickly in the big park", "it is raining in the city"]
MT_REFS = [["the cat sat on the mat", "a cat sat on the mat today"],
           ["a dog ran fast in the big park", "the dog was running in a park"],
           ["it rains in the city"]]  # third item has one reference only


@pytest.mark.parametrize("tokenize", ["13a", "zh", "char", "intl"])
def test_bleu_equals_sacrebleu(tokenize):
    streams = [[r[k] if k < len(r) else None for r in MT_REFS] for k in range(2)]
    expected = sacrebleu.corpus_bleu(MT_HYPS, streams, tokenize=tokenize).score
    assert bleu(MT_HYPS, MT_REFS, tokenize=tokenize) == pytest.approx(expected, abs=1e-9)
    assert 0 < expected < 100


def test_bleu_single_reference_strings_and_chinese():
    hyps, refs = ["今天天气很好", "我喜欢猫"], ["今天天气很好啊", "我很喜欢猫"]
    assert bleu(hyps, refs, tokenize="zh") == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score)


def test_chrf_equals_sacrebleu():
    streams = [[r[k] if k < len(r) else None for r in MT_REFS] for k in range(2)]
    assert chrf(MT_HYPS, MT_REFS) == pytest.approx(sacrebleu.corpus_chrf(MT_HYPS, streams).score)
    plus = sacrebleu.metrics.CHRF(word_order=2).corpus_score(MT_HYPS, streams).score
    assert chrf(MT_HYPS, MT_REFS, word_order=2) == pytest.approx(plus)


def test_bleu_unknown_or_unavailable_tokenizer():
    with pytest.raises(UserError):
        bleu(["a"], ["a"], tokenize="klingon")
    try:
        import MeCab  # noqa: F401
    except ImportError:
        with pytest.raises(UserError, match="mecab"):
            bleu(["a"], ["a"], tokenize="ja-mecab")


def test_token_f1_and_exact_match_squad_style():
    # "the" is an article and dropped; overlap {big, cat}: P=2/2, R=2/3 -> F1=0.8
    assert token_f1(["the big cat"], ["a big black cat"]) == pytest.approx(0.8)
    # best reference counts
    assert token_f1(["Paris."], [["London", "paris"]]) == 1.0
    assert token_f1(["blue", "seven"], ["red", "seven"]) == 0.5
    assert exact_match(["The Cat!", "dog"], ["cat", ["a dog", "hound"]]) == 1.0
    assert exact_match(["cats"], ["cat"]) == 0.0
