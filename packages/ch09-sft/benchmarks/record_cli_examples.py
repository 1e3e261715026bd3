"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, its defaults, one
torch thread); the results go into one JSON file with the machine and each command's wall time.
Commands run in sorted name order: ``a-train`` writes the adapter that ``b-eval`` and
``c-merge`` read; ``g-merge-ties`` merges the folders ``a-train-full`` and ``c-merge`` wrote.

Run: ``OMP_NUM_THREADS=1 uv run python packages/ch09-sft/benchmarks/record_cli_examples.py
[--only demo ...] [--out FILE]`` (default file: ``benchmarks/results/readme-cli-cpu-2core.json``).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from ch09_sft.cli import app
from llmpath_core.bench import record_cli_main

PROG = "ch09-sft"
OUT = Path(__file__).parent / "results" / "readme-cli-cpu-2core.json"
ADAPTER = "/tmp/ch09-lora-r8"

EXAMPLES: dict[str, list[str]] = {
    "a-train": ["train", "--method", "lora", "--rank", "8", "--max-steps", "60", "--out", ADAPTER],
    "a-train-full": [
        "train",
        "--method",
        "full",
        "--max-steps",
        "60",
        "--out",
        "/tmp/ch09-full",
    ],
    "b-eval-base": ["eval", "--n", "60"],
    "b-eval-full": ["eval", "--model", "/tmp/ch09-full", "--n", "60"],
    "b-eval-adapter": ["eval", "--adapter", ADAPTER, "--n", "60"],
    "c-merge": ["merge-adapter", "--adapter", ADAPTER, "--out", "/tmp/ch09-merged"],
    "d-demo": ["demo"],
    "e-train-ia3": ["train", "--method", "ia3", "--max-steps", "60", "--out", "/tmp/ch09-ia3"],
    "e-train-qlora": [
        "train",
        "--method",
        "qlora",
        "--rank",
        "16",
        "--max-steps",
        "60",
        "--out",
        "/tmp/ch09-qlora-r16",
    ],
    "f-eval-ia3": ["eval", "--adapter", "/tmp/ch09-ia3", "--n", "60"],
    "f-eval-qlora": ["eval", "--adapter", "/tmp/ch09-qlora-r16", "--n", "60"],
    "g-merge-ties": [
        "merge",
        "--models",
        "/tmp/ch09-merged,/tmp/ch09-full",
        "--method",
        "ties",
        "--out",
        "/tmp/ch09-ties",
    ],
    "h-eval-ties": ["eval", "--model", "/tmp/ch09-ties", "--n", "60"],
}

if __name__ == "__main__":
    record_cli_main(app, PROG, EXAMPLES, OUT)
