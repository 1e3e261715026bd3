"""Run the README's commands in process and keep their JSON results (every number in the README
comes from results/cli_examples.json).

    uv run python packages/ch04-embeddings/benchmarks/record_cli_examples.py [--only NAME...]
"""

from __future__ import annotations

from pathlib import Path

from ch04_embeddings.cli import app
from llmpath_core.bench import record_cli_main

HERE = Path(__file__).parent
EXAMPLES = {
    "demo": ["demo", "--out", str(HERE / "results")],
    "search": ["search", "How do I handle an exception raised inside a with block?", "--k", "3"],
    "search_filtered": [
        "search",
        "catching exceptions",
        "--k",
        "3",
        "--filter",
        "category=statements",
        "--filter",
        "year=2020..2024",
    ],
    "words_cbow": ["words", "--algorithm", "cbow"],
    "words_glove": ["words", "--algorithm", "glove"],
    "words_fasttext": ["words", "--algorithm", "fasttext"],
    "products": ["products", "a green dotted hat", "--k", "3"],
    "finetune": ["finetune", "--companies", "12"],
}

if __name__ == "__main__":
    record_cli_main(app, "ch04-embeddings", EXAMPLES, HERE / "results" / "cli_examples.json")
