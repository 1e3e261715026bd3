"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, its defaults, one
torch thread); the results go into one JSON file with the machine and each command's wall time.

Run: ``uv run python packages/ch07-pretraining/benchmarks/record_cli_examples.py
[--only demo curriculum] [--out FILE]`` (default file:
``benchmarks/results-cli-cpu-2core.json``; an existing file keeps the commands not re-run).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from ch07_pretraining.cli import app
from llmpath_core.bench import record_cli_main

EXAMPLES: dict[str, list[str]] = {
    "demo": ["demo"],
    "curriculum": ["curriculum"],
}


def main() -> None:
    record_cli_main(
        app, "ch07-pretraining", EXAMPLES, Path(__file__).with_name("results-cli-cpu-2core.json")
    )


if __name__ == "__main__":
    main()
