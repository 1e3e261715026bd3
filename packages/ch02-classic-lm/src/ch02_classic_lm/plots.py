"""The chapter's figures (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

from llmpath_core.report import save_figure


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_gradient_reach(curves: dict[str, list[float]], path: str | Path) -> Path:
    """``||d loss_T / d x_t||`` against steps back from T, log scale, one line per cell."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for kind, values in curves.items():
        back = list(range(len(values) - 1, -1, -1))
        ax.semilogy(back, [max(v, 1e-30) for v in values], label=kind)
    ax.set_xlabel("steps back from the predicted character")
    ax.set_ylabel("gradient norm")
    ax.set_title("how far back the gradient reaches", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = save_figure(fig, path)
    plt.close(fig)
    return out


def plot_compare(result: dict, path: str | Path) -> Path:
    """Bits per character against context length, one line per model."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for model in dict.fromkeys(r["model"] for r in result["rows"]):
        rows = [r for r in result["rows"] if r["model"] == model]
        ax.plot(
            [r["context"] for r in rows], [r["bits/char"] for r in rows], marker="o", label=model
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context length (characters)")
    ax.set_ylabel("held-out bits / char")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = save_figure(fig, path)
    plt.close(fig)
    return out
