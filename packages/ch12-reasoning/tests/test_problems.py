"""The oracles: exact solvers against brute force, rationales, safe parsing, bad input."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ch12_reasoning import problems as P
from llmpath_core.errors import UserError


def _python_value(question: str) -> int:
    # the reference: Python's own integer arithmetic and precedence on a digits-and-operators string
    return eval(question, {"__builtins__": {}}, {})


@given(st.integers(1, 4), st.integers(0, 10_000))
@settings(max_examples=200, deadline=None)
def test_arithmetic_solver_and_rationale_are_exact(difficulty, seed):
    prob = P.make_arithmetic(difficulty, random.Random(seed))
    assert prob.answer == _python_value(prob.question)
    steps = P.arithmetic_steps(prob.question)
    assert len(steps) == difficulty
    for step in steps:  # every step is a true equation
        lhs, rhs = step.split("=")
        assert _python_value(lhs) == int(rhs)
    rationale = P.arithmetic_rationale(prob.question)
    assert P.parse_answer(rationale) == prob.answer
    assert P.step_labels(prob.question, rationale) == [1] * difficulty


def test_step_labels_turn_zero_at_the_first_wrong_step_and_stay_zero():
    assert P.step_labels("7+5*3-4", "5*3=15;7+15=23;23-4=19;#19") == [1, 0, 0]
    assert P.step_labels("7+5*3-4", "7+5=12;12*3=36;36-4=32;#32") == [0, 0, 0]


@given(st.lists(st.integers(1, 13), min_size=4, max_size=4))
@settings(max_examples=15, deadline=None)
def test_game24_solver_agrees_with_brute_force(numbers):
    expr = P.solve24(numbers)
    assert (expr is not None) == P.brute_force24(numbers)
    if expr is not None:
        assert P.check24(numbers, expr)


def test_game24_known_cases():
    assert P.solvable([4, 7, 8, 8])
    assert not P.solvable([1, 1, 1, 1])
    assert P.check24([3, 3, 8, 8], P.solve24([3, 3, 8, 8]))  # needs a fraction: 8/(3-8/3)
    assert not P.integer_paths([3, 3, 8, 8])
    assert not P.check24([4, 7, 8, 8], "4*7-8+8")  # 28: wrong value
    assert not P.check24([4, 7, 8, 8], "(7-4)*8")  # 24 but not every number used
    assert not P.check24([4, 7, 8, 8], "__import__('os')")  # never evaluated


def test_integer_paths_are_valid_rationales():
    for numbers in [(4, 7, 8, 8), (1, 2, 3, 4), (3, 4, 5, 6)]:
        paths = P.integer_paths(numbers, limit=20)
        assert paths
        for path in paths:
            text = P.g24_rationale(numbers, path)
            assert text.endswith("#24")
            assert len(path) == 3


def test_split_is_deterministic_and_disjoint():
    train, test = P.g24_split()
    assert len(test) == 100
    assert not set(train) & set(test)
    assert (train, test) == P.g24_split()


@pytest.mark.parametrize("text", ["1 2 3", "1 2 3 4 5", "a b c d", "0 1 2 3", ""])
def test_parse_numbers_rejects_bad_input(text):
    with pytest.raises(UserError):
        P.parse_numbers(text)


def test_load_problems(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(
        json.dumps({"question": "7+5*3-4"})
        + "\n"
        + json.dumps({"question": "2*3", "answer": 6})
        + "\n"
    )
    probs = P.load_problems(good)
    assert [p.answer for p in probs] == [18, 6]
    for bad in [
        "not json",
        '{"q": 1}',
        '{"question": "2^3"}',
        '{"question": "2+3", "answer": 6}',
        "",
    ]:
        path = tmp_path / "bad.jsonl"
        path.write_text(bad + "\n")
        with pytest.raises(UserError):
            P.load_problems(path)
