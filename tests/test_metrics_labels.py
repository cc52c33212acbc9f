"""Accuracy, macro-F1, mAP (against scikit-learn), EER and slot/entity F1 on hand-computed cases."""

import random
import warnings

import pytest

from qwenlike.errors import UserError
from qwenlike.metrics import (accuracy, eer, entity_f1, intent_accuracy, macro_f1, mean_average_precision, slot_f1,
                              slot_scores)


def test_accuracy_normalises_and_accepts_alternatives():
    assert accuracy(["Male.", " female", "child"], ["male", "Female", "adult"]) == pytest.approx(2 / 3)
    assert accuracy(["Male."], ["male"], normalize=False) == 0.0
    assert accuracy(["car horn"], [["horn", "car horn"]]) == 1.0
    assert accuracy([3, "4"], ["3", 4]) == 1.0  # counts compared as text
    with pytest.raises(UserError):
        accuracy(["a"], [])


def test_macro_f1_by_hand():
    # class a: tp=1, pred=2, ref=1 -> 2/3 ; class b: tp=1, pred=1, ref=2 -> 2/3
    assert macro_f1(["a", "a", "b"], ["a", "b", "b"]) == pytest.approx(2 / 3)
    # an invented label "x" is its own zero-F1 class unless labels= closes the set
    assert macro_f1(["a", "x"], ["a", "b"]) == pytest.approx((1 + 0 + 0) / 3)
    assert macro_f1(["a", "x"], ["a", "b"], labels=["a", "b"]) == pytest.approx((1 + 0) / 2)


def test_macro_f1_equals_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(0)
    labels = ["dog", "cat", "bird", "rain"]
    refs = [rng.choice(labels) for _ in range(60)]
    preds = [r if rng.random() < 0.6 else rng.choice(labels + ["noise"]) for r in refs]
    assert macro_f1(preds, refs) == pytest.approx(sklearn_metrics.f1_score(refs, preds, average="macro"))


def test_map_by_hand():
    # class a: positives at ranks 1 and 3 -> AP = (1 + 2/3) / 2 ; class b: positive at rank 1 -> 1
    scores = [{"a": 0.9, "b": 0.1}, {"a": 0.8, "b": 0.7}, {"a": 0.3, "b": 0.2}]
    refs = ["a", "b", "a"]
    assert mean_average_precision(scores, refs) == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)


def test_map_equals_sklearn_macro_average_precision():
    np = pytest.importorskip("numpy")
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.RandomState(0)
    labels = ["c0", "c1", "c2", "c3", "c4"]
    y = (rng.rand(40, 5) < 0.3).astype(int)
    y[:, 4] = 0  # a class with no positive item (sklearn: AP 0, with a warning)
    s = np.round(rng.rand(40, 5), 1)  # rounding makes ties, which sklearn scores as one threshold
    refs = [[labels[j] for j in range(5) if y[i, j]] for i in range(40)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = sklearn_metrics.average_precision_score(y, s, average="macro")
    assert mean_average_precision(s.tolist(), refs, labels=labels) == pytest.approx(expected, abs=1e-12)
    as_dicts = [dict(zip(labels, row)) for row in s.tolist()]
    assert mean_average_precision(as_dicts, refs, labels=labels) == pytest.approx(expected, abs=1e-12)


def test_map_needs_labels_for_list_scores():
    with pytest.raises(UserError):
        mean_average_precision([[0.1, 0.9]], ["a"])


def test_eer_by_hand():
    # perfectly separated
    assert eer([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == 0.0
    # at threshold 0.8: one of two non-targets accepted, one of two targets rejected
    assert eer([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0]) == pytest.approx(0.5)
    # at threshold 0.5: FAR = FRR = 1/3
    assert eer([0.9, 0.6, 0.5, 0.4, 0.2, 0.1], [1, 0, 1, 1, 0, 0]) == pytest.approx(1 / 3)
    # FRR drops from 1 to 0 while FAR stays 1/2: the curves cross at 0.5 (interpolated)
    assert eer([0.9, 0.8, 0.7], [0, 1, 0]) == pytest.approx(0.5)
    # a tie between a target and a non-target is one threshold
    assert eer([0.5, 0.5], [1, 0]) == pytest.approx(0.5)
    # inverted scores: EER 1
    assert eer([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 1.0
    with pytest.raises(UserError):
        eer([0.3, 0.4], [1, 1])


def test_slot_f1_by_hand():
    preds = [
        {"intent": "set_alarm", "slots": {"time": "7 AM", "date": "monday"}},  # time right, date wrong
        [("place_name", "Paris"), ("person", "alice")],  # both right
        "not json at all",  # unparseable answer: no slots predicted
    ]
    refs = [
        [{"type": "time", "filler": "7 am"}, {"type": "date", "filler": "tuesday"}],
        {"person": "Alice", "place_name": "paris"},
        [{"type": "time", "value": "noon"}],
    ]
    s = slot_scores(preds, refs)
    assert (s["tp"], s["n_pred"], s["n_ref"]) == (3, 4, 5)
    assert s["precision"] == pytest.approx(3 / 4) and s["recall"] == pytest.approx(3 / 5)
    assert slot_f1(preds, refs) == pytest.approx(2 * 3 / (4 + 5))


def test_slot_f1_counts_duplicates_once_each():
    # reference has "red" twice; the prediction says it three times: 2 true positives, 1 false
    pred = [[("color", "red"), ("color", "red"), ("color", "red")]]
    ref = [[("color", "red"), ("color", "red")]]
    assert slot_f1(pred, ref) == pytest.approx(2 * 2 / (3 + 2))


def test_entity_f1_from_json_strings():
    preds = ['{"person": ["Ada Lovelace"], "date": "1843"}', '{"place": "London"}']
    refs = ['{"person": "ada lovelace", "date": "1843", "place": "london"}', '{}']
    # tp=2 (person, date), predicted 3, reference 3
    assert entity_f1(preds, refs) == pytest.approx(2 * 2 / 6)
    assert entity_f1(["{}"], ["{}"]) == 1.0  # nothing to find, nothing invented


def test_intent_accuracy_reads_the_json_intent():
    refs = ['{"intent": "set_alarm", "slots": {"time": "7 am"}}', '{"intent": "play_music", "slots": {}}',
            '{"intent": "weather_query", "slots": {}}']
    preds = ['{"intent": "Set_Alarm", "slots": {"time": "8 am"}}',  # intent right, slot wrong
             '{"intent": "play_radio", "slots": {}}',
             '{"intent": "weather_query", "slots": {']  # truncated JSON: no intent read
    assert intent_accuracy(preds, refs) == pytest.approx(1 / 3)
    assert intent_accuracy(["set_alarm"], ["set_alarm"]) == 1.0  # plain labels
    with pytest.raises(UserError):
        intent_accuracy(["x"], ['{"slots": {}}'])
