"""Distillation benchmark: the default model as teacher, a draft-sized student (about 10% of the
weights) trained with logit KD and from scratch at equal steps on the same batches; perplexity
on mix:validation (evaluate_lm), forward speed-up, and the KD student exported to ONNX (fp32 and
onnxruntime int8) with its logit error.

Run: ``OMP_NUM_THREADS=1 nice -n 10 uv run python
packages/ch16-enhancement/benchmarks/bench_distill.py
[--steps 150]``; writes ``results/distill-cpu.json``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from ch16_enhancement.distill import DistillConfig, distill
from ch16_enhancement.export import export_onnx
from llmpath_core import machine_info, write_json

OUT = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = DistillConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed)
    start = time.perf_counter()
    result = distill(cfg, progress=lambda m: print(m, flush=True))
    models = result.pop("_models")
    result["machine"] = machine_info()
    result["date"] = datetime.date.today().isoformat()
    write_json(OUT / "distill-cpu.json", result)  # kept even if the export below fails
    with tempfile.TemporaryDirectory() as tmp:
        onnx = export_onnx(models["student"], tmp)
    for entry in onnx.values():
        entry.pop("path")
    result["onnx"] = onnx
    result["seconds"] = time.perf_counter() - start
    result["machine"] = machine_info()
    result["date"] = datetime.date.today().isoformat()
    result["note"] = (
        "measured while the 2-core machine was shared with other jobs; "
        "the speed-up is a ratio of medians"
    )
    write_json(OUT / "distill-cpu.json", result)
    print({k: v for k, v in result.items() if k not in ("config", "machine")})


if __name__ == "__main__":
    main()
