"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, one torch thread);
the results go into ``benchmarks/results/readme-cli-cpu-2core.json`` with the machine and each
command's wall time. The README's bad-input examples are recorded under ``errors`` with their
exit code and stderr line.

Run: ``OMP_NUM_THREADS=1 uv run python
packages/ch08-instruction-data/benchmarks/record_cli_examples.py
[--only render-chatml ...]``.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import torch

from ch08_instruction_data.cli import app
from llmpath_core.bench import record_cli_errors, record_cli_main

PROG = "ch08-instruction-data"
HERE = Path(__file__).parent
OUT = HERE / "results" / "readme-cli-cpu-2core.json"
HI = HERE / "examples" / "hi.json"
BAD_ROLES = HERE / "examples" / "not-alternating.json"

EXAMPLES: dict[str, list[str]] = {
    "render-chatml": shlex.split(f"render --template chatml --conversation {HI}"),
    "render-llama3-gen": shlex.split(
        f"render --template llama3 --conversation {HI} --add-generation-prompt"
    ),
    "render-roleplay-tokens": shlex.split(
        "render --template roleplay --tokenizer default --add-special-tokens"
    ),
    "build": shlex.split("build --out /tmp/ch08-instructions.jsonl"),
    "build-score": shlex.split("score --input /tmp/ch08-instructions.jsonl --out /tmp/ch08-report"),
    "conversations-tutoring": shlex.split("conversations --domain tutoring --n 3 --max-tokens 96"),
    "demo": ["demo"],
}

ERRORS: dict[str, list[str]] = {
    "render-not-alternating": shlex.split(f"render --template llama2 --conversation {BAD_ROLES}"),
    "render-missing-tokens": shlex.split("render --template chatml --tokenizer default"),
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
