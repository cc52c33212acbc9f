"""Event F1, word boundary error, grounding IoU, tempo and pitch error on hand-computed cases."""

import math

import pytest

from qwenlike.errors import UserError
from qwenlike.metrics import (event_f1, event_scores, iou, mean_boundary_error_ms, mean_iou, parse_pitch,
                              parse_timed_items, pitch_error, strip_timestamps, tempo_accuracy, tempo_error)


def test_event_f1_collars():
    ref = [[("dog", 1.0, 3.0)]]  # 2 s long: offset collar max(0.2, 0.2 * 2) = 0.4 s
    assert event_f1([[("dog", 1.15, 3.35)]], ref) == 1.0  # onset 150 ms, offset 350 ms off
    assert event_f1([[("dog", 1.25, 3.0)]], ref) == 0.0  # onset 250 ms off
    assert event_f1([[("dog", 1.0, 3.45)]], ref) == 0.0  # offset 450 ms off
    assert event_f1([[("dog", 1.0, 3.45)]], ref, evaluate_offset=False) == 1.0
    assert event_f1([[("cat", 1.0, 3.0)]], ref) == 0.0  # label must match
    short = [[("knock", 1.0, 1.5)]]  # 0.5 s long: offset collar is the 200 ms floor
    assert event_f1([[("knock", 1.0, 1.69)]], short) == 1.0
    assert event_f1([[("knock", 1.0, 1.75)]], short) == 0.0


def test_event_f1_micro_over_files():
    preds = [[("dog", 0.0, 1.0), ("car", 5.0, 9.0)], [], [{"label": "rain", "onset": 0.0, "offset": 10.0}]]
    refs = [[("dog", 0.1, 1.1)], [("bird", 2.0, 2.5)], [{"event_label": "rain", "onset": 0.1, "offset": 9.0}]]
    s = event_scores(preds, refs)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 1, 1)
    assert s["f1"] == pytest.approx(2 * 2 / (3 + 3))


def test_event_f1_uses_optimal_matching():
    # E1 fits both references, E2 only R1: greedy R1<-E1 leaves R2 unmatched; optimal matches both
    preds = [[("dog", 0.15, 1.15), ("dog", 0.0, 1.0)]]
    refs = [[("dog", 0.0, 1.0), ("dog", 0.3, 1.3)]]
    assert event_f1(preds, refs) == 1.0
    # one estimate cannot match two references
    assert event_scores([[("dog", 0.15, 1.15)]], refs)["tp"] == 1


def test_parse_timed_items():
    assert parse_timed_items("0.12-0.48 hello, 0.60-1.02 world") == [("hello", 0.12, 0.48), ("world", 0.6, 1.02)]
    assert parse_timed_items("dog barking 1.2s to 3.4s; 5 \u2013 6.5 car horn") == [
        ("dog barking", 1.2, 3.4), ("car horn", 5.0, 6.5)]
    assert parse_timed_items("I could not hear any event") == []
    assert strip_timestamps("0.12-0.48 hello, 0.60-1.02 world") == "hello world"
    assert strip_timestamps("hello world") == "hello world"


def test_event_f1_on_answer_text():
    # the sound_event_detection answer format, labels compared case-insensitively
    preds = ["1.15-3.35 Dog, 5.00-6.00 car horn, 7.00-8.00 bird"]
    refs = ["1.00-3.00 dog, 5.30-6.00 car horn"]
    s = event_scores(preds, refs)
    assert (s["tp"], s["fp"], s["fn"]) == (1, 2, 1)  # car horn onset 300 ms off
    assert event_f1(["no events"], ["1.00-2.00 dog"]) == 0.0


def test_mean_boundary_error_ms():
    hyp = [[("Hello", 0.0, 0.5), ("world", 0.6, 1.0)]]
    ref = [[("hello", 0.1, 0.5), ("there", 0.5, 0.6), ("world", 0.7, 1.2)]]
    # hello: 100 + 0 ms ; world: 100 + 200 ms ; "there" was not recognised and does not count
    assert mean_boundary_error_ms(hyp, ref) == pytest.approx(100.0)
    dict_form = [[{"word": "hi", "start": 1.0, "end": 1.5}]]
    assert mean_boundary_error_ms(dict_form, [[("hi", 1.02, 1.46)]]) == pytest.approx(30.0)
    assert math.isnan(mean_boundary_error_ms([[("a", 0, 1)]], [[("b", 0, 1)]]))
    # the asr_timestamps answer text
    assert mean_boundary_error_ms(["0.00-0.50 Hello, 0.60-1.00 world"],
                                  ["0.10-0.50 hello, 0.50-0.60 there, 0.70-1.20 world"]) == pytest.approx(100.0)


