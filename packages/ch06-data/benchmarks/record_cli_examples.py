"""Run the README's CLI examples in process and keep their JSON results (results/cli_examples.json).

uv run python packages/ch06-data/benchmarks/record_cli_examples.py [--only NAME ...]
"""

from __future__ import annotations

from pathlib import Path

from ch06_data.cli import app
from llmpath_core.bench import record_cli_main

EXAMPLES = {
    "demo": ["demo"],
    "crawl": ["crawl"],
    "dedup": ["dedup"],
    "substrings": ["substrings"],
    "quality": ["quality"],
    "contamination": ["contamination"],
    "pii": ["pii"],
    "synth": ["synth"],
    "scurve": ["scurve", "--out", str(Path(__file__).parent / "results" / "scurve.png")],
}

if __name__ == "__main__":
    record_cli_main(
        app, "ch06-data", EXAMPLES, Path(__file__).parent / "results" / "cli_examples.json"
    )
