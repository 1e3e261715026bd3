"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, its defaults, one
torch thread); the results go into one JSON file with the machine and each command's wall time.
The README's bad-input examples are recorded under ``errors`` with exit code and stderr line.

Run: ``OMP_NUM_THREADS=1 uv run python
packages/ch12-reasoning/benchmarks/record_cli_examples.py [--only game24-tot ...] [--out FILE]``
(default file: ``benchmarks/results/readme-cli-cpu-2core.json``).
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import torch

from ch12_reasoning.cli import app
from llmpath_core.bench import record_cli_main, run_captured
from llmpath_core.io import write_json

PROG = "ch12-reasoning"
OUT = Path(__file__).parent / "results" / "readme-cli-cpu-2core.json"

EXAMPLES: dict[str, list[str]] = {
    "demo": ["demo", "--out", "/tmp/ch12-demo.png"],
    "game24-cot": shlex.split(
        'game24 --method cot --numbers "4 7 8 8" --numbers "3 4 5 6" --numbers "1 5 5 5"'
    ),
    "game24-tot": shlex.split(
        'game24 --method tot --numbers "4 7 8 8" --numbers "3 4 5 6" --numbers "1 5 5 5" '
        "--budget 40"
    ),
    "solve-cot": ["solve", "--method", "cot"],
    "solve-self-consistency": shlex.split("solve --method self-consistency --n 8"),
    "solve-prm-best-of-n": shlex.split("solve --method prm-best-of-n --n 8"),
    "solve-self-critique": shlex.split("solve --method self-critique --n 4"),
}

ERRORS: dict[str, list[str]] = {
    "game24-three-numbers": shlex.split('game24 --numbers "1 2 3"'),
    "game24-budget-0": shlex.split("game24 --method tot --budget 0"),
    "solve-malformed-file": shlex.split("solve --problems /tmp/ch12-bad.jsonl"),
}


def record_errors(out: Path) -> None:
    Path("/tmp/ch12-bad.jsonl").write_text('{"question": "2**3"}\n')
    results = json.loads(out.read_text()) if out.is_file() else {"commands": {}}
    errors = results.setdefault("errors", {})
    for name, argv in ERRORS.items():
        code, stdout, stderr = run_captured(app, argv)
        errors[name] = {
            "argv": [PROG, *argv],
            "exit_code": code,
            "stdout": stdout,
            "stderr": stderr,
        }
    write_json(out, results)


def main() -> None:
    torch.set_num_threads(1)
    record_cli_main(app, PROG, EXAMPLES, OUT)
    record_errors(OUT)


if __name__ == "__main__":
    main()
