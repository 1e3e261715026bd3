"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, one torch thread);
the results go into ``benchmarks/results/readme-cli-cpu-2core.json`` with the machine and each
command's wall time (an existing file keeps the commands not re-run).

Run: ``OMP_NUM_THREADS=1 uv run python packages/ch16-enhancement/benchmarks/record_cli_examples.py
[--only rope-yarn continual ...]``
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from ch16_enhancement.cli import app
from llmpath_core.bench import record_cli_main

PROG = "ch16-enhancement"
OUT = Path(__file__).parent / "results" / "readme-cli-cpu-2core.json"

EXAMPLES: dict[str, list[str]] = {
    "rope-yarn": shlex.split(
        "rope --type yarn --factor 4 --head-dim 32 --base 10000 --original-max-positions 128"
    ),
    "rope-llama3": shlex.split(
        "rope --type llama3 --factor 8 --head-dim 128 --base 500000 --original-max-positions 8192"
    ),
    "rope-dynamic": shlex.split(
        "rope --type dynamic --factor 4 --head-dim 32 --base 10000 --original-max-positions 128 "
        "--seq-len 512"
    ),
    "continual": ["continual"],
    "feedback": ["feedback", "--rounds", "3"],
    "merge-lab": ["merge", "--steps", "40"],
}

if __name__ == "__main__":
    record_cli_main(app, PROG, EXAMPLES, OUT)
