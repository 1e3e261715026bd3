"""Our NumPy MLP vs the same net in torch on CPU: training steps per second, side by side.

The 64-128-10 ReLU MLP of ``ch01-nn train``, AdamW, batch 32, on digits; each timed call runs
50 training steps (forward, cross-entropy, backward, update). torch runs on one thread, NumPy's
BLAS is left as it is. Writes ``benchmarks/results/mlp_vs_torch.json``.

    uv run python packages/ch01-nn/benchmarks/bench_mlp_vs_torch.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ch01_nn.autodiff import Tensor
from ch01_nn.data import load_digits_split
from ch01_nn.losses import cross_entropy
from ch01_nn.nn import mlp
from ch01_nn.optim import AdamW
from llmpath_core import compare, machine_info, print_table, write_json

STEPS = 50
NOTE = "a loaded 2-core CPU box shared with other jobs"
OUT = Path(__file__).parent / "results" / "mlp_vs_torch.json"


def main() -> None:
    torch.set_num_threads(1)
    data = load_digits_split()
    rows = []
    for batch in (32, 256):
        rng = np.random.default_rng(0)
        batches = [rng.integers(0, len(data.y_train), batch) for _ in range(STEPS)]
        model = mlp([64, 128, 10], "relu", init="he")
        opt = AdamW(model.parameters(), 3e-3)
        ref = torch.nn.Sequential(
            torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
        )
        ref_opt = torch.optim.AdamW(ref.parameters(), 3e-3)
        xt, yt = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)

        def ours(model=model, opt=opt, batches=batches):
            for idx in batches:
                loss = cross_entropy(model(Tensor(data.x_train[idx])), data.y_train[idx])
                model.zero_grad()
                loss.backward()
                opt.step()

        def theirs(ref=ref, ref_opt=ref_opt, batches=batches, xt=xt, yt=yt):
            for idx in batches:
                i = torch.from_numpy(idx)
                loss = torch.nn.functional.cross_entropy(ref(xt[i]), yt[i])
                ref_opt.zero_grad()
                loss.backward()
                ref_opt.step()

        c = compare(f"train step, batch {batch}", ours, theirs, names=("numpy (ours)", "torch"),
                    warmup=1, repeats=7)  # fmt: skip
        rows.append({
            "task": c.task,
            "ours_steps_per_s": STEPS / c.ours.median,
            "torch_steps_per_s": STEPS / c.anchor.median,
            "ratio_ours_over_torch": c.speedup,
        })  # fmt: skip
    print_table(rows, title="NumPy MLP vs torch (CPU), training steps per second")
    write_json(OUT, {"machine": machine_info(), "note": NOTE,
                     "steps_per_call": STEPS, "rows": rows})  # fmt: skip
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
