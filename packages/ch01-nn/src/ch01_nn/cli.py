"""``ch01-nn``: train, gradcheck, gradient-health, optimizers, mixed-precision, regularization,
demo (thin, over the library)."""

from __future__ import annotations

from pathlib import Path

import typer

from llmpath_core import artefact_path
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch01-nn",
    "Neural networks from scratch in NumPy (autodiff, layers, optimizers, schedules, mixed "
    "precision, regularization), held to torch autograd and torch.optim.",
)


def _out_dir(run: Run, name: str) -> Path:
    path = run.out_path(artefact_path("ch01", name, create=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _list(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@command(app, device=False, out_help="save the trained weights to this .npz file")
def train(
    run: Run,
    data: str = typer.Option(
        "digits", help="'digits' (bundled) or an MNIST folder of IDX files / .npz"
    ),
    optimizer: str = typer.Option("adamw", help="sgd, momentum, nesterov, rmsprop, adam or adamw"),
    epochs: int = typer.Option(30, help="passes over the training set"),
    lr: float = typer.Option(None, help="learning rate (default: per optimizer, 3e-3 for adamw)"),
    batch_size: int = typer.Option(32, help="mini-batch size"),
    hidden: str = typer.Option("128", help="hidden layer sizes, comma-separated"),
    layers: str = typer.Option(
        None, help="all layer sizes (input,...,classes); overrides --hidden"
    ),
    activation: str = typer.Option("relu", help="sigmoid, tanh, relu, gelu or silu"),
    init: str = typer.Option("he", help="xavier, xavier-normal, he, he-uniform or torch"),
    schedule: str = typer.Option("cosine", help="none, step, cosine, warmup or warmup-cosine"),
    warmup: int = typer.Option(0, help="warm-up steps (warmup / warmup-cosine)"),
    clip: float = typer.Option(None, help="clip the global gradient norm to this value"),
    weight_decay: float = typer.Option(None, help="weight decay (default: 0.01 adamw, else 0)"),
    l1: float = typer.Option(0.0, help="L1 penalty coefficient"),
    l2: float = typer.Option(0.0, help="L2 penalty coefficient"),
    dropout: float = typer.Option(0.0, help="dropout probability after each hidden layer"),
    batchnorm: bool = typer.Option(False, "--batchnorm", help="batch norm before each activation"),
    patience: int = typer.Option(0, help="early stopping patience in epochs (0 = off)"),
) -> dict:
    """Train the NumPy MLP: {"test_accuracy", "train_loss", "epochs", ...}."""
    from ch01_nn.labs import train_lab

    result = train_lab(
        data, layers=layers, hidden=hidden, out=run.out, optimizer=optimizer, epochs=epochs,
        lr=lr, batch_size=batch_size, activation=activation, init=init, schedule=schedule,
        warmup_steps=warmup, clip=clip, weight_decay=weight_decay, l1=l1, l2=l2,
        dropout=dropout, batchnorm=batchnorm, patience=patience, seed=run.seed,
    )  # fmt: skip
    run.table(
        [{"epoch": h["epoch"], "train_loss": h["train_loss"], "val_accuracy": h["val_accuracy"],
          "lr": h["lr"]} for h in result["history"][:: max(len(result["history"]) // 10, 1)]],
        title=f"{result['optimizer']} on {result['data']['data']} {result['layers']}",
    )  # fmt: skip
    keys = ("test_accuracy", "train_accuracy", "train_loss", "epochs", "steps", "seconds")
    run.table([{"metric": k, "value": result[k]} for k in keys], title="result")
    return result


@command(app, device=False, out=False)
def gradcheck(
    run: Run,
    layers: str = typer.Option("7,13,5", help="layer sizes, input first"),
    activation: str = typer.Option("gelu", help="sigmoid, tanh, relu, gelu or silu"),
    loss: str = typer.Option("cross-entropy", help="cross-entropy, mse or huber"),
    batch: int = typer.Option(8, help="examples in the random batch"),
) -> dict:
    """Our gradients vs torch autograd (float64): {"max_abs_diff", "max_rel_diff", ...}."""
    from ch01_nn.labs import gradcheck_lab

    result = gradcheck_lab(layers, activation, loss, batch, run.seed)
    run.table(result["parameters"], title=f"{layers} {activation} {loss}: ours vs torch autograd")
    run.table([{"max_abs_diff": result["max_abs_diff"], "max_rel_diff": result["max_rel_diff"]}])
    return result


@command(app, "gradient-health", device=False, out_help="folder for gradient_health.png")
def gradient_health(
    run: Run,
    depth: int = typer.Option(10, help="hidden layers"),
    epochs: int = typer.Option(2, help="training epochs"),
) -> dict:
    """Per-layer gradient norms: a deep sigmoid net vs ReLU + He init (vanishing gradients)."""
    from ch01_nn.data import load_digits_split
    from ch01_nn.labs import health_lab

    result = health_lab(load_digits_split(), _out_dir(run, "gradient-health"), depth=depth,
                        epochs=epochs, seed=run.seed)  # fmt: skip
    run.table(result["runs"], title=f"{depth} hidden layers: weight-gradient norms")
    run.log(f"plot: {result['plot']}")
    return result


@command(app, device=False, out_help="folder for the PNG and GIF")
def optimizers(
    run: Run,
    surfaces: str = typer.Option(
        None, help="comma list (default: rosenbrock,beale,saddle,noisy-quadratic)"
    ),
    names: str = typer.Option(None, "--optimizers", help="comma list (default: all six)"),
    steps: int = typer.Option(2000, help="step budget per run"),
    sweep: str = typer.Option(
        "rosenbrock", help="surface for the lr/momentum/weight-decay sweeps ('' = none)"
    ),
    gif: bool = typer.Option(True, "--gif/--no-gif", help="write the animated GIF"),
) -> dict:
    """The optimizer race on classic surfaces, contour plots, a GIF, and sweeps."""
    from ch01_nn.labs import optimizers_lab

    result = optimizers_lab(_out_dir(run, "optimizers"), surfaces=_list(surfaces),
                            optimizers=_list(names), steps=steps, sweep_surface=sweep or None,
                            gif=gif, seed=run.seed)  # fmt: skip
    run.table(result["race"], title="optimizer race: steps to converge at each one's best lr")
    if result["sweeps"]:
        run.table([{k: v for k, v in r.items() if k != "sweep"} for r in result["sweeps"]],
                  title=f"steps to converge on {result['sweep_surface']} by lr")  # fmt: skip
    for f in result["files"]:
        run.log(f"wrote {f}")
    return result


@command(app, "mixed-precision", device=False, out=False)
def mixed_precision(
    run: Run,
    dtype: str = typer.Option("float16,bfloat16", help="float16 and/or bfloat16"),
    epochs: int = typer.Option(15, help="training epochs per run"),
    torch_runs: bool = typer.Option(
        True, "--torch/--no-torch", help="also run torch autocast + GradScaler"
    ),
) -> dict:
    """FP16/BF16 training with loss scaling in NumPy and torch; underflow, memory, speed."""
    from ch01_nn.data import load_digits_split
    from ch01_nn.labs import mixed_precision_lab

    result = mixed_precision_lab(load_digits_split(), dtypes=_list(dtype) or [], epochs=epochs,
                                 with_torch=torch_runs, seed=run.seed)  # fmt: skip
    cols = ["backend", "dtype", "loss_scaling", "test_accuracy", "accuracy_delta_points",
            "skipped_steps", "memory_ratio", "time_ratio"]  # fmt: skip
    run.table(result["numpy"] + result["torch"], cols, title="16-bit training vs float32")
    run.table([result["underflow"]], title="gradient entries lost to underflow (fraction)")
    return result


@command(app, device=False, out_help="folder for regularization.png")
def regularization(
    run: Run,
    techniques: str = typer.Option(
        None, help="comma list of none,l1,l2,dropout,batchnorm,early-stopping"
    ),
    train_size: int = typer.Option(300, help="training examples for the technique rows"),
    sizes: str = typer.Option("150,600", help="extra training-set sizes (no regularization)"),
    seeds: int = typer.Option(3, help="seeds per row"),
    epochs: int = typer.Option(60, help="epochs per run"),
) -> dict:
    """The generalization gap of each regularizer across seeds, with 95% CIs (table + plot)."""
    from ch01_nn.data import load_digits_split
    from ch01_nn.labs import _sizes, regularization_lab

    extra = tuple(_sizes(f"{sizes},1", "--sizes")[:-1]) if sizes else ()
    result = regularization_lab(load_digits_split(), _out_dir(run, "regularization"),
                                techniques=_list(techniques), train_size=train_size, sizes=extra,
                                seeds=seeds, epochs=epochs)  # fmt: skip
    run.table(result["rows"], ["technique", "train_size", "gap", "gap_ci95", "test_accuracy",
                               "train_accuracy", "epochs"], title="generalization gap")  # fmt: skip
    run.log(f"plot: {result['plot']}")
    return result


@command(app, device=False, out_help="folder for the plots")
def demo(run: Run) -> dict:
    """Train on digits, check gradients, race the optimizers, compare regularizers (~1 minute)."""
    from ch01_nn.labs import demo as run_demo

    result = run_demo(_out_dir(run, "demo"), seed=run.seed, log=run.log)
    run.table([result["train"]], title="NumPy MLP on digits")
    run.table(result["race"], ["surface", "optimizer", "best_lr", "steps", "final_gap"],
              title="optimizer race (steps to converge, best lr each)")  # fmt: skip
    run.table(result["regularization"], ["technique", "train_size", "gap", "gap_ci95",
                                          "test_accuracy"], title="regularization")  # fmt: skip
    run.show(result["headline"])
    return result


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
