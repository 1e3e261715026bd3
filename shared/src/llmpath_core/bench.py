"""Benchmark helpers: warm-up, repeats, median, and side-by-side ratios measured in one process.

Speed targets in llmpath are ratios against an anchor library measured in the same run
(``compare``), never absolute timings asserted in tests. Runs of the two implementations are
interleaved so that drift in machine load hits both alike.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


def _synchronize() -> None:
    # wait for queued CUDA kernels, if torch is in use and CUDA was initialised
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


@dataclass
class Timing:
    """Wall-clock timings of one callable, in seconds."""

    name: str
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "median_s": self.median,
            "best_s": self.best,
            "repeats": len(self.times),
        }


def _time_once(fn: Callable[[], Any]) -> float:
    _synchronize()
    start = time.perf_counter()
    fn()
    _synchronize()
    return time.perf_counter() - start


def measure(
    fn: Callable[[], Any], *, name: str = "fn", warmup: int = 1, repeats: int = 5
) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed (CUDA synchronised)."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(warmup):
        fn()
    return Timing(name, [_time_once(fn) for _ in range(repeats)])


@dataclass
class Comparison:
    """Two implementations of the same job, measured side by side.

    ``speedup`` is ``anchor.median / ours.median``: above 1 means ours is faster.
    """

    task: str
    ours: Timing
    anchor: Timing
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        return self.anchor.median / self.ours.median

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "ours": self.ours.name,
            "ours_median_s": self.ours.median,
            "anchor": self.anchor.name,
            "anchor_median_s": self.anchor.median,
            "speedup": self.speedup,
            **self.extra,
        }


def compare(
    task: str,
    ours: Callable[[], Any],
    anchor: Callable[[], Any],
    *,
    names: tuple[str, str] = ("ours", "anchor"),
    warmup: int = 1,
    repeats: int = 5,
) -> Comparison:
    """Measure ``ours`` against ``anchor`` in this process, interleaving their runs."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(warmup):
        ours()
        anchor()
    a, b = Timing(names[0]), Timing(names[1])
    for _ in range(repeats):
        a.times.append(_time_once(ours))
        b.times.append(_time_once(anchor))
    return Comparison(task, a, b)


def results_rows(results: Sequence[Comparison]) -> list[dict[str, Any]]:
    """Rows for :func:`llmpath_core.report.print_table` / JSON output."""
    return [r.to_dict() for r in results]


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on, for READMEs and benchmark JSON."""
    import os
    import platform

    import torch

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def run_json(app: Any, args: Sequence[str]) -> tuple[dict[str, Any], float]:
    """Run a chapter's typer ``app`` in this process with ``--json``: ``(result, seconds)``."""
    import contextlib
    import io
    import json

    from llmpath_core.cli import run_app

    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        try:
            run_app(app, [*args, "--json"])
        except SystemExit as exc:
            if exc.code:
                raise RuntimeError(f"{' '.join(args)} exited with {exc.code}") from None
    return json.loads(out.getvalue()), time.perf_counter() - start


def record_cli_examples(
    app: Any, prog: str, examples: dict[str, list[str]], out: Any, only: Sequence[str] = ()
) -> dict[str, Any]:
    """Run a README's CLI ``examples`` (name -> argv) in process and keep their JSON results.

    ``out`` (a JSON file) gets each command's argv, wall time and result, the machine and the
    date, rewritten after every command so a long run keeps what it finished; commands not
    re-run keep their earlier entries. Commands run with one torch thread, as the READMEs say.
    This is how every number a README quotes has a source.
    """
    import json
    from pathlib import Path

    from llmpath_core.io import write_json

    out = Path(out)
    results = json.loads(out.read_text()) if out.is_file() else {"commands": {}}
    from llmpath_core.testing import torch_threads

    for name in only or sorted(examples):
        with torch_threads(1):
            result, seconds = run_json(app, examples[name])
        results["commands"][name] = {
            "argv": [prog, *examples[name], "--json"],
            "wall_s": seconds,
            "result": result,
        }
        print(f"{name}: {seconds:.1f} s", file=sys.stderr, flush=True)
        results["machine"] = machine_info()
        results["date"] = time.strftime("%Y-%m-%d")
        write_json(out, results)
    return results


def record_cli_main(app: Any, prog: str, examples: dict[str, list[str]], default_out: Any) -> None:
    """The command line of a chapter's ``benchmarks/record_cli_examples.py``: ``--only --out``."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description=f"Record the JSON results of {prog}'s examples.")
    parser.add_argument("--only", nargs="+", choices=sorted(examples), default=sorted(examples))
    parser.add_argument("--out", type=Path, default=Path(default_out))
    args = parser.parse_args()
    record_cli_examples(app, prog, examples, args.out, args.only)


def run_captured(app: Any, argv: Sequence[str]) -> tuple[Any, str, str]:
    """Run a chapter's typer ``app`` in this process: ``(exit code, stdout, stderr)``."""
    import contextlib
    import io

    from llmpath_core.cli import run_app

    stdout, stderr = io.StringIO(), io.StringIO()
    code: Any = 0
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            run_app(app, list(argv))
        except SystemExit as exc:
            code = exc.code
    return code, stdout.getvalue(), stderr.getvalue()


def record_cli_errors(
    app: Any, prog: str, errors: dict[str, list[str]], out: Any
) -> dict[str, Any]:
    """Run a README's bad-input examples (name -> argv) in process and keep what they answered.

    Each entry of ``out``'s ``errors`` gets the argv, exit code, stdout and stderr, so the README's
    "one clear line, exit 2" examples have a source like every other output.
    """
    import json
    from pathlib import Path

    from llmpath_core.io import write_json

    out = Path(out)
    results = json.loads(out.read_text()) if out.is_file() else {"commands": {}}
    recorded = results.setdefault("errors", {})
    for name, argv in errors.items():
        code, stdout, stderr = run_captured(app, argv)
        recorded[name] = {
            "argv": [prog, *argv],
            "exit_code": code,
            "stdout": stdout,
            "stderr": stderr,
        }
    write_json(out, results)
    return results


__all__ = [
    "Comparison",
    "Timing",
    "compare",
    "machine_info",
    "measure",
    "record_cli_errors",
    "record_cli_examples",
    "record_cli_main",
    "results_rows",
    "run_captured",
    "run_json",
]
