"""Seeding for reproducibility: one call covers Python's ``random``, NumPy and PyTorch."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int, *, deterministic: bool = False) -> int:
    """Seed ``random``, ``numpy`` and ``torch`` (CPU and every CUDA device) with ``seed``.

    With ``deterministic=True`` PyTorch is also asked to use deterministic algorithms (slower, and
    some ops then raise); the default only fixes the random streams. Returns the seed.
    """
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses started from here
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return seed


__all__ = ["seed_everything"]
