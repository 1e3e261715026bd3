"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, its defaults); the
results go into one JSON file with the machine and each command's wall time.

Run: ``OMP_NUM_THREADS=2 uv run python packages/ch10-alignment/benchmarks/record_cli_examples.py
[--only reward-model dpo demo] [--out FILE]`` (default file:
``benchmarks/results/readme-cli-cpu-2core.json``; the RL / trl-compare examples were recorded with
``--out benchmarks/results/readme-cli-rl-cpu-2core.json``, the constitutional examples with
``--only constitutional constitutional-long --out
benchmarks/results/constitutional-cpu-2core.json``).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from ch10_alignment.cli import app
from llmpath_core.bench import record_cli_main

PROG = "ch10-alignment"
OUT = Path(__file__).parent / "results" / "readme-cli-cpu-2core.json"

EXAMPLES: dict[str, list[str]] = {
    "reward-model": shlex.split("reward-model --out /tmp/ch10-rm"),
    "dpo": shlex.split("dpo --beta 0.1 --max-steps 20 --out /tmp/ch10-dpo"),
    "demo": ["demo"],
    "rl-grpo": shlex.split("rl --algo grpo --steps 12 --lr 5e-4 --out /tmp/ch10-grpo"),
    "rl-rloo": shlex.split("rl --algo rloo --steps 12 --lr 5e-4"),
    "rl-ppo": shlex.split("rl --algo ppo --steps 12 --lr 5e-4"),
    "rl-grpo-rm": shlex.split("rl --algo grpo --reward rm --steps 12 --lr 5e-4"),
    "frontier": shlex.split("frontier --out /tmp/ch10-frontier"),
    "trl-compare-dpo": shlex.split("trl-compare --algo dpo --steps 3"),
    "trl-compare-grpo": shlex.split("trl-compare --algo grpo --steps 3"),
    "trl-compare-rloo": shlex.split("trl-compare --algo rloo --steps 3"),
    "constitutional": shlex.split("constitutional --out /tmp/ch10-cai"),
    "constitutional-long": shlex.split("constitutional --max-steps 20 --lr 3e-4"),
}

if __name__ == "__main__":
    record_cli_main(app, PROG, EXAMPLES, OUT)
