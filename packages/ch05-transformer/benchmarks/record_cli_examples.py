"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, its defaults, one
torch thread); the results go into one JSON file with the machine and each command's wall time.

Run: ``uv run python packages/ch05-transformer/benchmarks/record_cli_examples.py
[--only demo attention-plot ...] [--out FILE]`` (default file:
``benchmarks/results-cli-cpu-2core.json``; an existing file keeps the commands not re-run).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from ch05_transformer.cli import app
from llmpath_core.bench import record_cli_main

EXAMPLES: dict[str, list[str]] = {
    "demo": ["demo"],
    "parity": ["parity"],
    "attention-plot": ["attention-plot", "--layer", "0"],
    "seq2seq-reverse": ["seq2seq", "--task", "reverse"],
    "seq2seq-sort": ["seq2seq", "--task", "sort"],
    "pe-study": ["pe-study"],
}


def main() -> None:
    record_cli_main(
        app, "ch05-transformer", EXAMPLES, Path(__file__).with_name("results-cli-cpu-2core.json")
    )


if __name__ == "__main__":
    main()
