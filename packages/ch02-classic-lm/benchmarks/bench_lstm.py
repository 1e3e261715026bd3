"""Our LSTM/GRU cells (a Python loop over time) vs ``nn.LSTM``/``nn.GRU`` (fused kernels): tokens/s
for forward + backward on CPU, same weights, same batch.

Run: ``uv run python packages/ch02-classic-lm/benchmarks/bench_lstm.py``; writes
``benchmarks/results/lstm.json``. On a CUDA machine it also times cuDNN (``--device cuda``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent / "results"


def main() -> None:
    import torch
    from torch import nn

    from ch02_classic_lm.rnn import Recurrent
    from llmpath_core import atomic_write, compare, machine_info, print_table

    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    batch, steps, hidden = 32, 64, 128
    rows = []
    for kind, cls in (("lstm", nn.LSTM), ("gru", nn.GRU)):
        torch.manual_seed(0)
        ref = cls(32, hidden, batch_first=True).to(device)
        ours = Recurrent(kind, 32, hidden).to(device).load_from_torch(ref)
        x = torch.randn(batch, steps, 32, device=device)

        def run(module, x=x):
            def fn():
                out = module(x)[0]
                out.sum().backward()

            return fn

        c = compare(kind, run(ours), run(ref), warmup=2, repeats=7)
        tokens = batch * steps
        rows.append(
            {
                "cell": kind,
                "device": str(device),
                "ours tokens/s": tokens / c.ours.median,
                f"nn.{cls.__name__} tokens/s": tokens / c.anchor.median,
                "ours / torch": c.anchor.median / c.ours.median,
            }
        )
    print_table(rows, title=f"forward+backward, batch {batch} x {steps} steps, hidden {hidden}")
    payload = {
        "command": "uv run python packages/ch02-classic-lm/benchmarks/bench_lstm.py",
        "threads": args.threads,
        "rows": rows,
        "machine": machine_info(),
    }
    with atomic_write(HERE / f"lstm_{device.type}.json") as f:
        json.dump(payload, f, indent=1, default=str)


if __name__ == "__main__":
    main()
