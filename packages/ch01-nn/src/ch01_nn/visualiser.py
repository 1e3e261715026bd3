"""The optimizer visualiser: races on the classic surfaces, sweeps, contour plots and a GIF.

Every optimizer of :mod:`ch01_nn.optim` (the same classes that train the MLP) is run on each
surface of :mod:`ch01_nn.surfaces`. A sweep over learning rates runs as one batch: the
parameter is an ``(n_rates, 2)`` array and the optimizer's rate an ``(n_rates, 1)`` array, so
every rate moves in the same NumPy call. "Steps to converge" is the first step at which
``f − f* < tol`` (the surface's tolerance); a run that never gets there within the budget (or
diverges) has no step count.

The race gives each optimizer its best rate from :data:`LR_GRID` on each surface (the fair
comparison: every method at its own best setting), then draws the trajectories on contour
plots and animates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ch01_nn.autodiff import Tensor
from ch01_nn.optim import OPTIMIZERS, make_optimizer
from ch01_nn.surfaces import SURFACES, Surface

LR_GRID = np.array([1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0])
COLORS = dict(
    zip(OPTIMIZERS, ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"], strict=True)
)


@dataclass
class Sweep:
    """One optimizer on one surface at several rates: steps to converge per rate (-1 = never)."""

    surface: str
    optimizer: str
    lrs: np.ndarray
    steps: np.ndarray
    final_gap: np.ndarray
    paths: np.ndarray  # (steps + 1, n_rates, 2)

    def best(self) -> int:
        """Index of the best rate: fewest steps among converged runs, else the lowest final gap."""
        ok = self.steps >= 0
        if ok.any():
            return int(np.where(ok, self.steps, np.iinfo(np.int64).max).argmin())
        gaps = np.where(np.isfinite(self.final_gap), self.final_gap, np.inf)
        return int(gaps.argmin())


def run_sweep(
    surface: Surface,
    optimizer: str,
    lrs: np.ndarray = LR_GRID,
    *,
    max_steps: int = 2000,
    momentum: float = 0.9,
    weight_decay: float | None = None,
    seed: int = 0,
) -> Sweep:
    """Run ``optimizer`` from the surface's start at every rate in ``lrs`` (one batched run).

    A run has converged at step ``t`` if ``f − f*`` is below the tolerance from ``t`` to the end
    of the budget (reaching the basin and bouncing out again does not count).
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    n = len(lrs)
    point = Tensor(np.tile(np.asarray(surface.start, dtype=np.float64), (n, 1)), True)
    opt = make_optimizer(optimizer, [point], lrs[:, None], weight_decay=weight_decay,
                         momentum=momentum)  # fmt: skip
    rng = np.random.default_rng(seed)
    last_above = np.zeros(n, dtype=np.int64)
    paths = np.empty((max_steps + 1, n, 2))
    paths[0] = point.data
    with np.errstate(all="ignore"):
        for t in range(1, max_steps + 1):
            point.grad = surface.noisy_grad(point.data, rng)
            opt.step()
            paths[t] = point.data
            gap = surface.value(point.data) - surface.minimum
            last_above[~(gap < surface.tol)] = t  # NaN (diverged) counts as above
        final = surface.value(point.data) - surface.minimum
    steps = np.where(last_above < max_steps, last_above + 1, -1)
    return Sweep(surface.name, optimizer, lrs, steps, final, paths)


def race(
    surfaces: list[str] | None = None,
    optimizers: list[str] | None = None,
    *,
    max_steps: int = 2000,
    seed: int = 0,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, np.ndarray]]]:
    """Each optimizer at its best rate on each surface: table rows and the best trajectories."""
    rows, paths = [], {}
    for sname in surfaces or list(SURFACES):
        surface = SURFACES[sname]
        paths[sname] = {}
        for oname in optimizers or list(OPTIMIZERS):
            sweep = run_sweep(surface, oname, max_steps=max_steps, seed=seed)
            i = sweep.best()
            paths[sname][oname] = sweep.paths[:, i, :]
            rows.append({
                "surface": sname,
                "optimizer": oname,
                "best_lr": float(sweep.lrs[i]),
                "steps": int(sweep.steps[i]) if sweep.steps[i] >= 0 else None,
                "final_gap": float(sweep.final_gap[i]),
                "converged_lrs": int((sweep.steps >= 0).sum()),
            })  # fmt: skip
    return rows, paths


