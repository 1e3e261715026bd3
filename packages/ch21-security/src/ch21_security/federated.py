"""Federated averaging (McMahan et al. 2017) across simulated clients, optionally with DP.

Each round every client starts from the global model, runs a few local epochs of SGD on its own
shard and sends back its update (local weights minus global). The server averages the updates,
weighted by client data size. With DP (McMahan et al. 2018, "DP-FedAvg") each update is clipped
to L2 norm ``C`` and Gaussian noise ``N(0, (sigma C / K)^2)`` is added to the mean of ``K``
clients; every round samples all clients (``q = 1``) so the RDP accountant gives the client-level
epsilon. Shards are non-IID: each client sees a skewed label mix.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ch21_security.accountant import RDPAccountant
from ch21_security.dpsgd import accuracy, make_mlp, make_task


def split_non_iid(
    x: torch.Tensor, y: torch.Tensor, clients: int, skew: float = 0.8, seed: int = 0
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Give each client mostly one label (``skew`` of its data), the rest at random."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=gen)
    by_label = {int(c): [int(i) for i in order if int(y[i]) == c] for c in y.unique()}
    shards: list[list[int]] = [[] for _ in range(clients)]
    per = len(x) // clients
    labels = sorted(by_label)
    for k in range(clients):
        main = labels[k % len(labels)]
        for _ in range(per):
            want = (
                main
                if torch.rand(1, generator=gen).item() < skew
                else labels[(k + 1) % len(labels)]
            )
            pool = by_label[want] or next(v for v in by_label.values() if v)
            shards[k].append(pool.pop())
    return [(x[idx], y[idx]) for idx in shards]


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _load_flat(model: nn.Module, flat: torch.Tensor) -> None:
    i = 0
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(flat[i : i + p.numel()].view_as(p))
            i += p.numel()


def fedavg(
    clients: int = 8,
    rounds: int = 20,
    local_epochs: int = 2,
    lr: float = 0.1,
    clip: float | None = None,
    noise_multiplier: float = 0.0,
    delta: float = 1e-3,
    n: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Run FedAvg on the synthetic task; ``clip`` and ``noise_multiplier`` turn on DP-FedAvg."""
    x, y = make_task(n + 500, flip=0.0, seed=seed)
    shards = split_non_iid(x[:n], y[:n], clients, seed=seed)
    test = (x[n:], y[n:])
    global_model = make_mlp(x.shape[1], 32, 2, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    accountant = RDPAccountant()
    history = []
    for r in range(rounds):
        start = _flat(global_model)
        updates, weights = [], []
        for cx, cy in shards:
            local = copy.deepcopy(global_model)
            opt = torch.optim.SGD(local.parameters(), lr=lr)
            for _ in range(local_epochs):
                for i in range(0, len(cx), 32):
                    opt.zero_grad()
                    nn.functional.cross_entropy(local(cx[i : i + 32]), cy[i : i + 32]).backward()
                    opt.step()
            update = _flat(local) - start
            if clip is not None:
                update = update * min(1.0, clip / (float(update.norm()) + 1e-12))
            updates.append(update)
            weights.append(len(cx))
        if clip is not None:
            mean = torch.stack(updates).mean(dim=0)  # equal weights keep the sensitivity C / K
            if noise_multiplier > 0:
                mean = mean + torch.randn(mean.shape, generator=gen) * (
                    noise_multiplier * clip / clients
                )
                accountant.step(noise_multiplier, 1.0)
        else:
            w = torch.tensor(weights, dtype=torch.float32)
            mean = (torch.stack(updates) * (w / w.sum())[:, None]).sum(dim=0)
        _load_flat(global_model, start + mean)
        history.append({"round": r + 1, "test_accuracy": accuracy(global_model, *test)})
    local_only = []
    for cx, cy in shards:  # baseline: each client alone on its own skewed shard
        m = make_mlp(x.shape[1], 32, 2, seed=seed)
        opt = torch.optim.SGD(m.parameters(), lr=lr)
        for _ in range(local_epochs * rounds):
            for i in range(0, len(cx), 32):
                opt.zero_grad()
                nn.functional.cross_entropy(m(cx[i : i + 32]), cy[i : i + 32]).backward()
                opt.step()
        local_only.append(accuracy(m, *test))
    eps = accountant.get_epsilon(delta) if noise_multiplier > 0 and clip is not None else None
    return {
        "clients": clients,
        "rounds": rounds,
        "test_accuracy": history[-1]["test_accuracy"],
        "local_only_accuracy": sum(local_only) / len(local_only),
        "client_level_epsilon": eps,
        "history": history,
    }
