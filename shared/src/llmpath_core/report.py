"""Reporting results: rich tables, JSON that always serialises, and headless PNG plots."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def to_jsonable(obj: Any) -> Any:
    """Convert results (dataclasses, paths, numpy and torch scalars/arrays) into plain JSON types.

    Non-finite floats become ``None`` so the output is strict JSON.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, torch tensors
        return to_jsonable(obj.tolist())
    if hasattr(obj, "item"):
        return to_jsonable(obj.item())
    return str(obj)


def format_value(value: Any, digits: int = 4) -> str:
    """Human formatting for table cells: floats to ``digits`` significant digits."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}"
    return str(value)


def make_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> Table:
    """A rich table from a list of dicts; columns default to every key, in order of appearance.

    A cell missing from a row shows as ``-``.
    """
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    table = Table(title=title, header_style="bold")
    for column in columns:
        values = [row[column] for row in rows if row.get(column) is not None]
        numeric = bool(values) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        )
        table.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(format_value(row.get(c)) for c in columns))
    return table


def print_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    title: str | None = None,
    console: Console | None = None,
) -> None:
    """Print :func:`make_table` on ``console`` (stdout by default)."""
    (console or Console()).print(make_table(rows, columns, title=title))


def line_plot(
    path: str | os.PathLike,
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    logx: bool = False,
    logy: bool = False,
    markers: bool = True,
) -> Path:
    """Save a PNG line plot of ``{label: (xs, ys)}`` atomically and return its path.

    Uses matplotlib's headless Agg backend, so it works on servers and in CI.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), dpi=120)
    ax = fig.add_subplot()
    for label, (xs, ys) in series.items():
        ax.plot(list(xs), list(ys), marker="o" if markers else None, markersize=3, label=label)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def save_figure(fig: Any, path: str | os.PathLike) -> Path:
    """Save a matplotlib figure as PNG atomically (no half-written image on failure)."""
    from llmpath_core.io import atomic_write

    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png")
    return Path(path)


__all__ = ["format_value", "line_plot", "make_table", "print_table", "save_figure", "to_jsonable"]
