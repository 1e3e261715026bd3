"""How long ``ch17-serving demo`` takes as a fresh process, and what it shows.

Run: ``uv run python packages/ch17-serving/benchmarks/bench_demo.py``. Writes
``results/demo.json`` (wall and CPU seconds, imports and model load included, and the demo's JSON).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "demo.json"


def main() -> None:
    from llmpath_core import machine_info, write_json

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "LLMPATH_PROGRESS": "0"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ch17_serving.cli", "demo", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    demo = json.loads(done.stdout)
    payload = {
        "command": "uv run python packages/ch17-serving/benchmarks/bench_demo.py",
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "load_average_after": os.getloadavg(),
        "demo": demo,
        "machine": machine_info(),
    }
    write_json(RESULTS, payload)
    print(json.dumps({"wall_s": payload["wall_s"], "cpu_s": payload["cpu_s"]}))
    print(demo["headline"])


if __name__ == "__main__":
    main()
