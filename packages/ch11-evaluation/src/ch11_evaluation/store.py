"""A results store for continuous evaluation: every run appends its scores; a dashboard plots them.

One SQLite file, one row per (run, task, metric) with the standard error, the model and a version
label (a checkpoint step, a git tag, a date). :meth:`ResultsStore.dashboard` writes a single HTML
page with a plot of each task's score over versions, error bars of ±1.96 standard errors, and the
table of runs, so a regression between two versions is visible at a glance.
"""

from __future__ import annotations

import base64
import html
import io
import sqlite3
import time
from pathlib import Path

from llmpath_core import UserError, atomic_write

SCHEMA = """CREATE TABLE IF NOT EXISTS scores (
    run_id INTEGER, created REAL, model TEXT, version TEXT, task TEXT, metric TEXT,
    value REAL, stderr REAL, n INTEGER)"""
METRICS = ("acc", "acc_norm", "exact_match", "pass_at_1")


class ResultsStore:
    """Append-only scores in SQLite."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise UserError(f"results store {self.path} is a folder: give a .sqlite file path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path)

    def append(self, result: dict, *, version: str | None = None) -> int:
        """Store the metrics of one ``evaluate_task`` result; returns the run id."""
        rows = [(k, float(result[k]), result.get(f"{k}_stderr")) for k in METRICS if k in result]
        if not rows:
            raise UserError("the result has no metric to store (acc, acc_norm, exact_match...)")
        with self._db() as db:
            run_id = (db.execute("SELECT COALESCE(MAX(run_id), 0) + 1 FROM scores").fetchone())[0]
            now = time.time()
            db.executemany(
                "INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        now,
                        result.get("model", "?"),
                        version or result.get("model", "?"),
                        result.get("task", "?"),
                        m,
                        v,
                        s,
                        result.get("n"),
                    )
                    for m, v, s in rows
                ],
            )
        return int(run_id)

    def rows(self) -> list[dict]:
        with self._db() as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM scores ORDER BY run_id, metric")]

    def dashboard(self, out: str | Path, metric: str = "acc") -> Path:
        """Write an HTML page: score over versions per task (±1.96 SE), and every stored row."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = self.rows()
        fig, ax = plt.subplots(figsize=(6, 3.2))
        for task in sorted({r["task"] for r in rows}):
            pts = [r for r in rows if r["task"] == task and r["metric"] == metric]
            if pts:
                ax.errorbar(
                    [r["version"] for r in pts],
                    [r["value"] for r in pts],
                    yerr=[1.96 * (r["stderr"] or 0) for r in pts],
                    marker="o",
                    capsize=3,
                    label=task,
                )
        ax.set_ylabel(metric)
        ax.set_xlabel("model version")
        ax.legend(fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        image = base64.b64encode(buf.getvalue()).decode()
        cols = ["run_id", "version", "model", "task", "metric", "value", "stderr", "n"]
        table = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in cols) + "</tr>"
            for r in rows
        )
        page = (
            "<!doctype html><meta charset=utf-8><title>evaluation dashboard</title>"
            f"<h1>Scores over model versions ({html.escape(metric)})</h1>"
            f"<img alt='{html.escape(metric)} over versions' src='data:image/png;base64,{image}'>"
            "<table border=1><tr>" + "".join(f"<th>{c}</th>" for c in cols) + f"</tr>{table}"
            "</table>"
        )
        out = Path(out)
        with atomic_write(out, "w") as f:
            f.write(page)
        return out
