"""The guardrail experiment: our scanner on the built-in target without and with the proxy.

Writes ``results/guardrail.json``: both scan reports (every finding with its evidence), the
attack-success-rate drop, benign traffic through the proxy (false blocks, changed replies) and
the proxy's latency overhead per request (mean over the benign prompts, each sent straight and
through the proxy in turn). Run: ``OMP_NUM_THREADS=1 nice -n 10 uv run python
packages/ch21-security/benchmarks/bench_guardrail.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from ch21_security.labs import guardrail_experiment
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

OUT = Path(__file__).parent / "results" / "guardrail.json"


def main() -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    result = guardrail_experiment()
    result["wall_s"] = time.perf_counter() - start
    result["machine"] = machine_info()
    result["date"] = time.strftime("%Y-%m-%d")
    result["note"] = "measured while the machine was shared with other jobs"
    write_json(OUT, result)
    print(
        f"ASR {result['unguarded']['attack_success_rate']:.3f} -> "
        f"{result['guarded']['attack_success_rate']:.3f}; "
        f"benign false blocks {result['benign']['false_block_rate']:.3f}"
    )


if __name__ == "__main__":
    main()
