"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, one torch thread);
the results go into one JSON file with the machine and each command's wall time. The README's
bad-request examples are run the same way and recorded under ``errors`` with their exit code and
stderr line.

Run: ``OMP_NUM_THREADS=1 uv run python packages/ch15-architectures/benchmarks/record_cli_examples.py
[--only parity scan ...] [--out FILE]`` (default: ``benchmarks/results/readme-cli-cpu-2core.json``).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import torch

from ch15_architectures.cli import app
from llmpath_core.bench import record_cli_errors, record_cli_main

PROG = "ch15-architectures"
OUT = Path(__file__).parent / "results" / "readme-cli-cpu-2core.json"

EXAMPLES: dict[str, list[str]] = {
    "parity": ["parity"],
    "scan": ["scan"],
    "attention": ["attention"],
    "rwkv": ["rwkv"],
    "scaling": shlex.split("scaling --lengths 256,512,1024,2048 --out /tmp/ch15-scaling"),
    "search": shlex.split("search --candidates 4 --steps 20"),
    "passkey": shlex.split("passkey --lengths 16,32,64 --steps 150"),
    "demo": shlex.split("demo --steps 40"),
}

ERRORS: dict[str, list[str]] = {
    "moe-top-k-too-large": shlex.split("moe --experts 4 --top-k 5"),
    "attention-window-too-large": shlex.split("attention --seq-len 64 --window 128"),
}


def record_errors(out: Path) -> None:
    """Run each bad-input example in process; keep its exit code, stdout and stderr."""
    record_cli_errors(app, PROG, ERRORS, out)


def main() -> None:
    torch.set_num_threads(1)
    record_cli_main(app, PROG, EXAMPLES, OUT)
    record_errors(OUT)


if __name__ == "__main__":
    main()
