"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, one torch thread);
the results go into ``benchmarks/results/readme-cli-cpu-2core.json`` with the machine and each
command's wall time (an existing file keeps the commands not re-run).

Run: ``uv run python packages/ch02-classic-lm/benchmarks/record_cli_examples.py [--only rnn]``
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from ch02_classic_lm.cli import app
from llmpath_core.bench import record_cli_main

EXAMPLES: dict[str, list[str]] = {
    "rnn": ["rnn", "--steps", "100"],
}

if __name__ == "__main__":
    record_cli_main(
        app,
        "ch02-classic-lm",
        EXAMPLES,
        Path(__file__).parent / "results" / "readme-cli-cpu-2core.json",
    )
