"""Privacy numbers: our accountant vs opacus, per-sample gradients vs GradSampleModule, the DP-SGD
accuracy/membership-inference curve over seeds, and FedAvg with and without DP.

Writes ``results/privacy.json``. Run: ``OMP_NUM_THREADS=1 nice -n 10 uv run python
packages/ch21-security/benchmarks/bench_privacy.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from opacus import GradSampleModule
from opacus.accountants import RDPAccountant as OpacusRDP
from torch import nn

from ch21_security.accountant import compute_epsilon
from ch21_security.dpsgd import make_mlp, per_sample_gradients
from ch21_security.federated import fedavg
from ch21_security.membership import privacy_curve
from llmpath_core.bench import machine_info, measure
from llmpath_core.io import write_json

OUT = Path(__file__).parent / "results" / "privacy.json"
GRID = [
    (z, q, t, d)
    for z in (0.5, 0.8, 1.1, 2.0, 5.0)
    for q in (0.001, 0.01, 0.1)
    for t in (10, 1000, 20000)
    for d in (1e-5,)
]


def accountant_parity() -> dict:
    worst = 0.0
    rows = []
    for z, q, t, d in GRID:
        theirs = OpacusRDP()
        theirs.history = [(z, q, t)]
        e_theirs = theirs.get_epsilon(d)
        e_ours = compute_epsilon(z, q, t, d)["epsilon"]
        rel = abs(e_ours - e_theirs) / e_theirs
        worst = max(worst, rel)
        rows.append(
            {
                "noise_multiplier": z,
                "sample_rate": q,
                "steps": t,
                "delta": d,
                "ours": e_ours,
                "opacus": e_theirs,
                "rel_diff": rel,
            }
        )
    return {"cases": len(rows), "max_rel_diff": worst, "rows": rows}


def grad_sample_parity() -> dict:
    torch.manual_seed(0)
    model = make_mlp(64, 256, 10)
    x, y = torch.randn(256, 64), torch.randint(0, 10, (256,))
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    ours = per_sample_gradients(model, loss_fn, x, y)
    gsm = GradSampleModule(model, loss_reduction="sum")

    def opacus_once():
        gsm.zero_grad()
        loss_fn(gsm(x), y).backward()
        return {n: p.grad_sample.clone() for n, p in model.named_parameters()}

    theirs = opacus_once()
    diff = max(float((ours[n] - theirs[n]).abs().max()) for n in ours)
    gsm._close()
    t_ours = measure(lambda: per_sample_gradients(model, loss_fn, x, y), name="ours", repeats=5)
    gsm = GradSampleModule(model, loss_reduction="sum")
    t_theirs = measure(opacus_once, name="opacus", repeats=5)
    gsm._close()
    return {
        "batch": 256,
        "max_abs_diff": diff,
        "ours": t_ours.to_dict(),
        "opacus": t_theirs.to_dict(),
        "ours_over_opacus_time": t_ours.median / t_theirs.median,
    }


def main() -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    result = {
        "accountant_vs_opacus": accountant_parity(),
        "grad_sample_vs_opacus": grad_sample_parity(),
        "dp_sgd_curve": privacy_curve(seeds=(0, 1, 2, 3, 4)),
        "fedavg": {k: v for k, v in fedavg(clients=8, rounds=15).items() if k != "history"},
        "dp_fedavg": {
            k: v
            for k, v in fedavg(clients=8, rounds=15, clip=0.5, noise_multiplier=1.0).items()
            if k != "history"
        },
    }
    result["wall_s"] = time.perf_counter() - start
    result["machine"] = machine_info()
    result["date"] = time.strftime("%Y-%m-%d")
    result["note"] = "measured while the machine was shared with other jobs"
    write_json(OUT, result)
    print(
        result["accountant_vs_opacus"]["max_rel_diff"],
        result["grad_sample_vs_opacus"]["max_abs_diff"],
    )


if __name__ == "__main__":
    main()
