"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, its defaults); the
results go into one JSON file with the machine and each command's wall time. The README's two
bad-input examples are run the same way and recorded under ``errors`` with their exit code and
stderr line. (``dashboard`` is a server and is not recorded here.)

Run: ``uv run python packages/ch03-tokenization/benchmarks/record_cli_examples.py
[--only compare domain ...] [--out FILE]`` (default file:
``benchmarks/results-cli-cpu-2core.json``; an existing file keeps the commands not re-run).
Commands run in sorted name order, so ``bpe-train`` writes the folder the ``bpe-train-*``
examples read.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from ch03_tokenization.cli import app
from llmpath_core.bench import record_cli_errors, record_cli_main

PROG = "ch03-tokenization"
OUT = Path(__file__).with_name("results-cli-cpu-2core.json")
BPE = "/tmp/ch03-runs/bpe"

EXAMPLES: dict[str, list[str]] = {
    "bpe-train": ["train", "--algo", "byte-bpe", "--vocab-size", "1000", "--out", BPE],
    "bpe-train-encode": [
        "encode",
        "--tokenizer",
        BPE,
        "--text",
        "Once upon a time, a tiny dragon said hello.",
    ],
    "bpe-train-encode-emoji": ["encode", "--tokenizer", BPE, "--text", "Hello 🤖 world"],
    # ids 0..255 are the bytes themselves: "Hello " and the four UTF-8 bytes of the emoji
    "bpe-train-decode-bytes": [
        "decode",
        "--tokenizer",
        BPE,
        "--ids",
        "72 101 108 108 111 32 240 159 164 150",
    ],
    "compare": ["compare", "--html", "/tmp/ch03-runs/compare.html"],
    "domain": ["domain"],
    "bench": ["bench"],
}

ERRORS: dict[str, list[str]] = {
    "wordpiece-vocab-too-small": [
        "train",
        "--algo",
        "wordpiece",
        "--vocab-size",
        "50",
        "--out",
        "/tmp/ch03-runs/wp",
    ],
    "missing-tokenizer": ["encode", "--tokenizer", "missing.json", "--text", "hi"],
}


def record_errors(out: Path) -> None:
    """Run each bad-input example in process; keep its exit code, stdout and stderr."""
    record_cli_errors(app, PROG, ERRORS, out)


def main() -> None:
    record_cli_main(app, PROG, EXAMPLES, OUT)
    record_errors(OUT)


if __name__ == "__main__":
    main()
