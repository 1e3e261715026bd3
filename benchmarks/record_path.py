"""Run `llmpath path`, kill it (SIGKILL) during pretraining, resume it, and record the report card.

    uv run python benchmarks/record_path.py --preset tiny --out /tmp/llmpath-path

writes benchmarks/results/path-PRESET-cpu-2core.json: the report card (every stage's headline,
result, wall time and peak memory), how the run was interrupted and resumed, and the machine.
With ``--no-kill`` it only runs (or resumes) the pipeline. If ``--out`` holds an interrupted run
already (checkpoints but no pretrain record), the script resumes it and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

from llmpath_core.io import write_json

RESULTS = Path(__file__).parent / "results"


def _checkpoints(out: Path) -> list[str]:
    folder = out / "work" / "pretrain" / "run" / "checkpoints"
    return sorted(p.name for p in folder.glob("step-*")) if folder.is_dir() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--kill", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--note", default="", help="one line about the machine's load")
    parser.add_argument(
        "--interrupted", default=None, help="how an earlier run of --out was interrupted, if so"
    )
    args = parser.parse_args()
    out = args.out.resolve()
    argv = [sys.executable, "-m", "llmpath.cli", "path", "--preset", args.preset]
    argv += ["--out", str(out)]
    interrupted = {"how": args.interrupted} if args.interrupted else None
    started = time.time()
    if interrupted:
        pass
    elif not (out / "records" / "pretrain.json").is_file() and _checkpoints(out):
        interrupted = {
            "how": "an earlier run of this folder was killed (SIGKILL) during pretraining",
            "checkpoints_at_kill": _checkpoints(out),
        }
    elif args.kill and not (out / "records" / "pretrain.json").is_file():
        proc = subprocess.Popen(argv, start_new_session=True)
        while proc.poll() is None and not [c for c in _checkpoints(out) if c != "step-000000"]:
            time.sleep(2)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            interrupted = {
                "how": "SIGKILL to the pipeline and ch07's trainer after the first checkpoint",
                "checkpoints_at_kill": _checkpoints(out),
                "seconds_before_kill": round(time.time() - started, 1),
            }
    done = subprocess.run([*argv, "--json"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"llmpath path failed:\n{done.stderr[-4000:]}")
    report = json.loads(done.stdout)
    result = {
        "preset": args.preset,
        "command": f"llmpath path --preset {args.preset}",
        "interrupted": interrupted,
        "resumed_from": report["results"].get("pretrain", {}).get("resumed_from"),
        "stages": report["stages"],
        "results": report["results"],
        "wall_s_this_script": round(time.time() - started, 1),
        "note": args.note,
        "machine": {
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
        },
        "date": time.strftime("%Y-%m-%d"),
    }
    path = write_json(RESULTS / f"path-{args.preset}-cpu-2core.json", result)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
