"""The chapter's labs as functions returning plain results (the CLI and the demo call these)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ch01_nn.data import Dataset, load_dataset
from ch01_nn.gradcheck import compare_with_torch, parse_layers
from ch01_nn.losses import LOSSES
from ch01_nn.nn import ACTIVATIONS
from ch01_nn.optim import OPTIMIZERS
from ch01_nn.schedules import SCHEDULES
from ch01_nn.surfaces import SURFACES
from ch01_nn.train import TrainConfig, save_weights, train_mlp
from llmpath_core import UserError


def _choice(value: str, allowed, what: str) -> str:
    if value not in allowed:
        raise UserError(f"unknown {what} {value!r}: use one of {', '.join(allowed)}")
    return value


def _sizes(spec: str, what: str) -> list[int]:
    try:
        return parse_layers(spec)
    except ValueError as exc:
        raise UserError(f"{what}: {exc}") from None


def train_lab(
    data_source: str = "digits",
    *,
    layers: str | None = None,
    hidden: str = "128",
    out: Path | None = None,
    **config: Any,
) -> dict[str, Any]:
    """Train on digits (or MNIST files) and return the ``train`` command's result."""
    _choice(config.get("optimizer", "adamw"), OPTIMIZERS, "optimizer")
    _choice(config.get("activation", "relu"), ACTIVATIONS, "activation")
    _choice(config.get("schedule", "cosine"), SCHEDULES, "schedule")
    data = load_dataset(data_source)
    if layers:
        sizes = _sizes(layers, "--layers")
        if sizes[0] != data.features or sizes[-1] != data.classes:
            raise UserError(
                f"layer sizes do not chain with the data: --layers {layers} starts at {sizes[0]} "
                f"and ends at {sizes[-1]}, but {data.name} has {data.features} inputs and "
                f"{data.classes} classes (use {data.features},...,{data.classes})"
            )
        hidden_sizes = tuple(sizes[1:-1])
    else:
        hidden_sizes = tuple(_sizes(f"1,{hidden},1", "--hidden")[1:-1]) if hidden else ()
    if config.get("dropout", 0.0) and not 0 <= config["dropout"] < 1:
        raise UserError("--dropout must be in [0, 1)")
    result = train_mlp(data, TrainConfig(hidden=hidden_sizes, **config))
    payload = {
        "test_accuracy": result.test_accuracy,
        "train_loss": result.train_loss,
        "epochs": result.epochs,
        **{
            k: v
            for k, v in result.to_dict().items()
            if k not in ("test_accuracy", "train_loss", "epochs")
        },
        "optimizer": config.get("optimizer", "adamw"),
        "layers": [data.features, *hidden_sizes, data.classes],
        "data": data.summary(),
    }
    if out is not None:
        save_weights(result.model, out)
        payload["weights"] = str(out)
    return payload


def gradcheck_lab(layers: str, activation: str, loss: str, batch: int, seed: int) -> dict[str, Any]:
    """Our gradients vs torch autograd for a random network (float64)."""
    _choice(activation, ACTIVATIONS, "activation")
    _choice(loss, LOSSES, "loss")
    sizes = _sizes(layers, "--layers")
    if batch < 1:
        raise UserError("--batch must be at least 1")
    return compare_with_torch(sizes, activation, loss, batch=batch, seed=seed)


def health_lab(data: Dataset, out_dir: Path, *, depth: int = 10, epochs: int = 2, seed: int = 0):
    """Per-layer gradient norms, deep sigmoid vs ReLU + He, and the plot."""
    from ch01_nn.gradient_health import gradient_health, plot_health

    if depth < 1:
        raise UserError("--depth must be at least 1")
    runs = gradient_health(data, depth=depth, epochs=epochs, seed=seed)
    plot = plot_health(runs, out_dir / "gradient_health.png")
    rows = [r.summary() for r in runs]
    ratio = rows[1]["first_layer_grad"] / rows[0]["first_layer_grad"]
    return {"runs": rows, "relu_over_sigmoid_first_layer": ratio, "plot": str(plot),
            "per_layer_median": {r.name: np.median(np.asarray(r.norms), axis=0).tolist()
                                 for r in runs}}  # fmt: skip


