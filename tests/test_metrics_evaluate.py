"""The registry, and every shipped `evaluate` module: loads offline and equals the plain function."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")

import pytest  # noqa: E402

from qwenlike.errors import UserError  # noqa: E402
from qwenlike.metrics import METRICS, canonical_name, get_metric, module_path, wer  # noqa: E402

# One small input per metric, in the form the evaluate module's schema takes.
CASES = {
    "wer": (["hello world", "the cat"], ["hello there world", "the cat sat"], {}),
    "cer": (["hello world", "the cat"], ["hello there world", "the cat sat"], {}),
    "bleu": (["the cat sat on the mat today", "a dog ran in the park"],
             [["the cat sat on the mat", "a cat sat on the mat today"], ["a dog ran in a park", "dogs run"]],
             {"tokenize": "13a"}),
    "chrf": (["the cat sat on the mat today"], ["the cat sat on the mat"], {"word_order": 2}),
    "cider_d": (["a dog barks", "rain falls", "a car passes"],
                [["a dog is barking", "dog barks"], ["rain is falling"], ["a car drives by", "cars pass"]], {}),
    "spider": (["a dog barks", "rain falls"], [["a dog is barking", "dog barks"], ["rain is falling"]],
               {"spice_jar": "/nonexistent.jar"}),
    "accuracy": (["Male.", "female", "adult"], [["male", "man"], ["male"], ["adult"]], {}),
    "intent_accuracy": (['{"intent": "set_alarm"}', '{"intent": "x"}'], ['{"intent": "set_alarm"}', '{"intent": "y"}'],
                        {}),
    "macro_f1": (["a", "b", "a"], ["a", "b", "b"], {}),
    "map": ([[0.9, 0.1, 0.3], [0.2, 0.8, 0.5], [0.6, 0.4, 0.1]], [["a"], ["b", "c"], ["b"]],
            {"labels": ["a", "b", "c"]}),
    "eer": ([0.9, 0.6, 0.5, 0.4, 0.2, 0.1], [1, 0, 1, 1, 0, 0], {}),
    "slot_f1": ([[{"type": "time", "value": "7 am"}]],
                [[{"type": "time", "value": "7 AM"}, {"type": "date", "value": "monday"}]], {}),
    "entity_f1": (['{"person": "alice"}'], ['{"person": "Alice", "place": "paris"}'], {}),
    "token_f1": (["the big cat", "blue"], [["a big black cat", "dog"], ["red"]], {}),
    "exact_match": (["The cat", "dog"], ["cat", "dogs"], {}),
    "event_f1": ([[{"label": "dog", "onset": 1.0, "offset": 2.0}]],
                 [[{"label": "dog", "onset": 1.1, "offset": 2.1}, {"label": "cat", "onset": 3.0, "offset": 4.0}]],
                 {}),
    "boundary_error_ms": ([[{"word": "hi", "start": 0.0, "end": 0.5}]],
                          [[{"word": "hi", "start": 0.1, "end": 0.4}]], {}),
    "iou": ([[1.0, 3.0], [0.0, 2.0]], [[[2.0, 4.0]], [[0.0, 1.0], [1.5, 3.0]]], {}),
    "tempo_error": (["about 120 bpm", "x"], ["100", "90"], {}),
    "tempo_accuracy": (["about 120 bpm", "60"], [120.0, 120.0], {"allow_octave": True}),
    "pitch_error": (["C#4", "A4"], [60, 69], {}),
}


def test_every_metric_has_a_case_and_a_module():
    assert set(CASES) == set(METRICS)
    for name in METRICS:
        assert os.path.isfile(os.path.join(module_path(name), f"{name}.py"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_evaluate_module_equals_plain_function(name):
    evaluate = pytest.importorskip("evaluate")
    predictions, references, kwargs = CASES[name]
    module = evaluate.load(module_path(name))
    got = module.compute(predictions=predictions, references=references, **kwargs)
    expected = METRICS[name](predictions, references, **kwargs)
    if isinstance(expected, dict):
        assert got == pytest.approx(expected)
    else:
        assert set(got) == {name}
        assert got[name] == pytest.approx(expected, abs=1e-12)
        assert 0 < expected  # the case is not a trivial zero that any module would match


# The same metrics fed the tasks' answer text instead of structures.
TEXT_CASES = {
    "event_f1": (["1.15-3.35 dog, 5.00-6.00 car horn"], ["1.00-3.00 dog, 5.30-6.00 car horn"]),
    "boundary_error_ms": (["0.00-0.50 hello, 0.60-1.00 world"], ["0.10-0.50 hello, 0.70-1.20 world"]),
    "iou": (["1.00-3.00", "0.00-2.00"], ["2.00-4.00", "0.00-1.00, 1.50-3.00"]),
    "slot_f1": (['{"intent": "a", "slots": {"time": "7 am"}}'], ['{"intent": "a", "slots": {"time": "7 am", "d": "x"}}']),
}


@pytest.mark.parametrize("name", sorted(TEXT_CASES))
def test_evaluate_module_takes_answer_text(name):
    evaluate = pytest.importorskip("evaluate")
    predictions, references = TEXT_CASES[name]
    got = evaluate.load(module_path(name)).compute(predictions=predictions, references=references)
    expected = METRICS[name](predictions, references)
    assert 0 < expected and got[name] == pytest.approx(expected, abs=1e-12)


def test_evaluate_modules_take_single_references_as_strings():
    evaluate = pytest.importorskip("evaluate")
    scores, labels = [[0.9, 0.1, 0.3], [0.2, 0.8, 0.5], [0.6, 0.4, 0.1]], ["a", "b", "c"]
    got = evaluate.load(module_path("map")).compute(predictions=scores, references=["a", "c", "b"], labels=labels)
    assert got["map"] == pytest.approx(METRICS["map"](scores, ["a", "c", "b"], labels=labels))
    assert got["map"] != pytest.approx(METRICS["map"](scores, [["a"], ["c"], ["c"]], labels=labels))
    # a one-string reference must not be read as a list of characters
    got = evaluate.load(module_path("accuracy")).compute(predictions=["ab", "d"], references=["ab", "dc"])
    assert got["accuracy"] == 0.5


def test_evaluate_module_accumulates_batches():
    evaluate = pytest.importorskip("evaluate")
    module = evaluate.load(module_path("wer"))
    module.add_batch(predictions=["hello world"], references=["hello there world"])
    module.add(prediction="the cat", reference="the cat sat")
    assert module.compute()["wer"] == pytest.approx(wer(["hello world", "the cat"], ["hello there world", "the cat sat"]))


@pytest.mark.parametrize("spelling, name", [
    ("WER", "wer"), ("CIDEr-D", "cider_d"), ("SPIDEr", "spider"), ("mAP", "map"), ("slot F1", "slot_f1"),
    ("entity F1", "entity_f1"), ("token F1", "token_f1"), ("event F1", "event_f1"), ("IoU", "iou"),
    ("EER", "eer"), ("pitch error", "pitch_error"), ("tempo error", "tempo_error"), ("chrF", "chrf"),
    ("mean boundary error (ms)", "boundary_error_ms"), ("intent accuracy", "intent_accuracy"),
])
def test_registry_accepts_the_names_in_tasks_md(spelling, name):
    assert canonical_name(spelling) == name
    assert get_metric(spelling) is METRICS[name]


def test_registry_rejects_unknown_names():
    with pytest.raises(UserError, match="unknown metric"):
        get_metric("rouge")
