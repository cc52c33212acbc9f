"""Batched generation: the same greedy tokens as one conversation at a time, on both prefill paths."""

from __future__ import annotations

import pytest

from qwenlike import chat
from qwenlike import generate as G
from qwenlike.tiny import tiny_audiolm

from conftest import tone


@pytest.mark.parametrize("waste", [0.0, 1.0])  # 0: prefill row by row; 1: one padded prefill
def test_batch_equals_one_at_a_time(monkeypatch, waste):
    monkeypatch.setattr(G, "PER_ROW_PREFILL_WASTE", waste)
    model = tiny_audiolm(seed=5)
    convs = [chat.analysis([tone(0.4, 300)], "Hi?"), chat.analysis([tone(6.0, 700), tone(2.0, 200)], "Describe both clips in detail."),
             chat.voice_chat(tone(1.5, 500))]  # fmt: skip
    cfg = G.GenerationConfig(max_new_tokens=12)
    batched = G.generate(model, convs, cfg)
    single = [G.generate(model, [c], cfg)[0] for c in convs]
    assert [g.token_ids for g in batched] == [g.token_ids for g in single]
    assert all(len(g.token_ids) > 0 for g in batched)


def test_sampling_is_seeded():
    model = tiny_audiolm(seed=5)
    conv = [chat.analysis([tone(1.0)], "Hi?")]
    cfg = G.GenerationConfig(max_new_tokens=10, do_sample=True, temperature=1.0, top_p=0.9, seed=3)
    assert G.generate(model, conv, cfg)[0].token_ids == G.generate(model, conv, cfg)[0].token_ids
    other = G.generate(model, conv, G.GenerationConfig(max_new_tokens=10, do_sample=True, temperature=1.0, seed=4))[0]
    assert other.token_ids != G.generate(model, conv, cfg)[0].token_ids