def test_iou():
    assert iou((1.0, 3.0), (2.0, 4.0)) == pytest.approx(1 / 3)
    assert iou((2.0, 4.0), [(2.0, 4.0)]) == 1.0
    # two occurrences: the union of references is [0,1] + [2,3]
    assert iou((0.0, 3.0), [(0.0, 1.0), (2.0, 3.0)]) == pytest.approx(2 / 3)
    assert iou((0.0, 1.0), [(0.0, 1.0), (2.0, 3.0)]) == pytest.approx(1 / 2)
    assert iou((0.0, 1.0), [(0.0, 1.0), (0.5, 1.0)]) == 1.0  # overlapping references merge
    assert iou(None, (0.0, 1.0)) == 0.0
    assert iou((2.0, 1.0), (0.0, 3.0)) == 0.0  # end before start is no prediction
    assert mean_iou([(1.0, 3.0), None], [(2.0, 4.0), [(0.0, 1.0)]]) == pytest.approx(1 / 6)
    # the audio_grounding answer text, on either side; unparseable text scores 0
    assert iou("1.00-3.00", "2.00-4.00") == pytest.approx(1 / 3)
    assert iou("0.00-1.00, 2.00-3.00", [(0.0, 3.0)]) == pytest.approx(2 / 3)
    assert mean_iou(["2.00-4.00", "somewhere"], ["2.00-4.00", "0.00-1.00"]) == pytest.approx(0.5)


def test_tempo_error_and_accuracy():
    preds = ["about 120 bpm", "60", "I don't know", 100]
    refs = [100, "120 BPM", 90, 100]
    # 0.2, 0.5, unparseable -> 1.0, 0.0
    assert tempo_error(preds, refs) == pytest.approx((0.2 + 0.5 + 1.0 + 0.0) / 4)
    assert tempo_error(["1000"], [100]) == 1.0  # capped
    assert tempo_accuracy(["103", "60", "x"], [100, 120, 90]) == pytest.approx(1 / 3)
    assert tempo_accuracy(["103", "60", "x"], [100, 120, 90], allow_octave=True) == pytest.approx(2 / 3)
    # music_qa mixes questions: only references that are tempi ("96 BPM", 96) are scored
    mixed_preds = ["100 BPM", "G major", "3/4", "I think 90"]
    mixed_refs = ["96 BPM", "G major", "3/4", "90 bpm"]
    assert tempo_error(mixed_preds, mixed_refs) == pytest.approx((4 / 96 + 0) / 2)
    assert tempo_accuracy(mixed_preds, mixed_refs) == pytest.approx(0.5)  # 100 vs 96 is 4.2% off
    assert math.isnan(tempo_error(["C major"], ["G major"]))


def test_pitch_parsing_and_error():
    assert parse_pitch("C4") == 60 and parse_pitch("A4") == 69 and parse_pitch("C#4") == 61
    assert parse_pitch("Db4") == 61 and parse_pitch("b3") == 59 and parse_pitch("Bb3") == 58
    assert parse_pitch("F sharp 3") == 54 and parse_pitch("the note is E 5") == 76
    assert parse_pitch(64) == 64 and parse_pitch("64") == 64 and parse_pitch("loud") is None
    # 1 + 0 + 2 + unparseable (12) semitones
    assert pitch_error(["C#4", "A4", "D4", "no idea"], ["C4", 69, "C4", "C4"]) == pytest.approx(15 / 4)
    assert pitch_error(["C7"], ["C4"]) == 12.0  # capped at an octave
    assert pitch_error(["D4, velocity 80"], ["C4, velocity 100"]) == 2.0  # the note_analysis answer format
    with pytest.raises(UserError):
        pitch_error(["C4"], ["loud"])
