"""Per-sample gradients against opacus' GradSampleModule; clipping, noise and the privacy effect."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ch21_security.dpsgd import (
    DPConfig,
    clip_and_noise,
    make_mlp,
    make_task,
    per_sample_gradients,
    train_dpsgd,
)
from ch21_security.membership import loss_threshold_attack


def _opacus_grads(model, loss_fn, x, y):
    from opacus import GradSampleModule

    gsm = GradSampleModule(model, loss_reduction="sum")
    gsm.zero_grad()
    loss_fn(gsm(x), y).backward()
    out = {n: p.grad_sample.clone() for n, p in model.named_parameters()}
    gsm._close()
    return out


def test_per_sample_grads_equal_opacus_mlp():
    torch.manual_seed(0)
    model = make_mlp(12, 16, 3)
    x, y = torch.randn(9, 12), torch.randint(0, 3, (9,))
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    ours = per_sample_gradients(model, loss_fn, x, y)
    theirs = _opacus_grads(model, loss_fn, x, y)
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], rtol=1e-5, atol=1e-6)
    # and each row is that example's own gradient
    model.zero_grad()
    loss_fn(model(x[3:4]), y[3:4]).backward()
    torch.testing.assert_close(ours["0.weight"][3], model[0].weight.grad, rtol=1e-5, atol=1e-6)


def test_per_sample_grads_equal_opacus_sequence():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4))
    x, y = torch.randn(5, 7, 6), torch.randint(0, 4, (5, 7))

    def loss_fn(out, target):
        return nn.functional.cross_entropy(out.reshape(-1, 4), target.reshape(-1), reduction="sum")

    ours = per_sample_gradients(model, loss_fn, x, y)
    theirs = _opacus_grads(model, loss_fn, x, y)
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], rtol=1e-5, atol=1e-5)


def test_clipping_bounds_each_example():
    g = [torch.randn(10, 4, 3) * 5, torch.randn(10, 4) * 5]
    out, norms = clip_and_noise(g, max_grad_norm=1.0, noise_multiplier=0.0, expected_batch_size=1.0)
    assert (norms > 1.0).all()
    # with no noise the sum of 10 clipped gradients has norm at most 10
    total = torch.cat([o.reshape(-1) for o in out]).norm()
    assert total <= 10.0 + 1e-4
    noisy, _ = clip_and_noise(g, 1.0, 2.0, 1.0, torch.Generator().manual_seed(0))
    assert not torch.allclose(noisy[0], out[0])


def test_dp_cuts_membership_advantage():
    """Plain SGD memorises flipped labels (a positive attack advantage); strong DP removes it."""
    x, y = make_task(700, seed=3)
    train, test = (x[:150], y[:150]), (x[150:], y[150:])
    results = {}
    for name, cfg in {
        "plain": DPConfig(epochs=60, lr=0.3, private=False),
        "dp": DPConfig(noise_multiplier=4.0, epochs=20, lr=0.5),
    }.items():
        model = make_mlp(x.shape[1], 128, 2, seed=3)
        info = train_dpsgd(model, *train, cfg, seed=3)
        results[name] = (loss_threshold_attack(model, train, test)["advantage"], info["epsilon"])
    assert results["plain"][0] > 0.15
    assert results["dp"][0] < results["plain"][0] / 2
    assert results["dp"][1] < 3.0


def test_fedavg_beats_local_only_and_dp_has_epsilon():
    from ch21_security.federated import fedavg

    plain = fedavg(clients=4, rounds=8, n=400)
    assert plain["test_accuracy"] > plain["local_only_accuracy"]
    assert plain["test_accuracy"] > 0.9
    dp = fedavg(clients=4, rounds=8, n=400, clip=0.5, noise_multiplier=1.0)
    assert 0 < dp["client_level_epsilon"] < 100
    assert dp["test_accuracy"] > 0.6


@pytest.mark.parametrize("bad", [["--noise", "-1"]])
def test_dpsgd_cli_rejects_bad_noise(bad):
    from ch21_security.cli import app
    from llmpath_core.cli import run_app

    with pytest.raises(SystemExit) as exc:
        run_app(app, ["dpsgd", *bad])
    assert exc.value.code == 2
