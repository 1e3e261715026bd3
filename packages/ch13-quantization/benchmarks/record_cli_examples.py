"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, its defaults, one
torch thread); the results go into one JSON file with the machine and each command's wall time.
The README's bad-request example (a group size that does not divide a layer of the default
model) is run the same way and recorded under ``errors`` with its exit code, its stderr line and
whether its ``--out`` folder exists afterwards.

Run: ``OMP_NUM_THREADS=1 uv run python packages/ch13-quantization/benchmarks/record_cli_examples.py
[--only formats analyze ...] [--out FILE]`` (default file:
``benchmarks/results/readme-cli-cpu-2core.json``; an existing file keeps the commands not re-run).
Commands run in sorted name order, so ``quantize-gptq3`` writes the folder that
``quantize-gptq3-eval`` reloads.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import torch

from ch13_quantization.cli import app
from llmpath_core.bench import record_cli_main, run_captured
from llmpath_core.io import write_json

PROG = "ch13-quantization"
OUT = Path(__file__).parent / "results" / "readme-cli-cpu-2core.json"
GPTQ_DIR = "/tmp/ch13-gptq3"

EXAMPLES: dict[str, list[str]] = {
    "formats": ["formats"],
    "analyze": ["analyze"],
    "quantize-gptq3": shlex.split(
        f"quantize --method gptq --bits 3 --group-size -1 --out {GPTQ_DIR}"
    ),
    "quantize-gptq3-eval": ["eval", "--model", GPTQ_DIR],
    "quantize-smoothquant-auto": shlex.split(
        "quantize --method smoothquant --bits 8 --alpha auto --calib-samples 16 --out /tmp/ch13-sq"
    ),
    "export-gguf-q8_0": shlex.split("export-gguf --type q8_0 --out /tmp/ch13-default-q8_0.gguf"),
    "export-gguf-q4_0": shlex.split("export-gguf --type q4_0 --out /tmp/ch13-default-q4_0.gguf"),
    "export-onnx-int8": shlex.split("export-onnx --int8 --out /tmp/ch13-onnx/default-int8.onnx"),
}

# name -> (argv, the folder the command must not leave behind)
ERRORS: dict[str, tuple[list[str], str]] = {
    "quantize-bad-group-size": (
        shlex.split("quantize --method rtn --bits 4 --group-size 128 --out /tmp/ch13-bad"),
        "/tmp/ch13-bad",
    ),
}


def record_errors(out: Path) -> None:
    """Run each bad-request example in process; keep its exit code, stderr and leftovers."""
    results = json.loads(out.read_text()) if out.is_file() else {"commands": {}}
    errors = results.setdefault("errors", {})
    for name, (argv, must_not_exist) in ERRORS.items():
        shutil.rmtree(must_not_exist, ignore_errors=True)
        code, stdout, stderr = run_captured(app, argv)
        errors[name] = {
            "argv": [PROG, *argv],
            "exit_code": code,
            "stdout": stdout,
            "stderr": stderr,
            "out_exists_after": Path(must_not_exist).exists(),
        }
    write_json(out, results)


def main() -> None:
    torch.set_num_threads(1)
    record_cli_main(app, PROG, EXAMPLES, OUT)
    record_errors(OUT)


if __name__ == "__main__":
    main()
