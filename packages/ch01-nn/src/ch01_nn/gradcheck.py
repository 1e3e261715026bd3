"""Gradient checks: our backpropagation against torch autograd and against finite differences.

:func:`compare_with_torch` builds an MLP with random weights in float64, copies the same weights
into an equivalent ``torch.nn.Sequential``, runs one batch through both with the same loss, and
reports the largest absolute and relative gradient differences per parameter. The relative
difference of a parameter is ``max|ours − torch| / max|torch|`` (a norm-wise measure, so
entries that are nearly zero do not inflate it).

:func:`finite_difference_check` needs no reference library: central differences
``(f(w+h) − f(w−h)) / 2h`` for each weight, the way backprop was checked before autograd existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ch01_nn.autodiff import Tensor
from ch01_nn.losses import LOSSES, loss_fn
from ch01_nn.nn import ACTIVATIONS, Linear, Sequential, mlp


def parse_layers(spec: str | Sequence[int]) -> list[int]:
    """``"7,13,5"`` → ``[7, 13, 5]``; raises ``ValueError`` with a readable reason."""
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        try:
            sizes = [int(p) for p in parts]
        except ValueError:
            raise ValueError(
                f"bad layer sizes {spec!r}: use comma-separated integers such as 7,13,5"
            ) from None
    else:
        sizes = [int(s) for s in spec]
    if len(sizes) < 2:
        raise ValueError(f"need at least two layer sizes (input and output), got {spec!r}")
    if any(s < 1 for s in sizes):
        raise ValueError(f"layer sizes must be positive, got {spec!r}")
    return sizes


def random_batch(sizes: Sequence[int], loss: str, batch: int, rng: np.random.Generator):
    """Inputs and targets that fit the network and the loss (class ids or real targets)."""
    x = rng.normal(size=(batch, sizes[0]))
    if loss == "cross-entropy":
        y = rng.integers(0, sizes[-1], size=batch)
    else:
        y = rng.normal(size=(batch, sizes[-1])) * 2
    return x, y


def to_torch(model: Sequential):
    """The same network as a ``torch.nn.Sequential`` in float64, with the same weights."""
    import torch

    from ch01_nn.nn import Activation, BatchNorm1d, Dropout

    layers: list[Any] = []
    for m in model:
        if isinstance(m, Linear):
            lin = torch.nn.Linear(m.in_features, m.out_features).double()
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.asarray(m.weight.data, np.float64)))
                lin.bias.copy_(torch.from_numpy(np.asarray(m.bias.data, np.float64)))
            layers.append(lin)
        elif isinstance(m, Activation):
            layers.append(
                {
                    "sigmoid": torch.nn.Sigmoid,
                    "tanh": torch.nn.Tanh,
                    "relu": torch.nn.ReLU,
                    "gelu": torch.nn.GELU,
                    "silu": torch.nn.SiLU,
                }[m.name]()
            )
        elif isinstance(m, BatchNorm1d):
            bn = torch.nn.BatchNorm1d(m.features, momentum=m.momentum, eps=m.eps).double()
            with torch.no_grad():
                bn.weight.copy_(torch.from_numpy(np.asarray(m.weight.data, np.float64)))
                bn.bias.copy_(torch.from_numpy(np.asarray(m.bias.data, np.float64)))
            layers.append(bn)
        elif isinstance(m, Dropout):
            raise ValueError("dropout draws random masks: compare networks without it")
    return torch.nn.Sequential(*layers)


def torch_loss(name: str, out, y):
    import torch
    import torch.nn.functional as F

    if name == "cross-entropy":
        return F.cross_entropy(out, torch.from_numpy(np.asarray(y, np.int64)))
    target = torch.from_numpy(np.asarray(y, np.float64))
    return F.mse_loss(out, target) if name == "mse" else F.huber_loss(out, target)


def compare_with_torch(
    layers: str | Sequence[int],
    activation: str = "gelu",
    loss: str = "cross-entropy",
    *,
    batch: int = 8,
    seed: int = 0,
    init: str = "xavier",
) -> dict[str, Any]:
    """Gradients of every parameter, ours vs torch autograd, in float64.

    Returns ``{"max_abs_diff", "max_rel_diff", "loss", "torch_loss", "parameters": [...]}``
    where each parameter row has its name, shape and its own differences.
    """
    import torch

    sizes = parse_layers(layers)
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: use one of {', '.join(ACTIVATIONS)}")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}: use one of {', '.join(LOSSES)}")
    rng = np.random.default_rng(seed)
    model = mlp(sizes, activation, init=init, seed=seed, dtype=np.float64)
    ref = to_torch(model)
    x, y = random_batch(sizes, loss, batch, rng)

    ours = loss_fn(loss, model(Tensor(x)), y)
    ours.backward()
    theirs = torch_loss(loss, ref(torch.from_numpy(x)), y)
    theirs.backward()

    rows = []
    names = [f"{i}.{kind}" for i, m in enumerate(model) for kind in ("weight", "bias")
             if isinstance(m, Linear)]  # fmt: skip
    for name, p, q in zip(names, model.parameters(), ref.parameters(), strict=True):
        ref_grad = q.grad.numpy()
        diff = float(np.max(np.abs(p.grad - ref_grad)))
        scale = float(np.max(np.abs(ref_grad)))
        rows.append({
            "name": name,
            "shape": list(p.shape),
            "abs_diff": diff,
            "rel_diff": diff / scale if scale > 0 else diff,
            "grad_norm": float(np.linalg.norm(ref_grad)),
        })  # fmt: skip
    return {
        "layers": sizes,
        "activation": activation,
        "loss": loss,
        "dtype": "float64",
        "loss_value": ours.item(),
        "torch_loss_value": float(theirs.item()),
        "max_abs_diff": max(r["abs_diff"] for r in rows),
        "max_rel_diff": max(r["rel_diff"] for r in rows),
        "parameters": rows,
    }


def finite_difference_check(
    model: Sequential, x: np.ndarray, y: np.ndarray, loss: str, h: float = 1e-6
) -> float:
    """Largest |backprop − central difference| over every parameter entry (float64 model)."""
    model.zero_grad()
    loss_fn(loss, model(Tensor(x)), y).backward()
    worst = 0.0
    for p in model.parameters():
        for idx in np.ndindex(p.shape):
            old = p.data[idx]
            p.data[idx] = old + h
            up = loss_fn(loss, model(Tensor(x)), y).item()
            p.data[idx] = old - h
            down = loss_fn(loss, model(Tensor(x)), y).item()
            p.data[idx] = old
            worst = max(worst, abs((up - down) / (2 * h) - p.grad[idx]))
    return worst


__all__ = [
    "compare_with_torch",
    "finite_difference_check",
    "parse_layers",
    "random_batch",
    "to_torch",
]
