"""The report card of a `llmpath path` run: DIR/report.md, DIR/report.json and DIR/loss.png.

One row per stage: what it produced, its headline number (from the chapter's own ``--json``
result), wall time, peak memory, and whether this run reused it. Written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmpath_core.io import write_json, write_text


def stage_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report card's table: one row per stage."""
    return [
        {
            "stage": r["stage"],
            "what": r.get("what", ""),
            "headline": r["result"].get("headline", ""),
            "wall_s": r["wall_s"],
            "peak_rss_mb": r["peak_rss_mb"],
            "skipped": r.get("skipped", False),
        }
        for r in records
    ]


def loss_plot(out: Path) -> Path | None:
    """Pretraining's validation loss curve (ch07's metrics.jsonl), if the run has one."""
    metrics = out / "pretrain" / "model" / "metrics.jsonl"
    if not metrics.is_file():
        return None
    from llmpath_core.report import line_plot

    points = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    val = [(p["step"], p["val_bpb"]) for p in points if "val_bpb" in p]
    if not val:
        return None
    xs, ys = zip(*val, strict=True)
    return line_plot(
        out / "loss.png",
        {"validation bits/byte": (xs, ys)},
        title="pretraining from zero (ch07)",
        xlabel="step",
        ylabel="bits per byte",
    )


def write_report(out: Path, records: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """Write report.json, report.md (and loss.png); return the report dict."""
    rows = stage_rows(records)
    plot = loss_plot(out)
    report = {
        **meta,
        "stages": rows,
        "results": {r["stage"]: r["result"] for r in records},
        "total_wall_s": round(sum(r["wall_s"] for r in rows if not r["skipped"]), 1),
        "plot": str(plot) if plot else None,
    }
    write_json(out / "report.json", report)
    lines = [
        f"# llmpath path report card ({meta.get('preset', '')})",
        "",
        f"Machine: {meta.get('machine', '')}. Run finished {meta.get('finished', '')}.",
        "",
        "| stage | what | headline | wall s | peak MB | reused |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['stage']} | {r['what']} | {r['headline']} | {r['wall_s']:.1f} "
            f"| {r['peak_rss_mb']:.0f} | {'yes' if r['skipped'] else 'no'} |"
        )
    if plot:
        lines += ["", f"![pretraining loss]({plot.name})"]
    lines += [
        "",
        "Every number comes from a chapter's own `--json` result; the commands are in "
        "`records/STAGE.json` and each stage's log in `logs/STAGE.log`.",
        "",
    ]
    write_text(out / "report.md", "\n".join(lines))
    return report
