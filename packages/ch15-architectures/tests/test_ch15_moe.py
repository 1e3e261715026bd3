"""MoE: capacity and dropping, z-loss, bad top-k, and balancing that actually balances."""

from __future__ import annotations

import pytest
import torch

from ch15_architectures.moe import (
    SparseMoE,
    expert_capacity,
    load_balancing_loss,
    route,
    router_z_loss,
)
from llmpath_core import UserError
from llmpath_core.bench import run_json


def test_capacity_drops_overflow_in_priority_order():
    logits = torch.zeros(8, 4)
    logits[:, 0] = 5.0  # every token's first choice is expert 0
    r = route(logits, top_k=1, capacity_factor=1.0)
    cap = expert_capacity(8, 4, 1, 1.0)
    assert cap == 2
    assert r.kept[:, 0].tolist() == [True, True] + [False] * 6  # first tokens win
    assert float((r.weights[~r.kept]).abs().sum()) == 0.0
    # no capacity: nothing dropped; top-k weights renormalised to 1
    free = route(torch.randn(8, 4), top_k=2)
    assert free.kept.all()
    assert torch.allclose(free.weights.sum(-1), torch.ones(8))


def test_dropped_tokens_get_zero_expert_output():
    torch.manual_seed(0)
    layer = SparseMoE(16, 32, experts=4, top_k=1, capacity_factor=0.25, normalize=False)
    x = torch.randn(1, 32, 16)
    with torch.no_grad():
        y = layer(x)
    dropped = ~layer.last.kept[:, 0]
    assert dropped.any() and layer.dropped_fraction() > 0.5
    assert float(y[0][dropped].abs().max()) == 0.0
    assert float(y[0][~dropped].abs().max()) > 0.0


def test_z_loss_formula():
    logits = torch.tensor([[0.0, 0.0], [1.0, 3.0]])
    expected = (torch.log(torch.tensor(2.0)) ** 2 + torch.logsumexp(logits[1], 0) ** 2) / 2
    assert abs(float(router_z_loss(logits)) - float(expected)) < 1e-6


def test_top_k_larger_than_experts_is_a_user_error():
    with pytest.raises(UserError, match="top-k 5 is impossible with 4 experts"):
        SparseMoE(8, 8, experts=4, top_k=5)
    from ch15_architectures.cli import app
    from llmpath_core.cli import run_app

    with pytest.raises(SystemExit) as exit_info:
        run_app(app, ["moe", "--experts", "4", "--top-k", "5", "--json"])
    assert exit_info.value.code == 2


def test_balancing_loss_balances_a_router():
    """Gradient steps on the auxiliary loss alone move a collapsed router towards uniform load."""
    torch.manual_seed(0)
    layer = SparseMoE(16, 8, experts=4, top_k=1, normalize=False)
    with torch.no_grad():
        layer.gate.weight[0] += 0.3  # start skewed towards expert 0
    x = torch.randn(256, 16)
    x += 0.5
    opt = torch.optim.SGD(layer.gate.parameters(), lr=0.1)
    before = None
    for _ in range(60):
        layer(x)
        load = layer.expert_load()
        before = load.max().item() if before is None else before
        loss = load_balancing_loss(layer.last.logits, 4, 1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    layer(x)
    after = layer.expert_load().max().item()
    assert before > 0.9 and after < 0.35


def test_moe_command_small(tmp_path):
    from ch15_architectures.cli import app

    result, _ = run_json(
        app,
        [
            "moe",
            "--steps",
            "6",
            "--balance-steps",
            "4",
            "--eval-chars",
            "5000",
            "--experts",
            "8",
            "--expert-hidden",
            "64",
            "--z-coef",
            "0.001",
            "--out",
            str(tmp_path),
        ],
    )
    dense, moe = result["dense_active_params"], result["moe_active_params"]
    assert 0 < moe - dense < 0.02 * dense  # matched: only the routers' weights differ
    assert result["moe_total_params"] - moe > 3 * 2 * 3 * 64 * 64 * 2  # 6 idle experts/layer
    assert (result["expert_hidden"], result["z_coef"]) == (64, 0.001)
    assert result["moe_total_params"] > result["dense_active_params"]
    assert (tmp_path / "expert_load.png").stat().st_size > 1000
    assert {r["aux_coef"] for r in result["balance"]["runs"]} == {0.0, 0.05}


def test_experts_start_at_the_dense_mlp_scale():
    """Experts are initialised like the dense SwiGLU's nn.Linear layers (a fair comparison)."""
    from ch15_architectures.layers import SwiGLU
    from ch15_architectures.moe import Experts

    torch.manual_seed(0)
    experts, dense = Experts(8, 64, 64), SwiGLU(64, 128)
    assert abs(experts.gate_up_proj.std() / dense.gate_proj.weight.std() - 1) < 0.05
    # down_proj: fan-in 64 for an expert, 128 for the dense MLP -> sqrt(2) larger per weight
    ratio = experts.down_proj.std() / dense.down_proj.weight.std()
    assert abs(ratio - 2**0.5) < 0.07


def test_summary_pairs_seeds():
    from ch15_architectures.labs import summarize_moe_vs_dense

    def run(seed, loss, diff=None):
        row = {"seed": seed, "loss": loss, "active_params": 1, "total_params": 2}
        row |= {"tokens_per_s": 1.0, "train_flops": 1.0}
        if diff is not None:
            row |= {"paired_diff": diff, "paired_diff_stderr": 0.01}
        return row

    runs = {
        "dense": [run(0, 2.0), run(1, 2.2), run(2, 2.1)],
        "moe": [run(0, 1.9, -0.1), run(1, 2.0, -0.2), run(2, 2.1, 0.0)],
    }
    out = summarize_moe_vs_dense(runs, {"steps": 1})
    assert out["moe_minus_dense"] == pytest.approx(-0.1)
    assert out["moe_minus_dense_stderr"] == pytest.approx(0.1 / 3**0.5)  # stdev 0.1 over 3
    assert out["seeds"] == [0, 1, 2] and out["steps"] == 1
