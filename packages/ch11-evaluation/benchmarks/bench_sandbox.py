"""What the sandbox costs per sample: ours vs HumanEval's approach (a bare subprocess + timeout).

Runs the five correct bundled completions N times each way, in one process, and prints the
median per-sample time and the ratio. The hostile samples are listed with how each side ends:
the bare subprocess has no guard, so only the harmless-to-run ones are tried there (the wall
timeout still applies); the fork bomb is never run unguarded.

    uv run python packages/ch11-evaluation/benchmarks/bench_sandbox.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ch11_evaluation.codeexec import program
from ch11_evaluation.sandbox import Limits, network_namespace_available, run_python
from ch11_evaluation.tasks import load_code_samples
from llmpath_core import machine_info, print_table, write_json

RESULTS = Path(__file__).resolve().parent / "results"
REPEATS = 3


def bare(source: str, timeout: float) -> tuple[str, float]:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "p.py").write_text(source)
        start = time.perf_counter()
        try:
            r = subprocess.run(
                [sys.executable, "p.py"], cwd=d, capture_output=True, timeout=timeout
            )
            status = "ok" if r.returncode == 0 else "error"
        except subprocess.TimeoutExpired:
            status = "timeout"
        return status, time.perf_counter() - start


def main() -> None:
    samples = load_code_samples()
    good = samples[0:10:2]
    limits = Limits(timeout_s=5.0)
    ours_t, bare_t = [], []
    for _ in range(REPEATS):
        for s in good:
            r = run_python(program(s), limits)
            assert r.ok, r.reason
            ours_t.append(r.seconds)
            status, seconds = bare(program(s), 5.0)
            assert status == "ok"
            bare_t.append(seconds)
    timing = {
        "ours_median_s": statistics.median(ours_t),
        "bare_median_s": statistics.median(bare_t),
        "ours/bare": statistics.median(ours_t) / statistics.median(bare_t),
        "network_namespace": network_namespace_available(),
    }
    hostile = []
    for s in samples[10:]:
        r = run_python(program(s), limits)
        hostile.append({"task_id": s.task_id, "sandbox": r.status, "reason": r.reason[:70]})
    print_table([timing], title="per-sample wall time, correct completions")
    print_table(hostile, title="hostile samples in the sandbox")
    write_json(
        RESULTS / "sandbox.json",
        {
            "machine": machine_info(),
            "note": "loaded shared 2-core CPU box",
            "timing": timing,
            "hostile": hostile,
        },
    )


if __name__ == "__main__":
    main()
