"""Atomic training checkpoints: everything needed to continue a run bit for bit.

A checkpoint is a folder ``checkpoints/step-000120/`` holding ``state.pt`` (model, optimizer,
scheduler, the RNG states of Python, NumPy and PyTorch, the data position and the batches skipped
so far) and ``meta.json``. It is written with :func:`llmpath_core.atomic_dir`, so a crash while
saving leaves the previous checkpoints untouched, and only the newest ``keep_last`` are kept.
``state.pt`` holds only tensors and plain Python values, so it loads with ``weights_only=True``.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmpath_core import UserError, atomic_dir

PREFIX = "step-"


def rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [*random.getstate()[1], random.getstate()[2]],
        "python_version": random.getstate()[0],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    *internal, gauss = state["python"]
    random.setstate((state["python_version"], tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"{PREFIX}{step:06d}"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (temporary folders are ignored)."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX)]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX) :]))


def save_checkpoint(run_dir: Path, state: dict[str, Any], *, keep_last: int) -> Path:
    """Write ``state`` (must hold ``step``) atomically and prune to the newest ``keep_last``."""
    target = checkpoint_dir(run_dir, int(state["step"]))
    with atomic_dir(target) as tmp:
        torch.save(state, tmp / "state.pt")
        meta = {"step": int(state["step"]), "data_position": int(state["data_position"])}
        (tmp / "meta.json").write_text(json.dumps(meta) + "\n")
    if keep_last > 0:
        for old in list_checkpoints(run_dir)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    return target


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint folder; a damaged one is a :class:`UserError` naming it."""
    try:
        return torch.load(Path(path) / "state.pt", map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"checkpoint {path} has no state.pt: delete the folder") from None
    except Exception as exc:
        raise UserError(
            f"checkpoint {path} is corrupt ({type(exc).__name__}); delete it to resume from "
            "the one before"
        ) from None


def latest_checkpoint(run_dir: str | Path) -> Path:
    found = list_checkpoints(run_dir)
    if not found:
        raise UserError(f"{run_dir} has no checkpoint to resume from (no checkpoints/step-*)")
    return found[-1]


__all__ = [
    "checkpoint_dir",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
]