def optimizers_lab(
    out_dir: Path,
    *,
    surfaces: list[str] | None = None,
    optimizers: list[str] | None = None,
    steps: int = 2000,
    sweep_surface: str | None = "rosenbrock",
    gif: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """The optimizer race, its contour plot and GIF, and the sweeps table."""
    from ch01_nn.visualiser import animate, plot_trajectories, race, sweep_table, winners

    for s in surfaces or []:
        _choice(s, SURFACES, "surface")
    for o in optimizers or []:
        _choice(o, OPTIMIZERS, "optimizer")
    if sweep_surface:
        _choice(sweep_surface, SURFACES, "surface")
    if steps < 1:
        raise UserError("--steps must be at least 1")
    rows, paths = race(surfaces, optimizers, max_steps=steps, seed=seed)
    files = [str(plot_trajectories(paths, out_dir / "optimizer_trajectories.png"))]
    if gif:
        first = next(iter(paths))
        files.append(str(animate(first, paths[first], out_dir / f"optimizers_{first}.gif")))
    sweeps = sweep_table(sweep_surface, max_steps=steps, seed=seed) if sweep_surface else []
    return {"race": rows, "winners": winners(rows), "sweeps": sweeps,
            "sweep_surface": sweep_surface, "files": files}  # fmt: skip


def mixed_precision_lab(
    data: Dataset, *, dtypes: list[str], epochs: int = 15, with_torch: bool = True, seed: int = 0
) -> dict[str, Any]:
    """NumPy and torch 16-bit training vs float32, the loss scaler, and the underflow count."""
    from ch01_nn.mixed_precision import DTYPES, train_mixed, train_torch_amp, underflow_report

    for d in dtypes:
        _choice(d, [k for k in DTYPES if k != "float32"], "dtype")
    runs = [("float32", False)]
    for d in dtypes:
        runs += [(d, True), (d, False)] if d == "float16" else [(d, False)]
    numpy_rows = []
    for dtype, scaling in runs:
        r = train_mixed(data, dtype, loss_scaling=scaling, epochs=epochs, seed=seed)
        numpy_rows.append({"backend": "numpy", **r.__dict__})
    base = numpy_rows[0]
    for row in numpy_rows:
        row["accuracy_delta_points"] = 100 * (row["test_accuracy"] - base["test_accuracy"])
        row["memory_ratio"] = row["bytes_weights_activations"] / base["bytes_weights_activations"]
        row["time_ratio"] = row["seconds"] / base["seconds"]
    trained = train_mlp(data, TrainConfig(seed=seed)).model  # late training: small gradients
    underflow = underflow_report(trained, data.x_train, data.y_train)  # one full-set batch
    torch_rows = []
    if with_torch:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a 64-128-10 MLP: more threads only add overhead
        try:
            for dtype in ["float32", *dtypes]:
                torch_rows.append(
                    {"backend": "torch", **train_torch_amp(data, dtype, epochs=epochs, seed=seed)}
                )
        finally:
            torch.set_num_threads(threads)
        for row in torch_rows:
            row["accuracy_delta_points"] = 100 * (
                row["test_accuracy"] - torch_rows[0]["test_accuracy"]
            )
            row["memory_ratio"] = (
                row["bytes_weights_activations"] / torch_rows[0]["bytes_weights_activations"]
            )
            row["time_ratio"] = row["seconds"] / torch_rows[0]["seconds"]
    return {"numpy": numpy_rows, "torch": torch_rows, "underflow": underflow}


def regularization_lab(
    data: Dataset,
    out_dir: Path,
    *,
    techniques: list[str] | None = None,
    train_size: int = 300,
    sizes: tuple[int, ...] = (150, 600),
    seeds: int = 3,
    epochs: int = 60,
) -> dict[str, Any]:
    """The regularization table and its plot."""
    from ch01_nn.regularization import TECHNIQUES, plot_study, regularization_study

    for t in techniques or []:
        _choice(t, TECHNIQUES, "technique")
    if seeds < 1 or epochs < 1 or train_size < 20:
        raise UserError("--seeds and --epochs must be at least 1 and --train-size at least 20")
    rows = regularization_study(data, techniques=techniques, train_size=train_size, sizes=sizes,
                                seeds=seeds, epochs=epochs)  # fmt: skip
    plot = plot_study(rows, out_dir / "regularization.png")
    return {"rows": rows, "plot": str(plot)}


def demo(out_dir: Path, seed: int = 0, log=print) -> dict[str, Any]:
    """Everything in about a minute: train, gradcheck, the race, the regularization table."""

    timings, start = {}, time.perf_counter()
    log("1/5 training the MLP on digits")
    trained = train_lab(seed=seed)
    timings["train"] = time.perf_counter() - start
    log("2/5 gradients vs torch autograd")
    grad = gradcheck_lab("7,13,5", "gelu", "cross-entropy", 8, seed)
    log("3/5 gradient health (deep sigmoid vs ReLU + He)")
    data = load_dataset("digits")
    health = health_lab(data, out_dir, depth=10, epochs=1, seed=seed)
    log("4/5 optimizer race")
    opt = optimizers_lab(out_dir, steps=1000, sweep_surface=None, seed=seed)
    log("5/5 regularization (2 seeds, small slice)")
    reg = regularization_lab(data, out_dir, techniques=["none", "l2", "dropout"], train_size=200,
                             sizes=(), seeds=2, epochs=30)  # fmt: skip
    files = [health["plot"], *opt["files"], reg["plot"]]
    headline = (
        f"digits test accuracy {trained['test_accuracy']:.3f} in {trained['seconds']:.1f}s; "
        f"grads match torch to {grad['max_rel_diff']:.1e}; "
        f"race winners {', '.join(f'{k}: {v}' for k, v in opt['winners'].items())}"
    )
    return {
        "showed": "; ".join(
            [
                "train: NumPy MLP on load_digits",
                "gradcheck: our backprop vs torch autograd (float64)",
                "gradient health: deep sigmoid vs ReLU + He",
                "optimizer race on Rosenbrock, Beale, saddle, noisy quadratic",
                "regularization: generalization gap with 95% CIs",
            ]
        ),
        "headline": headline,
        "train": {k: trained[k] for k in ("test_accuracy", "train_loss", "epochs", "seconds")},
        "gradcheck": {k: grad[k] for k in ("max_abs_diff", "max_rel_diff")},
        "gradient_health": health["runs"],
        "race": opt["race"],
        "winners": opt["winners"],
        "regularization": reg["rows"],
        "files": files,
        "seconds": time.perf_counter() - start,
    }


__all__ = [
    "demo",
    "gradcheck_lab",
    "health_lab",
    "mixed_precision_lab",
    "optimizers_lab",
    "regularization_lab",
    "train_lab",
]
