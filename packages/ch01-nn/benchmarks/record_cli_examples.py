"""Record the JSON results of the README's commands (every number the README quotes).

    uv run python packages/ch01-nn/benchmarks/record_cli_examples.py [--only train gradcheck]

Writes ``benchmarks/results/cli_examples.json``; the plots go to ``benchmarks/results/``.
"""

from __future__ import annotations

from pathlib import Path

from ch01_nn.cli import app
from llmpath_core.bench import record_cli_main

RESULTS = Path(__file__).parent / "results"
EXAMPLES = {
    "train": ["train"],
    "train-sgd": ["train", "--optimizer", "sgd"],
    "gradcheck": [
        "gradcheck",
        "--layers",
        "7,13,5",
        "--activation",
        "gelu",
        "--loss",
        "cross-entropy",
    ],
    "gradient-health": ["gradient-health", "--out", str(RESULTS)],
    "optimizers": ["optimizers", "--out", str(RESULTS)],
    "regularization": ["regularization", "--out", str(RESULTS)],
    "demo": ["demo", "--out", str(RESULTS / "demo")],
}

if __name__ == "__main__":
    record_cli_main(app, "ch01-nn", EXAMPLES, RESULTS / "cli_examples.json")
