"""Record the JSON results of some of the README's CLI examples, so their numbers have a source.

Each command runs in this process exactly as on the command line (``--json``, its defaults); the
results go into one JSON file with the machine and each command's wall time: the knowledge graph
(``graph``), the default ``chat`` script, and ``ask`` with llmpath's default model as the
generator on a one-file index about the invented country Zed (written to ``/tmp/ch18/cli`` and
ingested into ``/tmp/ch18/cliidx`` first), and the default pydoc index: ``ingest`` twice (the
second run finds every file unchanged), ``query`` and ``ask`` on it.

Run: ``OMP_NUM_THREADS=1 uv run python packages/ch18-rag/benchmarks/record_cli_examples.py
[--only graph chat ...] [--out FILE]`` (default file: ``benchmarks/results/cli-examples.json``;
an existing file keeps the commands not re-run). Commands run in sorted name order, so
``ask-zed-ingest`` builds the index that ``ask-zed-ingest-generator`` reads.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from ch18_rag.cli import app
from llmpath_core.bench import record_cli_main
from llmpath_core.io import write_text

OUT = Path(__file__).parent / "results" / "cli-examples.json"
ZED_DIR = Path("/tmp/ch18/cli")
ZED_TEXT = (
    "# Zed\n\nZed is a small island country in a cold sea. The capital of Zed is Quo. "
    "Zed was founded in 1432. Its people fish and weave.\n"
)

EXAMPLES: dict[str, list[str]] = {
    "ask-zed-ingest": ["ingest", str(ZED_DIR), "--index", "/tmp/ch18/cliidx"],
    "ask-zed-ingest-generator": [
        "ask",
        "What is the capital of Zed?",
        "--index",
        "/tmp/ch18/cliidx",
        "--generator",
        "default",
    ],
    "graph": ["graph"],
    "chat": ["chat"],
    # the default index (pydoc prose, 847 chunks): built, then ingested again (nothing to embed)
    "pydoc-1-ingest": ["ingest"],
    "pydoc-2-ingest-again": ["ingest"],
    "pydoc-3-query": ["query", "How do I catch an exception?", "--k", "3"],
    "pydoc-4-ask": ["ask", "What are slice objects?"],
}


def main() -> None:
    write_text(ZED_DIR / "zed.md", ZED_TEXT)
    record_cli_main(app, "ch18-rag", EXAMPLES, OUT)


if __name__ == "__main__":
    main()
