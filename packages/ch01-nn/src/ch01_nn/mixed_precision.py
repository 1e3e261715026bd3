"""Mixed precision: 16-bit forward and backward, float32 master weights, dynamic loss scaling.

float16 keeps 10 mantissa bits but only 5 exponent bits: values below 2⁻²⁴ ≈ 6e-8 become 0 and
values above 65 504 become inf. Small gradients therefore underflow and their updates are lost.
Loss scaling (Micikevicius et al., 2018) multiplies the loss by a large factor ``S`` before the
backward pass so that the gradients land in float16's range, divides them by ``S`` in float32,
and skips the step when anything overflowed. The dynamic rule (:class:`LossScaler`) is
``torch.amp.GradScaler``'s: start at 2¹⁶, halve on an overflow (and skip), double after
``growth_interval`` clean steps. bfloat16 keeps float32's 8 exponent bits (and 7 mantissa
bits), so it does not underflow and needs no scaling.

:func:`train_mixed` trains the digits MLP in NumPy this way: the float32 master weights are cast
to 16 bits for each step (float16 from NumPy, bfloat16 from ``ml_dtypes``), matrix products
accumulate in float32, the loss is computed in float32 (as autocast does for softmax), and the
optimizer updates the master weights. :func:`train_torch_amp` does the same with
``torch.autocast`` and ``GradScaler``. :func:`underflow_report` counts the gradient entries that
16-bit arithmetic turns into zeros, with and without scaling.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np

from ch01_nn.autodiff import Tensor
from ch01_nn.data import Dataset
from ch01_nn.losses import cross_entropy
from ch01_nn.nn import Sequential, mlp
from ch01_nn.optim import make_optimizer
from ch01_nn.train import accuracy

DTYPES = {
    "float32": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
}


class LossScaler:
    """Dynamic loss scaling with ``torch.amp.GradScaler``'s update rule.

    ``scale`` multiplies the loss; :meth:`unscale` divides the gradients (in float32) and reports
    whether any is inf/NaN; :meth:`update` backs off on an overflow or grows after
    ``growth_interval`` consecutive clean steps. Disabled, the scale is 1 and nothing changes.
    """

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        self.scale = float(init_scale) if enabled else 1.0
        self.growth_factor, self.backoff_factor = growth_factor, backoff_factor
        self.growth_interval, self.enabled = growth_interval, enabled
        self.growth_tracker = 0
        self.skipped = 0

    def unscale(self, grads: list[np.ndarray]) -> tuple[list[np.ndarray], bool]:
        """Gradients in float32 divided by the scale, and whether any entry is not finite."""
        out = [g.astype(np.float32) * np.float32(1.0 / self.scale) for g in grads]
        found_inf = not all(np.isfinite(g).all() for g in out)
        return out, found_inf

    def update(self, found_inf: bool) -> None:
        """After a step: halve (and count a skipped step) on overflow, else maybe grow."""
        if not self.enabled:
            return
        if found_inf:
            self.scale *= self.backoff_factor
            self.growth_tracker = 0
            self.skipped += 1
        else:
            self.growth_tracker += 1
            if self.growth_tracker == self.growth_interval:
                self.scale *= self.growth_factor
                self.growth_tracker = 0


def _low_precision_step(
    model: Sequential, x: np.ndarray, y: np.ndarray, low: np.dtype, scale: float
):
    """Forward and backward in ``low`` on a cast copy of the weights.

    Returns the loss, the (scaled, 16-bit) gradients and the bytes held by the graph.
    """
    params = model.parameters()
    masters = [p.data for p in params]
    for p in params:
        p.data, p.grad = p.data.astype(low), None
    try:
        logits = model(Tensor(x.astype(low)))
        loss = cross_entropy(logits.astype(np.float32), y)
        scaled = loss * np.float32(scale)
        graph_bytes = sum(node.data.nbytes for node in scaled.graph())
        scaled.backward()
        grads = [p.grad for p in params]
    finally:
        for p, m in zip(params, masters, strict=True):
            p.data = m
    return loss.item(), grads, graph_bytes


@dataclass
class MixedResult:
    """One mixed-precision training run."""

    dtype: str
    loss_scaling: bool
    test_accuracy: float
    train_loss: float
    skipped_steps: int
    final_scale: float
    bytes_weights_activations: int
    seconds: float
    steps: int


def train_mixed(
    data: Dataset,
    dtype: str = "float16",
    *,
    loss_scaling: bool = True,
    hidden: tuple[int, ...] = (128,),
    epochs: int = 15,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    init_scale: float = 2.0**16,
    growth_interval: int = 2000,
) -> MixedResult:
    """Train the digits MLP with 16-bit compute and float32 master weights (AdamW)."""
    low = DTYPES[dtype]
    model = mlp([data.features, *hidden, data.classes], "relu", init="he", seed=seed)
    opt = make_optimizer("adamw", model.parameters(), lr)
    scaler = LossScaler(init_scale, growth_interval=growth_interval,
                        enabled=loss_scaling and dtype != "float32")  # fmt: skip
    rng = np.random.default_rng(seed)
    peak, steps, start, last = 0, 0, time.perf_counter(), math.nan
    for _ in range(epochs):
        order = rng.permutation(len(data.y_train))
        losses = []
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            value, grads, nbytes = _low_precision_step(
                model, data.x_train[idx], data.y_train[idx], low, scaler.scale
            )
            peak = max(peak, nbytes)
            grads, found_inf = scaler.unscale(grads)
            if not found_inf:
                for p, g in zip(model.parameters(), grads, strict=True):
                    p.grad = g
                opt.step()
            scaler.update(found_inf)
            steps += 1
            losses.append(value)
        last = float(np.mean(losses))
    return MixedResult(
        dtype=dtype,
        loss_scaling=scaler.enabled,
        test_accuracy=accuracy(model, data.x_test, data.y_test),
        train_loss=last,
        skipped_steps=scaler.skipped,
        final_scale=scaler.scale,
        bytes_weights_activations=peak,
        seconds=time.perf_counter() - start,
        steps=steps,
    )


def underflow_report(
    model: Sequential, x: np.ndarray, y: np.ndarray, *, scale: float = 2.0**16
) -> dict[str, Any]:
    """How many gradient entries that are non-zero in float32 become exactly zero in 16 bits.

    Compares the float32 gradients with float16 without scaling, float16 with loss scale
    ``scale``, and bfloat16 without scaling: the fraction of entries lost (flushed to zero) and
    the median relative error of an entry (float16's subnormals below 6e-5 keep few bits).
    """
    _, ref, _ = _low_precision_step(model, x, y, DTYPES["float32"], 1.0)
    nonzero = np.concatenate([g.ravel() != 0 for g in ref])
    flat = np.concatenate([g.ravel() for g in ref])
    out: dict[str, Any] = {
        "entries": int(nonzero.sum()),
        "median_abs_grad": float(np.median(np.abs(flat))),
    }
    for label, dtype, s in [("float16", "float16", 1.0), ("float16+scaling", "float16", scale),
                            ("bfloat16", "bfloat16", 1.0)]:  # fmt: skip
        _, grads, _ = _low_precision_step(model, x, y, DTYPES[dtype], s)
        low = np.concatenate([g.astype(np.float32).ravel() / np.float32(s) for g in grads])
        out[f"lost_{label}"] = float(((low == 0) & nonzero).sum() / max(nonzero.sum(), 1))
        # subnormal float16 keeps few significant bits: the typical per-entry relative error
        rel = np.abs(low[nonzero] - flat[nonzero]) / np.abs(flat[nonzero])
        out[f"median_rel_error_{label}"] = float(np.median(rel))
    return out


def train_torch_amp(
    data: Dataset,
    dtype: str = "float16",
    *,
    hidden: tuple[int, ...] = (128,),
    epochs: int = 15,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    device: str = "cpu",
) -> dict[str, Any]:
    """The same MLP in torch: ``torch.autocast`` at ``dtype`` (+ ``GradScaler`` for float16).

    Returns accuracy, seconds, skipped steps, and the bytes of the 16-bit weight copies plus
    the activations autograd saved for the backward pass (measured with saved-tensor hooks).
    """
    import torch

    torch.manual_seed(seed)
    sizes = [data.features, *hidden, data.classes]
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    tdtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    scaler = torch.amp.GradScaler(device, enabled=dtype == "float16")
    x = torch.from_numpy(data.x_train).to(device)
    y = torch.from_numpy(data.y_train).to(device)
    gen = torch.Generator().manual_seed(seed)
    saved = [0]

    def pack(t):
        saved[0] += t.numel() * t.element_size()
        return t

    peak, skipped, start = 0, 0, time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen).to(device)
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            saved[0] = 0
            autocast = torch.autocast(device.split(":")[0], tdtype, enabled=dtype != "float32")
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast:
                loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            peak = max(peak, saved[0])
            opt.zero_grad()
            scaler.scale(loss).backward()
            before = scaler.get_scale() if scaler.is_enabled() else 1.0
            scaler.step(opt)
            scaler.update()
            if scaler.is_enabled() and scaler.get_scale() < before:
                skipped += 1
    seconds = time.perf_counter() - start
    with torch.no_grad():
        pred = model(torch.from_numpy(data.x_test).to(device)).argmax(1).cpu().numpy()
    itemsize = torch.tensor([], dtype=tdtype).element_size()
    weights = sum(p.numel() for p in model.parameters()) * itemsize
    return {
        "dtype": dtype,
        "test_accuracy": float((pred == data.y_test).mean()),
        "skipped_steps": skipped,
        "bytes_weights_activations": int(weights + peak),
        "seconds": seconds,
    }


__all__ = [
    "DTYPES",
    "LossScaler",
    "MixedResult",
    "train_mixed",
    "train_torch_amp",
    "underflow_report",
]
