"""RWKV forms, scaling contract, training effects, hybrid stacks, search and the demo."""

from __future__ import annotations

import pytest
import torch

from llmpath_core.bench import run_json


def test_rwkv_recurrent_equals_parallel_and_state_is_constant():
    from ch15_architectures.labs import rwkv_lab
    from ch15_architectures.rwkv import RwkvConfig, RwkvLM

    result = rwkv_lab(length=40, generate=20)
    assert result["recurrent_vs_parallel"] <= 1e-5
    assert result["generated_tokens"] == 20
    model = RwkvLM(RwkvConfig(vocab_size=50, hidden_size=16)).eval()
    state = model.init_state(1)
    ids = torch.randint(0, 50, (1, 30))
    with torch.no_grad():
        for t in range(30):
            _, new = model.step(ids[:, t], state)
            assert [x.shape for layer in new for x in layer[0]] == [
                x.shape for layer in state for x in layer[0]
            ]
            state = new


def test_scaling_contract_and_fit():
    from ch15_architectures.cli import app
    from ch15_architectures.scaling import crossover, fit_exponent

    assert abs(fit_exponent([1, 2, 4, 8], [3, 12, 48, 192]) - 2.0) < 1e-9
    assert crossover([10, 20, 40], [4, 4, 4], [1, 4, 16]) == pytest.approx(20.0)
    assert crossover([10, 20], [5, 5], [1, 1]) is None
    result, _ = run_json(app, ["scaling", "--lengths", "32,64,128", "--repeats", "1"])
    assert result["lengths"] == [32, 64, 128]
    assert len(result["mamba_s"]) == len(result["attention_s"]) == 3
    assert all(s > 0 for s in result["mamba_s"] + result["attention_s"])


@pytest.mark.parametrize("layers", [["moe", "ssm"], ["conv", "attn"]])
def test_stacks_learn_the_stories(layers):
    from ch15_architectures.stack import StackConfig, StackLM
    from ch15_architectures.train import story_tokens, train_lm

    torch.manual_seed(0)
    model = StackLM(StackConfig(hidden_size=32, layers=layers, mlp_hidden=64))
    result = train_lm(model, story_tokens(), steps=25, batch=4, seq_len=32, lr=1e-2)
    assert result.losses[0] > 7.5  # ~ln 4096 at random init
    assert result.final_loss < result.losses[0] - 1.5


def test_search_respects_budget_and_ranks():
    from ch15_architectures.search import search

    result = search(
        strategy="evolution",
        candidates=3,
        budget_flops=1.0e6,
        steps=3,
        batch=2,
        seq_len=16,
        hidden=32,
        eval_chars=3_000,
    )
    assert len(result["results"]) == 3
    assert all(r["flops_per_token"] <= 1.0e6 for r in result["results"])
    losses = [r["loss"] for r in result["results"]]
    assert losses == sorted(losses) and result["best_loss"] == losses[0]


def test_passkey_task_is_well_formed():
    from ch15_architectures.passkey import KEY, QUERY, passkey_batch

    x, answer = passkey_batch(5, 20, torch.Generator().manual_seed(0))
    assert (x[:, -1] == QUERY).all()
    for row, ans in zip(x, answer, strict=True):
        pos = int((row == KEY).nonzero()[0])
        assert row[pos + 1 : pos + 4].tolist() == ans.tolist()


def test_demo_contract():
    from ch15_architectures.demo import run_demo

    result = run_demo(steps=1, lengths=[32, 64], batch=2, eval_chars=3_000, log=lambda _: None)
    assert isinstance(result["showed"], str) and isinstance(result["headline"], str)
    assert len(result["models"]) == 3
