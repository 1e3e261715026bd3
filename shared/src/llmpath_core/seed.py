"""Seeding for reproducibility: one call covers Python's ``random``, NumPy and PyTorch."""

from __future__ import annotations

import os
import random
import sys

import numpy as np


def seed_everything(seed: int, *, deterministic: bool = False, torch: bool | None = True) -> int:
    """Seed ``random``, ``numpy`` and ``torch`` (CPU and every CUDA device) with ``seed``.

    ``torch=None`` seeds torch only if it is already imported (so code that never touches torch
    does not pay for importing it); ``torch=False`` leaves it alone. With ``deterministic=True``
    PyTorch is also asked to use deterministic algorithms (slower, and some ops then raise); the
    default only fixes the random streams. Returns the seed.
    """
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses started from here
    if torch is False or (torch is None and "torch" not in sys.modules):
        return seed
    import torch as _torch

    _torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        _torch.use_deterministic_algorithms(True, warn_only=True)
        _torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return seed


__all__ = ["seed_everything"]
