"""Curriculum lab: problem levels, batched accuracy equal to greedy decoding, both curves."""

from __future__ import annotations

import random

import torch

from ch07_pretraining.curriculum import (
    PAD,
    STOI,
    VOCAB,
    CurriculumConfig,
    accuracy,
    compare_orders,
    held_out_problems,
    make_problem,
    train_order,
)


def _greedy_accuracy(model, problems):
    correct = 0
    with torch.no_grad():
        for problem in problems:
            prompt, answer = problem.split("=")
            ids = torch.tensor([[STOI[c] for c in prompt + "="]])
            for _ in range(len(answer)):
                nxt = model(input_ids=ids).logits[0, -1, :PAD].argmax()
                ids = torch.cat([ids, nxt.view(1, 1)], dim=1)
            correct += "".join(VOCAB[i] for i in ids[0, len(prompt) + 1 :].tolist()) == answer
    return correct / len(problems)


def test_problems_have_the_asked_difficulty():
    rng = random.Random(0)
    for digits in (1, 2, 3):
        for _ in range(50):
            problem = make_problem(rng, digits)
            a, b = problem.split("=")[0].split("+")
            assert max(len(a), len(b)) == digits
            assert int(problem.split("=")[1]) == int(a) + int(b)


def test_batched_accuracy_equals_greedy_decoding():
    # a briefly trained model gets some answers right and some wrong: both counts must agree
    config = CurriculumConfig(max_digits=2, steps=120, batch_size=32, depth=1, eval_every=120)
    model, _ = train_order(config, curriculum=False)
    problems = held_out_problems(config)[:60]
    batched = accuracy(model, problems)
    assert batched == _greedy_accuracy(model, problems)
    assert 0.0 < batched < 1.0


def test_compare_orders_gives_two_curves():
    config = CurriculumConfig(max_digits=2, steps=6, batch_size=8, depth=1, eval_every=3, n_eval=20)
    result = compare_orders(config)
    for name in ("curriculum", "random"):
        assert [p["step"] for p in result[name]] == [3, 6]
        assert all(0.0 <= p["accuracy"] <= 1.0 for p in result[name])
