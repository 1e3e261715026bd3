"""Search and selection on the bundled policy: reductions to CoT, checked solutions, PRM effects."""

from __future__ import annotations

import pytest

from ch12_reasoning import problems as P
from ch12_reasoning.game24 import Game24Solver, apply_step, root, run_game24
from ch12_reasoning.solve import METHODS, solve_arithmetic, train_reward_models


@pytest.fixture(scope="module")
def small_rewards(policy):
    model, tok = policy
    return train_reward_models(model, tok, n_problems=40, samples=2, epochs=60)


def test_greedy_n1_every_arithmetic_method_is_plain_cot(policy, small_rewards):
    model, tok = policy
    probs = P.heldout_arithmetic(24)
    cot = solve_arithmetic(model, tok, probs, "cot")
    for method in METHODS[1:]:
        got = solve_arithmetic(model, tok, probs, method, 1, temperature=0.0, rewards=small_rewards)
        assert got["chains"] == cot["chains"], method
        assert got["accuracy"] == cot["accuracy"], method
        if method != "self-critique":  # a greedy rewrite regenerates the cut steps' tokens
            assert got["tokens"] == cot["tokens"], method


def test_greedy_tot_with_one_proposal_and_breadth_one_is_plain_cot(policy):
    model, tok = policy
    solver = Game24Solver(model, tok, value=None, temperature=0.0)
    compared = 0
    # training puzzles: the greedy chain's arithmetic is right more often there
    for numbers in [list(p) for p in P.g24_split()[0][:16]]:
        chain = solver.cot(numbers, 1).trace[0]
        state = root(numbers)
        for step in (s + ";" for s in chain.split("#", 1)[0].split(";") if s):
            state = apply_step(state, step) if state is not None else None
        if state is None or state.text != chain.split("#", 1)[0]:
            continue  # the model's own arithmetic slipped; ToT's environment would correct it
        tot = solver.tot(numbers, budget=10, proposals=1, breadth=1)
        assert tot.trace == [state.text]
        assert tot.model_calls == 3 and solver.cot(numbers, 1).model_calls == 1
        compared += 1
    assert compared >= 3


def test_every_reported_game24_solution_checks(policy):
    from ch12_reasoning.game24 import train_value_model

    model, tok = policy
    value, _ = train_value_model(model, tok, n_puzzles=80, epochs=100)
    solver = Game24Solver(model, tok, value)
    puzzles = [list(p) for p in P.g24_split()[1][:8]]
    solved = 0
    for method, budget in [("cot", 4), ("tot", 40)]:
        result = run_game24(solver, puzzles, method, budget)
        assert result["model_calls"] <= budget * len(puzzles)
        for row in result["results"]:
            if row["solution"] is not None:
                assert P.check24(row["numbers"], row["solution"]), row
        solved += result["solved"]
    assert solved >= 1  # so that the check above is not vacuous


def test_prm_loss_falls_and_beats_random_selection(policy, small_rewards):
    from ch12_reasoning.labs import budget_curves

    model, tok = policy
    losses = small_rewards.prm.losses
    assert losses[-1] < 0.8 * losses[0]
    curves = budget_curves(model, tok, P.heldout_arithmetic(60), small_rewards, ns=(4,), seed=0)
    assert curves["prm-best-of-n"][0]["accuracy"] > curves["random-best-of-n"][0]["accuracy"]
    assert curves["oracle-best-of-n"][0]["accuracy"] >= curves["prm-best-of-n"][0]["accuracy"]


def test_first_faulty_step():
    from ch12_reasoning.reflect import first_faulty_step

    assert first_faulty_step([0.9, 0.8, 0.3, 0.1], 0.5) == 2
    assert first_faulty_step([0.9, 0.8], 0.5) is None
    assert first_faulty_step([], 0.5) is None


def test_self_critique_keeps_only_rewrites_the_judge_prefers(policy, small_rewards):
    from ch12_reasoning.prm import chain_score, hidden_at
    from ch12_reasoning.reflect import critique_and_rewrite

    model, tok = policy
    probs = P.heldout_arithmetic(40)
    prompts = [p.prompt for p in probs]
    cot = solve_arithmetic(model, tok, probs, "cot")
    res = critique_and_rewrite(model, tok, probs, small_rewards, 2, temperature=1.0, seed=0)
    before = [
        chain_score(small_rewards.prm, s, x)
        for s, x in hidden_at(model, tok, prompts, cot["chains"])
    ]
    after = [
        chain_score(small_rewards.prm, s, x)
        for s, x in hidden_at(model, tok, prompts, res["chains"])
    ]
    assert all(a >= b - 1e-6 for a, b in zip(after, before, strict=True))
    changed = sum(a != b for a, b in zip(res["chains"], cot["chains"], strict=True))
    assert changed >= 1 and sum(after) > sum(before)  # it did rewrite, and to higher scores
    assert res["per_round"][0]["accuracy"] == cot["accuracy"]
    # rewrites cost generated tokens
    assert res["tokens"] > cot["tokens"] and res["per_round"][-1]["rewritten"] >= 1


def test_self_consistency_default_temperature_is_the_validated_one():
    import json
    from pathlib import Path

    from ch12_reasoning.solve import SC_TEMPERATURE, default_temperature

    results = Path(__file__).parents[1] / "benchmarks" / "results" / "sc_temperature.json"
    picked = json.loads(results.read_text())["picked_temperature"]
    assert picked == SC_TEMPERATURE
    assert default_temperature("self-consistency") == picked
    assert default_temperature("prm-best-of-n") == 1.0
