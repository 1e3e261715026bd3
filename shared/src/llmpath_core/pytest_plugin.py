"""pytest plugin (registered as ``llmpath`` in the ``pytest11`` entry points of llmpath-core).

Declares the ``gpu`` and ``slow`` markers and skips them where they cannot or should not run:
``gpu`` tests without CUDA, ``slow`` tests unless ``LLMPATH_SLOW=1``. Because the plugin ships with
llmpath-core, a chapter's tests behave the same in the monorepo and in an environment holding only
that chapter.

It also times the tests per package (the workspace member holding each test file) and prints a
table at the end, flagging packages over a budget; see ``_PackageTimes`` below.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpu: needs a CUDA device; skipped without one")
    config.addinivalue_line("markers", "slow: long-running; skipped unless LLMPATH_SLOW=1")
    if not hasattr(config, "workerinput"):  # under pytest-xdist, only the controller reports
        config.pluginmanager.register(_PackageTimes(config), "llmpath-package-times")


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of llmpath-core
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run_slow = os.environ.get("LLMPATH_SLOW") == "1"
    has_gpu = None
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(pytest.mark.skip(reason="slow test: set LLMPATH_SLOW=1 to run"))
        if "gpu" in item.keywords:
            if has_gpu is None:
                has_gpu = _cuda_available()
            if not has_gpu:
                item.add_marker(pytest.mark.skip(reason="needs CUDA"))


# -- test time per package ---------------------------------------------------------------------
# Every report's duration (setup + call + teardown) is added to the workspace member that holds
# the test file: the nearest folder above it with a pyproject.toml naming a [project]. At the end a
# table shows each package's test count and seconds and flags any over the budget (default 90 s;
# the `llmpath_test_budget_s` ini option or LLMPATH_TEST_BUDGET_S sets it). With
# `--llmpath-times PATH` (or LLMPATH_TEST_TIMES=PATH) the table is also written as JSON, for CI.

DEFAULT_BUDGET_S = 90.0
LLMPATH_PACKAGE = re.compile(r"^(llmpath|llmpath-core|ch\d\d-[a-z0-9-]+)$")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "llmpath_test_budget_s",
        "seconds of test time a package may take before it is flagged (LLMPATH_TEST_BUDGET_S)",
        default=str(DEFAULT_BUDGET_S),
    )
    parser.getgroup("llmpath").addoption(
        "--llmpath-times",
        metavar="PATH",
        default=None,
        help="write the per-package test times as JSON to PATH (or set LLMPATH_TEST_TIMES)",
    )


class _PackageTimes:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.root = config.rootpath
        self.by_dir: dict[Path, str] = {}
        self.rows: dict[str, dict[str, float]] = {}

    def package_of(self, path: Path) -> str:
        folder = path.parent
        seen = []
        name = None
        while True:
            if folder in self.by_dir:
                name = self.by_dir[folder]
                break
            seen.append(folder)
            pyproject = folder / "pyproject.toml"
            if pyproject.is_file():
                try:
                    name = tomllib.loads(pyproject.read_text())["project"]["name"]
                except (KeyError, OSError, tomllib.TOMLDecodeError):
                    name = None
                if name:
                    break
            if folder == self.root or folder.parent == folder:
                name = folder.name or str(folder)
                break
            folder = folder.parent
        for f in seen:
            self.by_dir[f] = name
        return name

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        path = self.root / report.nodeid.split("::", 1)[0]
        row = self.rows.setdefault(
            self.package_of(path),
            {"tests": 0, "passed": 0, "failed": 0, "skipped": 0, "seconds": 0.0},
        )
        row["seconds"] += report.duration
        if report.when == "call" or (report.when == "setup" and not report.passed):
            row["tests"] += 1
            outcome = "failed" if report.failed else report.outcome
            row[outcome] = row.get(outcome, 0) + 1
        elif report.when == "teardown" and report.failed:
            row["failed"] += 1

    def budget(self) -> float:
        raw = os.environ.get("LLMPATH_TEST_BUDGET_S") or self.config.getini("llmpath_test_budget_s")
        try:
            return float(raw)
        except (TypeError, ValueError):
            return DEFAULT_BUDGET_S

    def rows_out(self) -> list[dict[str, object]]:
        budget = self.budget()
        return [
            {
                "package": name,
                **{k: int(row[k]) for k in ("tests", "passed", "failed", "skipped")},
                "seconds": round(row["seconds"], 1),
                "over_budget": row["seconds"] > budget,
            }
            for name, row in sorted(self.rows.items())
            if LLMPATH_PACKAGE.match(name)  # other projects that install llmpath-core: no table
        ]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        rows, budget = self.rows_out(), self.budget()
        if not rows:
            return
        write = terminalreporter.write_line
        terminalreporter.write_sep("=", f"llmpath: test time per package (budget {budget:g} s)")
        width = max(len("package"), *(len(str(r["package"])) for r in rows))
        write(f"{'package':<{width}}  {'tests':>5}  {'passed':>6}  {'failed':>6}  "
              f"{'skipped':>7}  {'seconds':>7}")  # fmt: skip
        for r in rows:
            flag = "  OVER BUDGET" if r["over_budget"] else ""
            write(f"{r['package']:<{width}}  {r['tests']:>5}  {r['passed']:>6}  {r['failed']:>6}  "
                  f"{r['skipped']:>7}  {r['seconds']:>7.1f}{flag}")  # fmt: skip
        over = [str(r["package"]) for r in rows if r["over_budget"]]
        if over:
            write(f"over the {budget:g} s budget: {', '.join(over)}", yellow=True, bold=True)
        path = self.config.getoption("--llmpath-times") or os.environ.get("LLMPATH_TEST_TIMES")
        if path:
            out = Path(path)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps({"budget_s": budget, "packages": rows}, indent=1) + "\n")
