"""Time ``ch14-inference demo`` end to end: a first run (empty model cache) and a cached run.

Run: uv run python packages/ch14-inference/benchmarks/time_demo.py
Writes demo-time-cpu.json next to this file: wall seconds, CPU seconds of the child (the demo runs
one torch thread, so this is about its wall time on an idle core), the 1-minute load average
before each run (the machine is shared) and the demo's headline.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llmpath_core import machine_info, write_json


def run_demo(home: str) -> dict:
    env = {**os.environ, "LLMPATH_HOME": home, "OMP_NUM_THREADS": "1", "LLMPATH_PROGRESS": "0"}
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ch14_inference.cli", "demo", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    payload = json.loads(done.stdout)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "load_average_1min_before": load,
        "headline": payload["headline"],
    }


def main() -> None:
    out = Path(__file__).with_name("demo-time-cpu.json")
    results: dict = {"machine": machine_info()}
    with tempfile.TemporaryDirectory() as home:
        for name in ("first_run", "cached_run"):  # written after each run: a slow machine
            results[name] = run_demo(home)
            write_json(out, results)
            print(json.dumps({name: results[name]}), flush=True)


if __name__ == "__main__":
    main()
