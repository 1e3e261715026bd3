"""PNG plots of the context-extension lab (matplotlib through ``llmpath_core.line_plot``)."""

from __future__ import annotations

from pathlib import Path

from llmpath_core import line_plot


def plot_extension(result: dict, out: str | Path) -> list[Path]:
    """Loss by position and passkey accuracy by depth at the longest length, per factor."""
    out = Path(out)
    train_len = result["config"]["train_len"]
    paths = []
    for factor in sorted({r["factor"] for r in result["rows"]}):
        rows = [r for r in result["rows"] if r["factor"] == factor]
        loss = {}
        acc = {}
        for r in rows:
            label = r["method"] + (" + ft" if r["finetuned"] else "")
            xs = [(i + 1) * train_len for i in range(len(r["loss_by_position"]))]
            loss[label] = (xs, r["loss_by_position"])
            by_depth = r["passkey"][str(train_len * factor)]
            acc[label] = ([float(d) for d in by_depth], list(by_depth.values()))
        paths.append(
            line_plot(
                out / f"loss_by_position_x{factor}.png",
                loss,
                title=f"held-out loss by position, trained at {train_len}, extended x{factor}",
                xlabel="end of position slice (bytes)",
                ylabel="loss (nats/byte)",
            )
        )
        paths.append(
            line_plot(
                out / f"passkey_by_depth_x{factor}.png",
                acc,
                title=f"passkey accuracy at length {train_len * factor} by depth",
                xlabel="depth of the key",
                ylabel="accuracy",
            )
        )
    return paths


__all__ = ["plot_extension"]
