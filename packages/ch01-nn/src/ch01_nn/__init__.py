"""Neural networks from scratch in NumPy, held to torch autograd, torch.optim and GradScaler.

The public API, one concept per module::

    from ch01_nn import Tensor, mlp, cross_entropy, AdamW, Schedule, Scheduler
    from ch01_nn import load_digits_split, load_mnist, TrainConfig, train_mlp

``gradcheck``, ``gradient_health``, ``surfaces``/``visualiser``, ``mixed_precision`` and
``regularization`` hold the labs; ``cli`` is the ``ch01-nn`` console script.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "autodiff": ["Tensor", "no_grad", "tensor", "where"],
    "nn": ["BatchNorm1d", "Dropout", "Linear", "Sequential", "mlp"],
    "losses": ["cross_entropy", "huber", "l1_penalty", "l2_penalty", "mse"],
    "optim": [
        "SGD",
        "Adam",
        "AdamW",
        "RMSprop",
        "clip_grad_norm",
        "clip_grad_value",
        "make_optimizer",
    ],
    "schedules": ["Schedule", "Scheduler"],
    "data": ["Dataset", "load_dataset", "load_digits_split", "load_mnist"],
    "train": ["TrainConfig", "TrainResult", "accuracy", "train_mlp"],
    "mixed_precision": ["LossScaler", "train_mixed", "underflow_report"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = ["__version__", *sorted(_WHERE)]


def __getattr__(name: str) -> Any:
    # imported on first use, so that `ch01-nn --help` does not pay for SciPy and scikit-learn
    if name in _WHERE:
        value = getattr(importlib.import_module(f"ch01_nn.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ch01_nn' has no attribute {name!r}")