def winners(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Per surface, the optimizer that converged in the fewest steps ("none" if none did)."""
    out: dict[str, str] = {}
    for surface in dict.fromkeys(r["surface"] for r in rows):
        done = [r for r in rows if r["surface"] == surface and r["steps"] is not None]
        out[surface] = min(done, key=lambda r: r["steps"])["optimizer"] if done else "none"
    return out


def sweep_table(
    surface: str = "rosenbrock",
    *,
    max_steps: int = 2000,
    seed: int = 0,
    momenta: tuple[float, ...] = (0.0, 0.5, 0.9, 0.99),
    decays: tuple[float, ...] = (0.0, 0.01, 0.1, 1.0),
) -> list[dict[str, Any]]:
    """Steps to converge across learning rate (each optimizer), momentum (SGD) and weight decay
    (AdamW) on one surface; ``None`` = did not converge within ``max_steps``."""
    surf = SURFACES[surface]
    rows = []
    for oname in OPTIMIZERS:
        sweep = run_sweep(surf, oname, max_steps=max_steps, seed=seed)
        rows.append({"sweep": "lr", "setting": oname, **_per_lr(sweep)})
    for m in momenta:
        name = "momentum" if m > 0 else "sgd"
        sweep = run_sweep(surf, name, momentum=m, max_steps=max_steps, seed=seed)
        rows.append({"sweep": "momentum", "setting": f"sgd m={m:g}", **_per_lr(sweep)})
    for wd in decays:
        sweep = run_sweep(surf, "adamw", weight_decay=wd, max_steps=max_steps, seed=seed)
        rows.append({"sweep": "weight decay", "setting": f"adamw wd={wd:g}", **_per_lr(sweep)})
    return rows


def lr_label(lr: float) -> str:
    """``0.0003`` → ``"3e-4"`` (short column names for the sweep table)."""
    mantissa, exponent = f"{lr:.0e}".split("e")
    return mantissa if int(exponent) == 0 else f"{mantissa}e{int(exponent)}"


def _per_lr(sweep: Sweep) -> dict[str, int | None]:
    return {lr_label(lr): (int(s) if s >= 0 else None)
            for lr, s in zip(sweep.lrs, sweep.steps, strict=True)}  # fmt: skip


def _contours(ax, surface: Surface) -> None:
    x0, x1, y0, y1 = surface.window
    xs, ys = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    zs = surface.f(xs, ys) - surface.minimum
    ax.contour(xs, ys, np.log10(zs + 1e-3), levels=25, cmap="Greys", linewidths=0.6)
    for mx, my in surface.minimizers:
        ax.plot(mx, my, marker="*", color="gold", markersize=14, markeredgecolor="black")
    ax.plot(*surface.start, marker="o", color="black")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_title(surface.name)


def plot_trajectories(paths: dict[str, dict[str, np.ndarray]], path: str | Path) -> Path:
    """One contour panel per surface with every optimizer's trajectory (PNG, atomic)."""
    from matplotlib.figure import Figure

    from llmpath_core.report import save_figure

    names = list(paths)
    cols = 2 if len(names) > 1 else 1
    rows = (len(names) + cols - 1) // cols
    fig = Figure(figsize=(5.5 * cols, 4.2 * rows), dpi=90)
    for k, sname in enumerate(names):
        ax = fig.add_subplot(rows, cols, k + 1)
        _contours(ax, SURFACES[sname])
        for oname, traj in paths[sname].items():
            ax.plot(traj[:, 0], traj[:, 1], color=COLORS.get(oname), lw=1.2, label=oname)
        if k == 0:
            ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return save_figure(fig, path)


def animate(
    surface: str, trajectories: dict[str, np.ndarray], path: str | Path, frames: int = 40
) -> Path:
    """An animated GIF of the optimizers moving across one surface (Pillow, written atomically)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    from llmpath_core.io import atomic_write

    longest = max(len(t) for t in trajectories.values())
    # early steps matter most: sample the frames on a square-root time axis
    ends = np.unique(np.round(np.linspace(1, np.sqrt(longest), frames) ** 2).astype(int))
    fig = Figure(figsize=(5, 4), dpi=70)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _contours(ax, SURFACES[surface])
    lines = {o: ax.plot([], [], color=COLORS.get(o), lw=1.5, label=o, animated=True)[0]
             for o in trajectories}  # fmt: skip
    heads = {o: ax.plot([], [], "o", color=COLORS.get(o), ms=5, animated=True)[0]
             for o in trajectories}  # fmt: skip
    ax.legend(handles=list(lines.values()), fontsize=7, loc="upper right")
    label = ax.text(0.02, 0.02, "", transform=ax.transAxes, animated=True)
    canvas.draw()  # the contours once; each frame only redraws the moving artists (blitting)
    background = canvas.copy_from_bbox(fig.bbox)
    images = []
    for end in ends:
        canvas.restore_region(background)
        for o, traj in trajectories.items():
            seg = traj[: min(end, len(traj))]
            lines[o].set_data(seg[:, 0], seg[:, 1])
            heads[o].set_data(seg[-1:, 0], seg[-1:, 1])
            ax.draw_artist(lines[o])
            ax.draw_artist(heads[o])
        label.set_text(f"step {end}")
        ax.draw_artist(label)
        images.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]).quantize(64))
    with atomic_write(path, "wb") as handle:
        images[0].save(handle, format="GIF", save_all=True, append_images=images[1:],
                       duration=120, loop=0)  # fmt: skip
    return Path(path)


__all__ = [
    "LR_GRID",
    "Sweep",
    "animate",
    "lr_label",
    "plot_trajectories",
    "race",
    "run_sweep",
    "sweep_table",
    "winners",
]
