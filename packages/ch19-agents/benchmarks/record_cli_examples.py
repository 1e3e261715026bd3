"""Record the JSON results of the README's CLI examples, so every number there has a source.

Each command runs in this process exactly as on the command line (``--json``, its defaults, one
torch thread). The workflow crash example must really end its process, so it and the
bad-request examples run as the console script in subprocesses and are recorded under
``subprocess`` with exit code, stdout and stderr.

Run: ``OMP_NUM_THREADS=1 uv run python packages/ch19-agents/benchmarks/record_cli_examples.py
[--only demo ...] [--out FILE]`` (default: ``benchmarks/results/readme-cli-cpu-2core.json``).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from ch19_agents.cli import app
from llmpath_core.bench import record_cli_main
from llmpath_core.io import write_json

PROG = "ch19-agents"
OUT = Path(__file__).parent / "results" / "readme-cli-cpu-2core.json"
TMP = Path("/tmp/ch19-readme")

EXAMPLES: dict[str, list[str]] = {
    "check-calls": ["check-calls"],
    "sandbox": ["sandbox"],
    "smarthome": ["smarthome"],
    "plan": ["plan"],
    "langgraph": ["langgraph"],
    "team": ["team"],
    "team-fail": shlex.split("team --fail-agent technical"),
    "repair": ["repair"],
    "bench": shlex.split("bench --n 4"),
    "demo": ["demo"],
}

SUBPROCESS: dict[str, list[str]] = {
    "sandbox-spin": ["sandbox", "--code", str(TMP / "spin.py"), "--timeout", "1"],
    "workflow-crash": shlex.split(
        f"workflow run --db {TMP}/wf.db --id guest1 --crash during:lights"
    ),
    "workflow-resume": shlex.split(f"workflow resume --db {TMP}/wf.db --id guest1"),
    "workflow-approve": shlex.split(f"workflow approve --db {TMP}/wf.db"),
    "workflow-unknown-id": shlex.split(f"workflow status --db {TMP}/wf.db --id nope"),
    "check-calls-bad-line": [
        "check-calls",
        "--cases",
        str(TMP / "bad.jsonl"),
    ],
    "check-calls-bad-schema": [
        "check-calls",
        "--functions",
        str(TMP / "bad.json"),
    ],
}


def record_subprocess(out: Path) -> None:
    import shutil

    shutil.rmtree(TMP, ignore_errors=True)
    TMP.mkdir(parents=True)
    (TMP / "spin.py").write_text("while True:\n    pass\n")
    good = '{"id": "a", "predicted": [], "expected": []}\n'
    (TMP / "bad.jsonl").write_text(good + '{"id": "b", "predicted": [}\n')
    (TMP / "bad.json").write_text(
        json.dumps(
            [
                {
                    "name": "f",
                    "parameters": {"type": "object", "properties": {"x": {"type": "strng"}}},
                }
            ]
        )
    )
    results = json.loads(out.read_text()) if out.is_file() else {"commands": {}}
    results["subprocess"] = {}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LLMPATH_PROGRESS": "0"}
    for name, argv in SUBPROCESS.items():
        proc = subprocess.run(
            [sys.executable, "-m", "ch19_agents.cli", *argv, "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        results["subprocess"][name] = {
            "argv": [PROG, *argv, "--json"],
            "exit_code": proc.returncode,
            "stdout": proc.stdout,
            "stderr": proc.stderr.strip().splitlines()[-1:] if proc.stderr.strip() else [],
        }
        print(f"{name}: exit {proc.returncode}", file=sys.stderr)
    write_json(out, results)


def main() -> None:
    record_cli_main(app, PROG, EXAMPLES, OUT)
    record_subprocess(OUT)


if __name__ == "__main__":
    main()
