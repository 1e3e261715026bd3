"""Run ch05's tests and keep the numbers they measure, so the README's test table has a source.

    uv run python packages/ch05-transformer/benchmarks/record_test_measurements.py

Tests record what they measure with pytest's ``record_property`` (a max-abs difference, a loss,
an accuracy); this script runs the package's tests with ``--junitxml``, reads those properties
back, and writes them with each test's outcome to ``benchmarks/results-tests-cpu-2core.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent


def main() -> None:
    from llmpath_core import atomic_write, machine_info

    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", str(PACKAGE / "tests"), "-q", f"--junitxml={report}"],
            check=False,
        )
        seconds = time.perf_counter() - start
        root = ET.parse(report).getroot()
    tests = {}
    for case in root.iter("testcase"):
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = tag
        props = {
            p.get("name"): float(p.get("value"))
            for p in case.iter("property")
            if p.get("name") is not None
        }
        if props or outcome != "passed":
            tests[f"{case.get('classname')}::{case.get('name')}"] = {
                "outcome": outcome,
                "measured": props,
            }
    payload = {
        "command": "uv run python packages/ch05-transformer/benchmarks/record_test_measurements.py",
        "pytest_exit_code": proc.returncode,
        "seconds": round(seconds, 1),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "tests": tests,
    }
    out = HERE / "results-tests-cpu-2core.json"
    with atomic_write(out) as f:
        json.dump(payload, f, indent=1)
    print(f"wrote {out} ({len(tests)} tests with measurements or not passed)")
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
