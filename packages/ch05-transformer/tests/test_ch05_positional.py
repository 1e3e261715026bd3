"""Positional encodings: the formulas, and the extrapolation result of the ALiBi paper, small."""

from __future__ import annotations

import math

import torch

from ch05_transformer.positional import alibi_bias, alibi_slopes, sinusoidal_table


def test_sinusoidal_table_matches_the_formula():
    table = sinusoidal_table(50, 16)
    p, i = 37, 3
    assert math.isclose(table[p, 2 * i], math.sin(p / 10000 ** (2 * i / 16)), abs_tol=1e-5)
    assert math.isclose(table[p, 2 * i + 1], math.cos(p / 10000 ** (2 * i / 16)), abs_tol=1e-5)


def test_alibi_slopes_and_bias_follow_the_paper():
    assert torch.allclose(alibi_slopes(8), torch.tensor([2.0**-k for k in range(1, 9)]))
    bias = alibi_bias(8, 5)
    assert bias[0, 4, 1].item() == -0.5 * 3  # head 0, query 4, key 1: slope 1/2, distance 3
    assert bias[:, 2, 2].abs().sum() == 0  # no penalty for the token itself


def test_alibi_extrapolates_where_learned_positions_do_not(record_property):
    from ch05_transformer.positional import positional_study

    rows = positional_study(
        context=16, steps=60, encodings=("learned", "alibi"), train_chars=60_000
    )
    by = {r["encoding"]: r for r in rows}
    # learned positions past the training length were never trained: the loss climbs
    # (measured on llmpath-core 0.3's stories: 4.784 -> 4.955; ALiBi 4.221 -> 4.220)
    learned_climb = by["learned"]["loss@4x"] - by["learned"]["loss@1x"]
    alibi_climb = by["alibi"]["loss@4x"] - by["alibi"]["loss@1x"]
    record_property("learned_climb_nats", learned_climb)
    record_property("alibi_climb_nats", alibi_climb)
    assert learned_climb > 0.1 and learned_climb > alibi_climb + 0.1
    # ALiBi stays within 0.15 nats of its training-length loss at 4x
    assert alibi_climb < 0.15
