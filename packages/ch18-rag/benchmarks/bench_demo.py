"""How long ``ch18-rag demo`` takes, cold (empty ``$LLMPATH_HOME``) and warm, and what it shows.

Run: ``uv run python packages/ch18-rag/benchmarks/bench_demo.py``. Runs the console script twice
in a fresh temporary ``LLMPATH_HOME`` (wall and CPU seconds of the whole process, imports
included) and writes ``benchmarks/results/demo.json`` with the demo's JSON result.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "demo.json"


def run_once(home: str) -> tuple[dict, float, float]:
    env = {**os.environ, "LLMPATH_HOME": home, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ch18_rag.cli", "demo", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(done.stdout), wall, cpu


def main() -> None:
    from llmpath_core import atomic_write, machine_info

    home = tempfile.mkdtemp(prefix="ch18-demo-")
    try:
        cold, cold_wall, cold_cpu = run_once(home)
        warm, warm_wall, warm_cpu = run_once(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    payload = {
        "command": "uv run python packages/ch18-rag/benchmarks/bench_demo.py",
        "cold": {"wall_s": round(cold_wall, 1), "cpu_s": round(cold_cpu, 1)},
        "warm": {"wall_s": round(warm_wall, 1), "cpu_s": round(warm_cpu, 1)},
        "load_average_after": os.getloadavg(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "demo": cold,
        "warm_headline_equal": warm["headline"] == cold["headline"],
        "machine": machine_info(),
    }
    print(json.dumps({k: payload[k] for k in ("cold", "warm", "warm_headline_equal")}))
    print(cold["headline"])
    with atomic_write(RESULTS) as f:
        json.dump(payload, f, indent=1, default=str)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
