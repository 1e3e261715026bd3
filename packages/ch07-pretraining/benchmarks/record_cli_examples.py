"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, its defaults, one
torch thread); the results go into one JSON file with the machine and each command's wall time.

Run: ``uv run python packages/ch07-pretraining/benchmarks/record_cli_examples.py
[--only demo curriculum] [--out FILE]`` (default file:
``benchmarks/results-cli-cpu-2core.json``; an existing file keeps the commands not re-run).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from ch07_pretraining.cli import app
from llmpath_core import machine_info, write_json
from llmpath_core.cli import run_app

EXAMPLES: dict[str, list[str]] = {
    "demo": ["demo"],
    "curriculum": ["curriculum"],
}


def run_json(args: list[str]) -> tuple[dict, float]:
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        try:
            run_app(app, [*args, "--json"])
        except SystemExit as exc:
            if exc.code:
                raise RuntimeError(f"{' '.join(args)} exited with {exc.code}") from None
    return json.loads(out.getvalue()), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(EXAMPLES), default=sorted(EXAMPLES))
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("results-cli-cpu-2core.json")
    )
    args = parser.parse_args()
    results = json.loads(args.out.read_text()) if args.out.is_file() else {"commands": {}}
    for name in args.only:
        result, seconds = run_json(EXAMPLES[name])
        results["commands"][name] = {
            "argv": ["ch07-pretraining", *EXAMPLES[name], "--json"],
            "wall_s": seconds,
            "result": result,
        }
        print(f"{name}: {seconds:.1f} s", flush=True)
        results["machine"] = machine_info()
        results["date"] = time.strftime("%Y-%m-%d")
        write_json(args.out, results)  # after each command: a long run keeps what it finished


if __name__ == "__main__":
    main()
