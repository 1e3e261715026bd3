"""Static vs continuous batching at equal batch size and KV memory: the scheduling effect alone.

Both policies run in our engine with the *same* ``EngineConfig`` (most sequences per step, token
budget, KV blocks); the only difference is when a request may join. Static forms fixed batches of
``--batch`` requests and admits nothing until the whole batch is done (HF ``generate()`` style);
continuous admits at every step (Orca, vLLM). The workload is an offline batch (all requests at
t = 0) with log-normal output lengths of a fixed mean, and the log-spread ``sigma`` is swept: with
equal lengths (sigma = 0) the two policies run the same steps; Orca and vLLM report that the gain of
iteration-level scheduling grows with the variance of output lengths. Every (sigma, seed) runs both
policies back to back, alternating which goes first. Times are CPU seconds of this process (one
torch thread), so other jobs on a shared machine do not inflate either side.

Run: uv run python packages/ch14-inference/benchmarks/bench_ch14_batching.py
Writes results-batching-cpu.json next to this file (or --out).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path

import torch

from ch14_inference import EngineConfig, load_model
from ch14_inference.labs import corpus_ids, scheduling_effect
from ch14_inference.workload import make_offline_workload
from llmpath_core import machine_info, print_table, write_json


def spread(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
        "values": values,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--requests", type=int, default=24)
    ap.add_argument("--batch", type=int, default=8, help="max sequences per step, both policies")
    ap.add_argument("--blocks", type=int, default=256, help="KV blocks of 8 tokens, both policies")
    ap.add_argument("--mean-output", type=float, default=32.0)
    ap.add_argument("--sigmas", default="0,0.5,1.0")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("results-batching-cpu.json")
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    model, tok = load_model(args.model)
    ids = corpus_ids(tok, model.vocab_size)
    config = EngineConfig(block_size=8, num_blocks=args.blocks, max_num_seqs=args.batch)
    bounds = (1, model.max_positions - 32)
    warm = make_offline_workload(args.batch, ids, (8, 32), 8, 0.0, bounds, seed=99)
    scheduling_effect(model, warm, config)  # warm-up, not recorded

    runs, summary = [], []
    for sigma in [float(s) for s in args.sigmas.split(",")]:
        per_seed = []
        for seed in range(args.seeds):
            workload = make_offline_workload(
                args.requests, ids, (8, 32), args.mean_output, sigma, bounds, seed=seed
            )
            lengths = [w.max_tokens for w in workload]
            cv = statistics.pstdev(lengths) / statistics.fmean(lengths)
            r = scheduling_effect(model, workload, config, static_first=seed % 2 == 0)
            for policy in ("static", "continuous"):  # the check the README relies on
                row = r[policy]
                assert row["max_num_seqs"] == args.batch and row["num_blocks"] == args.blocks
                assert row["peak_running"] == min(args.batch, args.requests), row
            r.update(sigma=sigma, seed=seed, output_cv=cv, output_lengths=lengths)
            runs.append(r)
            per_seed.append(r)
            print(
                f"sigma={sigma} seed={seed} cv={cv:.2f}: continuous/static tokens/s "
                f"{r['throughput_ratio']:.2f}, steps {r['steps_ratio']:.2f}, "
                f"p50 {r['latency_p50_ratio']:.2f}, p95 {r['latency_p95_ratio']:.2f}",
                flush=True,
            )
        row = {"sigma": sigma, "output_cv": statistics.fmean(r["output_cv"] for r in per_seed)}
        for key in ("throughput_ratio", "steps_ratio", "latency_p50_ratio", "latency_p95_ratio"):
            row[key] = spread([r[key] for r in per_seed])
        for policy in ("static", "continuous"):
            for key in ("tokens_per_s", "latency_p50_s", "latency_p95_s"):
                row[f"{policy}_{key}"] = spread([r[policy][key] for r in per_seed])
        summary.append(row)

    def fmt(s: dict) -> str:
        return f"{s['mean']:.2f} [{s['min']:.2f}, {s['max']:.2f}]"

    print_table(
        [
            {
                "sigma": r["sigma"],
                "output CV": r["output_cv"],
                "tokens/s ratio": fmt(r["throughput_ratio"]),
                "steps ratio": fmt(r["steps_ratio"]),
                "p50 latency ratio": fmt(r["latency_p50_ratio"]),
                "p95 latency ratio": fmt(r["latency_p95_ratio"]),
            }
            for r in summary
        ],
        title=f"continuous / static, batch {args.batch}, {args.blocks} KV blocks, "
        f"{args.requests} requests, {args.seeds} seeds: mean [min, max]",
    )
    results = {
        "machine": machine_info(),
        "load_average_1min_at_end": os.getloadavg()[0],
        "clock": "time.process_time: CPU seconds of the benchmark process (1 torch thread)",
        "model": args.model,
        "model_shape": {
            "layers": model.num_layers,
            "heads": model.num_heads,
            "kv_heads": model.num_kv_heads,
            "head_dim": model.head_dim,
            "context": model.max_positions,
        },
        "config": {
            "requests": args.requests,
            "max_num_seqs": args.batch,
            "num_blocks": args.blocks,
            "block_size": 8,
            "max_num_batched_tokens": config.max_num_batched_tokens,
            "prompt_len": [8, 32],
            "output_mean": args.mean_output,
            "output_bounds": list(bounds),
            "seeds": args.seeds,
        },
        "summary": summary,
        "runs": runs,
        "seconds": time.perf_counter() - started,
    }
    assert all(math.isfinite(r["throughput_ratio"]) for r in runs)
    write_json(args.out, results)
    print(json.dumps({"written": str(args.out), "seconds": results["seconds"]}))


if __name__ == "__main__":
    main()
