"""An evaluation report: scores with confidence intervals, comparisons, checks, in Markdown/HTML.

The rule the report follows: never a score without its interval and its n, and never "A beats B"
without a paired test on the same items.
"""

from __future__ import annotations

import html
from pathlib import Path

from llmpath_core import atomic_write


def scores_plot(rows: list[dict], path: str | Path) -> Path:
    """Horizontal bars of each (task, metric) score with its 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['task']} {r['metric']}" for r in rows]
    values = [r["value"] for r in rows]
    errors = [[r["value"] - r["low"] for r in rows], [r["high"] - r["value"] for r in rows]]
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(rows) + 1))
    ax.barh(labels, values, xerr=errors, capsize=3, color="#4c72b0")
    ax.set_xlim(0, 1)
    ax.set_xlabel("score (95% CI)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=80)
    plt.close(fig)
    return path


def markdown_report(title: str, sections: dict[str, list[dict] | str]) -> str:
    """Markdown: each section a paragraph or a table of rows."""
    out = [f"# {title}", ""]
    for name, body in sections.items():
        out += [f"## {name}", ""]
        if isinstance(body, str):
            out += [body, ""]
            continue
        if not body:
            continue
        cols = list(body[0])
        out.append("| " + " | ".join(cols) + " |")
        out.append("|" + "---|" * len(cols))
        for row in body:
            out.append("| " + " | ".join(_fmt(row.get(c)) for c in cols) + " |")
        out.append("")
    return "\n".join(out)


def html_report(title: str, sections: dict[str, list[dict] | str], image: str | None = None) -> str:
    """The same report as one HTML page (with the scores plot if given)."""
    parts = [
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if image:
        parts.append(f"<img alt='scores' src='{html.escape(image)}'>")
    for name, body in sections.items():
        parts.append(f"<h2>{html.escape(name)}</h2>")
        if isinstance(body, str):
            parts.append(f"<p>{html.escape(body)}</p>")
        elif body:
            cols = list(body[0])
            head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>"
                for r in body
            )
            parts.append(f"<table border=1><tr>{head}</tr>{rows}</table>")
    return "\n".join(parts)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)
