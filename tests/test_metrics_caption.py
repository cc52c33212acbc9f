"""CIDEr-D against reference values, PTB-style tokenisation, SPIDEr with and without SPICE."""

import json
import stat
import sys

import pytest

from qwenlike.metrics import cider_d, cider_d_scores, ptb_tokenize, spice_available, spider

# Expected values below were produced once by aac-metrics==0.6.0 (PyPI), function
# aac_metrics.functional.cider_d.cider_d(candidates, mult_references, n=4, sigma=6.0) -- a pure-Python
# port of coco-caption's CIDEr-D scorer (vrama91/cider) -- with its file loaded on its own (the
# package __init__ needs sentence-transformers). pycocoevalcap's `Cider` is plain CIDEr, not CIDEr-D,
# so it is not the reference here. The tests do not need aac-metrics.
SET_A_CANDS = ["a man is speaking while a car passes by",
               "birds chirp in the background",
               "water is running from a faucet",
               "a dog barks and a dog barks again"]  # repeated n-grams exercise the clipping
SET_A_REFS = [["a man speaks as a car drives past", "a person talks while vehicles pass by",
               "a man is talking and a car passes"],
              ["birds are chirping in the distance", "several birds sing outside",
               "birds chirp and tweet in the background"],
              ["water flows from a tap", "a faucet is running water into a sink", "running water splashes"],
              ["a dog is barking repeatedly", "a dog barks several times", "dogs bark in the distance"]]
SET_A_SCORES = [1.9651830782362012, 1.9544687442058106, 1.8178093775371909, 0.8947057690901367]
SET_A_CORPUS = 1.6580417422673348

# Raw captions (case, punctuation, a clitic, an empty candidate, one single-reference item). The
# reference numbers come from the same aac-metrics function applied to these captions after our
# ptb_tokenize (aac-metrics' own PTB tokenizer needs Java and a CoreNLP download).
SET_B_CANDS = ["A dog barks, then a dog barks again.", "Rain falls on a metal roof.", "",
               "Someone is typing on a keyboard while a phone rings."]
SET_B_REFS = [["A dog is barking.", "Dogs bark loudly in the distance!"],
              ["Heavy rain falls onto a tin roof.", "rain drops hit a metal roof", "It's raining hard on a roof."],
              ["A bell rings twice."],
              ["A person types on a keyboard.", "Keys clatter as somebody types, and a telephone rings."]]
SET_B_SCORES = [0.35698058692628, 2.0241820212979933, 0.0, 0.7053436492901561]
SET_B_CORPUS = 0.7716265643786073


def test_cider_d_matches_reference_implementation_pretokenised():
    assert cider_d_scores(SET_A_CANDS, SET_A_REFS, tokenize=False) == pytest.approx(SET_A_SCORES, abs=1e-4)
    assert cider_d(SET_A_CANDS, SET_A_REFS, tokenize=False) == pytest.approx(SET_A_CORPUS, abs=1e-4)


def test_cider_d_matches_reference_implementation_raw_captions():
    assert cider_d_scores(SET_B_CANDS, SET_B_REFS) == pytest.approx(SET_B_SCORES, abs=1e-4)
    assert cider_d(SET_B_CANDS, SET_B_REFS) == pytest.approx(SET_B_CORPUS, abs=1e-4)


def test_cider_d_properties():
    # IDF comes from the evaluated set: with a single item every n-gram has IDF 0
    assert cider_d(["a dog barks"], [["a dog barks"]]) == 0.0
    # a candidate identical to its only reference beats a partial one
    refs = [["a dog barks loudly"], ["rain falls on a roof"], ["a car passes by"]]
    good = cider_d_scores(["a dog barks loudly", "rain falls", "a car"], refs)
    bad = cider_d_scores(["a dog", "rain falls", "a car"], refs)
    assert good[0] > bad[0] and good[1:] == bad[1:]
    # clipping: repeating a matching word does not raise the score
    rep = cider_d_scores(["a dog barks barks barks loudly", "rain falls", "a car"], refs)
    assert rep[0] < good[0]


@pytest.mark.parametrize("text, tokens", [
    ("A dog's bark, then \"silence\"... (quiet)!", ["a", "dog", "'s", "bark", "then", "silence", "quiet"]),
    ("They don't know; it's 10:30 and 1,000 people - well-known U.S. Mr. Smith.",
     ["they", "do", "n't", "know", "it", "'s", "10:30", "and", "1,000", "people", "well-known", "u.s.", "mr.",
      "smith"]),
    ("It won't stop.", ["it", "wo", "n't", "stop"]),
    ("Dogs' toys cost $5", ["dogs", "toys", "cost", "$", "5"]),
])
def test_ptb_tokenize(text, tokens):
    assert ptb_tokenize(text) == tokens


def test_spider_without_spice_is_marked_unavailable(monkeypatch):
    monkeypatch.delenv("QWENLIKE_SPICE_JAR", raising=False)
    out = spider(SET_A_CANDS, SET_A_REFS, spice_jar="/nonexistent/spice-1.0.jar")
    assert out == {"cider_d": pytest.approx(SET_A_CORPUS), "spice": None, "spider": None, "spice_available": False}


def test_spider_with_spice_runs_the_jar(tmp_path, monkeypatch):
    # A stand-in "java" that checks the SPICE command line and writes SPICE's output format,
    # giving candidate i the F-score 0.1 * (i + 1); caption tokenisation is checked on the way.
    jar = tmp_path / "spice-1.0.jar"
    jar.write_bytes(b"")
    fake_java = tmp_path / "java"
    fake_java.write_text(f"""#!{sys.executable}
import json, sys
args = sys.argv[1:]
assert args[0] == "-jar" and args[2].endswith("spice-1.0.jar") and "-subset" in args, args
items = json.load(open(args[3]))
assert items[0]["test"] == "a man is speaking while a car passes by", items[0]
json.dump([{{"image_id": it["image_id"], "scores": {{"All": {{"f": 0.1 * (it["image_id"] + 1), "pr": 0, "re": 0}}}}}}
           for it in items], open(args[args.index("-out") + 1], "w"))
""")
    fake_java.chmod(fake_java.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("QWENLIKE_SPICE_JAR", str(jar))
    assert spice_available(java=str(fake_java))
    cands = [c.capitalize() + "." for c in SET_A_CANDS]
    out = spider(cands, SET_A_REFS, java=str(fake_java))
    spice = (0.1 + 0.2 + 0.3 + 0.4) / 4
    assert out["spice_available"] is True
    assert out["spice"] == pytest.approx(spice)
    assert out["cider_d"] == pytest.approx(SET_A_CORPUS, abs=1e-4)
    assert out["spider"] == pytest.approx((SET_A_CORPUS + spice) / 2, abs=1e-4)
    assert json.loads(json.dumps(out)) == out  # plain floats and bools, ready for a report
