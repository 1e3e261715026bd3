"""HumanEval-style functional correctness: run each completion against its tests, then pass@k.

A sample's program is ``prompt + completion + test + check(entry_point)`` (HumanEval's layout);
it passes if that program exits cleanly inside the sandbox.

pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code", eq. 1): with ``n``
samples of which ``c`` pass, the unbiased estimate of the chance that at least one of ``k``
samples passes is ``1 - C(n-c, k) / C(n, k)``, computed as the paper does, as a stable product
``1 - prod_{i=n-c+1}^{n} (1 - k/i)``, and averaged over problems.
"""

from __future__ import annotations

import math
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ch11_evaluation.sandbox import Limits, SandboxResult, run_python
from ch11_evaluation.tasks import CodeSample


def program(sample: CodeSample) -> str:
    """The program HumanEval runs for one completion."""
    return f"{sample.prompt}{sample.completion}\n\n{sample.test}\n\ncheck({sample.entry_point})\n"


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``n`` samples, ``c`` correct."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_at_k_exact(n: int, c: int, k: int) -> float:
    """The same estimator with exact binomial coefficients (for checking)."""
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@dataclass
class CodeRun:
    """Per-sample outcomes and pass@k over problems."""

    results: list[dict]
    pass_at: dict[int, float]

    def to_dict(self) -> dict:
        out = {f"pass_at_{k}": v for k, v in self.pass_at.items()}
        return {
            **out,
            "n_samples": len(self.results),
            "n_problems": len({r["task_id"] for r in self.results}),
            "results": self.results,
        }


def run_samples(
    samples: list[CodeSample],
    limits: Limits = Limits(),
    *,
    ks: tuple[int, ...] = (1, 2, 5, 10),
    workers: int = 2,
) -> CodeRun:
    """Run every sample in its own sandbox (``workers`` at a time) and compute pass@k."""

    def one(sample: CodeSample) -> SandboxResult:
        return run_python(program(sample), limits)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = list(pool.map(one, samples))
    results = [
        {
            "task_id": s.task_id,
            "passed": o.ok,
            "reason": o.reason,
            "status": o.status,
            "seconds": round(o.seconds, 3),
        }
        for s, o in zip(samples, outcomes, strict=True)
    ]
    per_task: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        per_task[r["task_id"]].append(r["passed"])
    pass_at = {}
    for k in ks:
        if all(len(v) >= k for v in per_task.values()):
            pass_at[k] = float(np.mean([pass_at_k(len(v), sum(v), k) for v in per_task.values()]))
    return CodeRun(results, pass_at)
