"""Majority vote and pass@k against reference computations."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter

import pytest

from ch12_reasoning.voting import majority_vote, pass_at_k


def test_majority_vote_matches_counter_most_common():
    rng = random.Random(0)
    for _ in range(300):
        answers = [rng.choice([None, 1, 2, 3, 4]) for _ in range(rng.randint(1, 9))]
        votes = [a for a in answers if a is not None]
        expected = (
            Counter(votes).most_common(1)[0][0] if votes else None
        )  # stable: first seen wins ties
        assert majority_vote(answers) == expected


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_pass_at_k_equals_exhaustive_enumeration(n):
    for c in range(n + 1):
        outcomes = [1] * c + [0] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(range(n), k))
            exact = sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)
            assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)
            assert pass_at_k(n, c, k) == pytest.approx(
                1 - math.comb(n - c, k) / math.comb(n, k), abs=1e-12
            )


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)


def test_adaptive_vote_stops_at_the_first_clear_lead():
    from ch12_reasoning.voting import adaptive_vote

    assert adaptive_vote([5, 5, 1, 2, 3], start=2, lead=2) == (5, 2)
    assert adaptive_vote([5, 1, 1, 2, 1, 3], start=2, lead=2) == (1, 5)
    assert adaptive_vote([5, 1, 2, 3], start=2, lead=2) == (5, 4)  # never clear: all, first wins
    rng = random.Random(1)
    for _ in range(300):
        answers = [rng.choice([None, 1, 2, 3]) for _ in range(rng.randint(1, 12))]
        lead = rng.randint(1, 3)
        got, used = adaptive_vote(answers, start=2, step=1, lead=lead)
        # reference: the first prefix length >= 2 with a clear lead, else all
        ref = len(answers)
        for k in range(min(2, len(answers)), len(answers) + 1):
            c = Counter(a for a in answers[:k] if a is not None).most_common(2)
            top = c[0][1] if c else 0
            second = c[1][1] if len(c) > 1 else 0
            if top - second >= lead:
                ref = k
                break
        assert used == ref
        assert got == majority_vote(answers[:used])
