"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, its defaults);
the results go into one JSON file with the machine and each command's wall time. The
bad-input examples are run the same way and recorded under ``errors`` with their exit code and
stderr line.

Run: ``OMP_NUM_THREADS=1 nice -n 10 uv run python
packages/ch22-llmops/benchmarks/record_cli_examples.py [--only drift abtest ...]`` (default file:
``benchmarks/results/readme-cli-cpu-2core.json``; an existing file keeps the commands not re-run).
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import torch

from ch22_llmops.cli import app
from llmpath_core.bench import record_cli_errors, record_cli_main

PROG = "ch22-llmops"
OUT = Path(__file__).parent / "results" / "readme-cli-cpu-2core.json"
STORE = "/tmp/ch22-readme"
DATA = Path(__file__).parent / "data"

EXAMPLES: dict[str, list[str]] = {
    "abtest": shlex.split("abtest --control 200/2000 --treatment 245/2000"),
    "abtest-sim": ["abtest-sim"],
    "cost": ["cost"],
    "demo": shlex.split(f"demo --out {STORE}/demo"),
    "drift": ["drift"],
    "drift-csv": shlex.split(
        f"drift --reference {DATA}/reference.csv --current {DATA}/current.csv"
    ),
    "drift-embeddings": ["drift", "--embeddings"],
    "iac": ["iac"],
    "lifecycle": shlex.split(f"lifecycle --tracking-uri sqlite:///{STORE}/mlflow.db"),
    "monitor": shlex.split(f"monitor --out {STORE}/monitor"),
    "workflow": shlex.split(f"workflow --out {STORE}/workflow"),
}

ERRORS: dict[str, list[str]] = {
    "abtest-counts-above-n": shlex.split("abtest --control 2100/2000"),
    "drift-different-columns": shlex.split(
        f"drift --reference {DATA}/reference.csv --current {DATA}/other-columns.csv"
    ),
    "lifecycle-unreachable-server": shlex.split("lifecycle --tracking-uri http://127.0.0.1:9"),
}


def record_errors(out: Path) -> None:
    """Run each bad-input example in process; keep its exit code, stdout and stderr."""
    record_cli_errors(app, PROG, ERRORS, out)


def main() -> None:
    torch.set_num_threads(1)
    shutil.rmtree(STORE, ignore_errors=True)
    Path(STORE).mkdir(parents=True)
    record_cli_main(app, PROG, EXAMPLES, OUT)
    record_errors(OUT)


if __name__ == "__main__":
    main()
