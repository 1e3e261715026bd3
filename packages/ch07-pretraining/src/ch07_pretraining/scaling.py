"""Scaling laws: fit ``L(N) = E + A · N^-α`` to final losses of several model sizes, then predict.

Kaplan et al. (2020) and Hoffmann et al. (2022, "Chinchilla") model the loss reached by a model
of ``N`` non-embedding parameters as an irreducible loss ``E`` plus a power law in ``N``. With
the same data budget for every size, :func:`scaling_experiment` trains several depths, fits the
three constants by least squares (``scipy.optimize.curve_fit``) on all but the largest size, and
predicts the largest one from the fit: the prediction error is the honest test of the law at
this (tiny) scale.

The token axis comes from the same runs: every run is evaluated several times, so each size gives
a curve of loss against tokens seen ``D``, and :func:`fit_joint` fits Chinchilla's
``L(N, D) = E + A · N^-α + B · D^-β`` (Hoffmann et al. 2022, approach 3) to the curves of all but
the largest size. A caveat Chinchilla itself raises: intermediate points of one cosine schedule
are not the losses of runs *planned* for that many tokens (the learning rate has not decayed
yet), so the token axis here is an approximation that saves training one run per budget.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from llmpath_core import UserError

N_REF = 1e5  # parameters are fitted in units of 100 k for a well-conditioned problem
D_REF = 1e5  # tokens likewise


@dataclass(frozen=True)
class PowerLawFit:
    """``L(N) = E + A · (N / N_REF)^-alpha``."""

    E: float
    A: float
    alpha: float

    def predict(self, n_params: float | np.ndarray) -> float | np.ndarray:
        return self.E + self.A * (np.asarray(n_params, dtype=float) / N_REF) ** -self.alpha


def fit_power_law(n_params, losses) -> PowerLawFit:
    """Least-squares fit of ``E, A, alpha`` (all positive) to at least three points."""
    from scipy.optimize import OptimizeWarning, curve_fit

    n = np.asarray(n_params, dtype=float) / N_REF
    loss = np.asarray(losses, dtype=float)
    if n.size < 3 or n.size != loss.size:
        raise UserError("a power-law fit needs at least three (size, loss) points")

    def law(x, e, a, alpha):
        return e + a * x**-alpha

    p0 = (max(0.0, loss.min() * 0.8), max(1e-3, loss.max() - loss.min()), 0.5)
    with warnings.catch_warnings():  # 3 points, 3 unknowns: no covariance, and that is fine
        warnings.simplefilter("ignore", OptimizeWarning)
        (e, a, alpha), _ = curve_fit(
            law, n, loss, p0=p0, bounds=([0, 0, 0], [np.inf, np.inf, 5.0]), maxfev=20_000
        )
    return PowerLawFit(float(e), float(a), float(alpha))


@dataclass(frozen=True)
class JointFit:
    """``L(N, D) = E + A · (N / N_REF)^-alpha + B · (D / D_REF)^-beta``."""

    E: float
    A: float
    alpha: float
    B: float
    beta: float

    def predict(self, n_params, tokens) -> float | np.ndarray:
        n = np.asarray(n_params, dtype=float) / N_REF
        d = np.asarray(tokens, dtype=float) / D_REF
        return self.E + self.A * n**-self.alpha + self.B * d**-self.beta


def fit_joint(n_params, tokens, losses) -> JointFit:
    """Least-squares fit of Chinchilla's five constants (all positive) to (N, D, loss) points."""
    from scipy.optimize import OptimizeWarning, curve_fit

    n = np.asarray(n_params, dtype=float) / N_REF
    d = np.asarray(tokens, dtype=float) / D_REF
    loss = np.asarray(losses, dtype=float)
    if not n.size == d.size == loss.size or n.size < 5:
        raise UserError("a joint fit needs at least five (size, tokens, loss) points")
    if np.unique(n).size < 2 or np.unique(d).size < 2:
        raise UserError("a joint fit needs at least two sizes and two token counts")

    def law(x, e, a, alpha, b, beta):
        return e + a * x[0] ** -alpha + b * x[1] ** -beta

    spread = max(1e-3, loss.max() - loss.min())
    p0 = (max(0.0, loss.min() * 0.8), spread / 2, 0.5, spread / 2, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        params, _ = curve_fit(
            law,
            np.vstack([n, d]),
            loss,
            p0=p0,
            bounds=([0, 0, 0, 0, 0], [np.inf, np.inf, 5.0, np.inf, 5.0]),
            maxfev=50_000,
        )
    return JointFit(*(float(v) for v in params))


def loss_curve(run_dir: str | os.PathLike, tokens_per_step: int) -> list[tuple[int, float]]:
    """``(tokens seen, validation loss)`` at every evaluation after step 0 of a finished run."""
    import json

    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return [
        (r["step"] * tokens_per_step, r["val_loss"]) for r in rows if "val_loss" in r and r["step"]
    ]


def non_embedding_parameters(model) -> int:
    """Parameters outside the (tied) token embedding, Kaplan et al.'s ``N``."""
    embedding = model.get_input_embeddings().weight
    return sum(p.numel() for p in model.parameters() if p is not embedding)


def scaling_experiment(config, depths, run_root: str | os.PathLike, log=None) -> dict:
    """Train ``config`` at each depth (same steps and batches), fit on all but the largest.

    Returns the points, the fit, and the held-out prediction with its relative error.
    """
    import torch

    from ch07_pretraining.data import TokenData
    from ch07_pretraining.model import build_model, llama_config
    from ch07_pretraining.train import train

    depths = sorted(set(depths))
    if len(depths) < 4:
        raise UserError("give at least 4 depths: 3+ to fit and the largest to predict")
    vocab = TokenData.open(config.data).vocab_size
    points = []
    tokens_per_step = config.batch_size * config.seq_len
    for depth in depths:
        run_dir = Path(run_root) / f"depth-{depth}"
        result = train(replace(config, depth=depth, lr=None), run_dir)
        with torch.device("meta"):
            n = non_embedding_parameters(build_model(llama_config(depth, vocab, config.seq_len)))
        points.append(
            {
                "depth": depth,
                "params": n,
                "tokens": result["tokens_seen"],
                "val_loss": result["val_loss"],
                "curve": loss_curve(run_dir, tokens_per_step),
            }
        )
        if log:
            log(f"depth {depth}: {n:,} non-embedding params, val loss {result['val_loss']:.4f}")
    fit = fit_power_law([p["params"] for p in points[:-1]], [p["val_loss"] for p in points[:-1]])
    held_out = points[-1]
    predicted = float(fit.predict(held_out["params"]))
    result = {
        "points": points,
        "fit": {"E": fit.E, "A": fit.A, "alpha": fit.alpha, "n_ref": N_REF},
        "held_out_depth": held_out["depth"],
        "predicted_loss": predicted,
        "actual_loss": held_out["val_loss"],
        "relative_error": abs(predicted - held_out["val_loss"]) / held_out["val_loss"],
    }
    triples = [(p["params"], d, loss) for p in points[:-1] for d, loss in p["curve"]]
    if len(triples) >= 5 and len({d for _, d, _ in triples}) >= 2:
        joint = fit_joint(*zip(*triples, strict=True))
        joint_predicted = float(joint.predict(held_out["params"], held_out["tokens"]))
        result.update(
            joint_fit={**vars(joint), "n_ref": N_REF, "d_ref": D_REF},
            joint_predicted_loss=joint_predicted,
            joint_relative_error=abs(joint_predicted - held_out["val_loss"]) / held_out["val_loss"],
        )
    return result


def scaling_lab(
    run_root: str | os.PathLike,
    depths=(1, 2, 3, 4, 5, 6),
    *,
    steps: int = 150,
    corpus: str = "stories",
    data: str | os.PathLike | None = None,
    seed: int = 0,
    log=None,
) -> dict:
    """The ``scaling`` lab: tiny-preset runs at each depth on one corpus, both fits, both plots.

    ``data`` is a folder from :func:`~ch07_pretraining.data.prepare_corpus`; without it ``corpus``
    (any source ``prepare_corpus`` takes: ``stories``, ``pydoc``, ``mix``, a file...) is packed
    into ``run_root/data`` with the tiny preset's vocabulary (reused when already there). Writes
    ``scaling.png`` (and ``scaling_tokens.png`` with the joint fit) into ``run_root`` and returns
    :func:`scaling_experiment`'s result with the corpus and the plot paths added.
    """
    from ch07_pretraining.data import prepare_corpus
    from ch07_pretraining.model import get_preset
    from ch07_pretraining.train import TrainConfig

    if steps < 1:
        raise UserError("steps must be at least 1")
    root = Path(run_root)
    preset = get_preset("tiny")
    source = corpus if data is None else str(data)
    if data is None:
        data = root / "data"
        if not (data / "meta.json").is_file():
            prepare_corpus(corpus, data, vocab_size=preset.vocab_size, max_chars=preset.max_chars)
    config = TrainConfig(
        data=str(data),
        seq_len=preset.seq_len,
        batch_size=preset.batch_size,
        max_steps=steps,
        warmup_steps=max(1, steps // 20),
        eval_every=max(1, steps // 5),  # five points per size: the token axis
        checkpoint_every=0,
        seed=seed,
    )
    result = scaling_experiment(config, depths, root, log=log)
    plots = plot_scaling(result, root)
    return {**result, "corpus": source, "plots": plots}


def summary_rows(result: dict) -> list[dict]:
    """The lab's result table: each fit, its prediction of the held-out size, the actual loss."""
    fit, held_out = result["fit"], result["held_out_depth"]
    rows = [
        {
            "what": "L(N) fit",
            "value": f"E={fit['E']:.3f} A={fit['A']:.3f} alpha={fit['alpha']:.3f}",
        },
        {
            "what": f"L(N) predicts depth {held_out}",
            "value": f"{result['predicted_loss']:.4f} ({100 * result['relative_error']:.1f}% off)",
        },
        {"what": "actual", "value": f"{result['actual_loss']:.4f}"},
    ]
    if "joint_fit" in result:
        j = result["joint_fit"]
        rows[1:1] = [
            {
                "what": "L(N, D) fit",
                "value": f"E={j['E']:.3f} A={j['A']:.3f} alpha={j['alpha']:.3f} B={j['B']:.3f} "
                f"beta={j['beta']:.3f}",
            },
            {
                "what": f"L(N, D) predicts depth {held_out}",
                "value": f"{result['joint_predicted_loss']:.4f} "
                f"({100 * result['joint_relative_error']:.1f}% off)",
            },
        ]
    return rows


def plot_scaling(result: dict, out_dir: str | os.PathLike) -> list[str]:
    """``scaling.png`` (loss vs N with the L(N) fit) and, with a joint fit,
    ``scaling_tokens.png`` (loss vs tokens per size with the L(N, D) fit)."""
    from llmpath_core import line_plot

    out_dir = Path(out_dir)
    fit = PowerLawFit(result["fit"]["E"], result["fit"]["A"], result["fit"]["alpha"])
    ns = [pt["params"] for pt in result["points"]]
    grid = [ns[0] * (ns[-1] / ns[0]) ** (i / 40) for i in range(41)]
    plots = [
        line_plot(
            out_dir / "scaling.png",
            {
                "trained": (ns, [pt["val_loss"] for pt in result["points"]]),
                "fit (largest held out)": (grid, [float(fit.predict(n)) for n in grid]),
            },
            title=f"L(N) = {fit.E:.2f} + {fit.A:.2f}·(N/{N_REF:.0e})^-{fit.alpha:.2f}",
            xlabel="non-embedding parameters N",
            ylabel="validation loss (nats/token)",
            logx=True,
        )
    ]
    if "joint_fit" in result:
        joint = JointFit(*(result["joint_fit"][k] for k in ("E", "A", "alpha", "B", "beta")))
        series = {}
        for pt in result["points"]:
            ds = [d for d, _ in pt["curve"]]
            series[f"depth {pt['depth']}"] = (ds, [loss for _, loss in pt["curve"]])
            series[f"fit {pt['depth']}"] = (ds, [float(joint.predict(pt["params"], d)) for d in ds])
        plots.append(
            line_plot(
                out_dir / "scaling_tokens.png",
                series,
                title="loss vs tokens seen: L(N, D) fitted on all but the largest size",
                xlabel="tokens seen D",
                ylabel="validation loss (nats/token)",
                logx=True,
            )
        )
    return [str(p) for p in plots]


__all__ = [
    "JointFit",
    "PowerLawFit",
    "fit_joint",
    "fit_power_law",
    "loss_curve",
    "non_embedding_parameters",
    "plot_scaling",
    "scaling_experiment",
    "scaling_lab",
    "summary_rows",
]
