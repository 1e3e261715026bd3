"""Record `llmpath demo --all`: every installed chapter's demo, its headline and its seconds.

The README's demo times come from the file this writes. Each demo runs as its chapter's console
script would (a subprocess, one after another); the file also keeps the machine and the load
average before and after, since a busy machine makes every demo slower.

Run: ``uv run python benchmarks/record_demos.py [--out FILE]``
(default: ``benchmarks/results/demo-all-cpu-2core.json``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from llmpath.cli import app
from llmpath_core.bench import machine_info, run_json
from llmpath_core.io import write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("results") / "demo-all-cpu-2core.json"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    result, seconds = run_json(app, ["demo", "--all"])
    write_json(
        args.out,
        {
            "command": ["llmpath", "demo", "--all", "--json"],
            "wall_s": seconds,
            "result": result,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "machine": machine_info(),
            "date": time.strftime("%Y-%m-%d"),
        },
    )
    print(f"{args.out}: {len(result.get('demos', result.get('rows', [])))} demos, {seconds:.0f} s")


if __name__ == "__main__":
    main()
