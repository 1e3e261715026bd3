"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, its defaults, one
torch thread); results go into one JSON file with the machine and each command's wall time. The
bad-input examples are recorded under ``errors`` with exit code and stderr. ``vqa`` trains the
assistant on first use: set ``LLMPATH_HOME`` to a folder that already holds it to skip that.

Run: ``OMP_NUM_THREADS=1 uv run python packages/ch20-multimodal/benchmarks/record_cli_examples.py
[--only scene vqa ...] [--out FILE]`` (default ``benchmarks/results/readme-cli-cpu-2core.json``).
"""

from __future__ import annotations

import os
import shlex

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from pathlib import Path

import torch

from ch20_multimodal.cli import app
from llmpath_core.bench import record_cli_errors, record_cli_main

PROG = "ch20-multimodal"
OUT = Path(__file__).parent / "results" / "readme-cli-cpu-2core.json"

EXAMPLES: dict[str, list[str]] = {
    "a-scene": shlex.split('scene --spec "2 red circle, 1 blue square" --out /tmp/ch20-scene.png'),
    "b-vqa-count": shlex.split(
        'vqa --image /tmp/ch20-scene.png --question "how many red circles?"'
    ),
    "b-vqa-colour": shlex.split(
        'vqa --image /tmp/ch20-scene.png --question "what colour is the square?"'
    ),
    "c-ocr": ["ocr"],
    "d-speak": ["speak"],
}

ERRORS: dict[str, list[str]] = {
    "vqa-missing-image": shlex.split("vqa --image /tmp/ch20-no-such.png"),
    "vqa-unknown-word": shlex.split('vqa --question "how many purple circles?"'),
    "scene-too-many": shlex.split('scene --spec "6 red circle" --out /tmp/ch20-bad.png'),
}


def main() -> None:
    torch.set_num_threads(1)
    record_cli_main(app, PROG, EXAMPLES, OUT)
    record_cli_errors(app, PROG, ERRORS, OUT)


if __name__ == "__main__":
    main()
