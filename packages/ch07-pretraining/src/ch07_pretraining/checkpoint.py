"""Atomic training checkpoints: everything needed to continue a run bit for bit.

A checkpoint is a folder ``checkpoints/step-000120/`` holding ``state.pt`` (model, optimizer,
scheduler, the RNG states of Python, NumPy and PyTorch, the data position and the batches skipped
so far) and ``meta.json``. It is written with :func:`llmpath_core.atomic_dir`, so a crash while
saving leaves the previous checkpoints untouched, and only the newest ``keep_last`` are kept.
``state.pt`` holds only tensors and plain Python values, so it loads with ``weights_only=True``.

:class:`TrainingCheckpoints` is what the training loop calls: it gathers the full model and
optimizer state (consolidating ZeRO-1 shards, or FSDP shards through
``torch.distributed.checkpoint.state_dict``), writes on rank 0, and restores all of it, RNGs
included. :func:`save_hf_folder` writes the final Hugging Face model folder.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmpath_core import UserError, atomic_dir

PREFIX = "step-"
# the training loop's own state, saved next to the model, optimizer, scheduler and RNGs
LOOP_STATE = ("step", "data_position", "skipped", "loss_ema")


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


def _state_options():
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=True)


def full_model_state(model: torch.nn.Module, fsdp: bool) -> dict[str, Any]:
    """The whole (unsharded) model state; under FSDP every rank must call it."""
    if not fsdp:
        return model.state_dict()
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    return get_model_state_dict(model, options=_state_options())


def full_optimizer_state(model: torch.nn.Module, optimizer, fsdp: bool) -> dict[str, Any] | None:
    if not fsdp:
        return optimizer.state_dict()
    if not optimizer.state:
        # before the first step: nothing to save, and get_optimizer_state_dict would initialise
        # the state with a zero-lr step, which advances AdamW's step count (bias correction)
        return None
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    return get_optimizer_state_dict(model, optimizer, options=_state_options())


def load_model_state(model: torch.nn.Module, state: dict[str, Any], fsdp: bool) -> None:
    if not fsdp:
        model.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    set_model_state_dict(
        model, state, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=False)
    )


def load_optimizer_state(model: torch.nn.Module, optimizer, state: dict | None, fsdp: bool) -> None:
    if state is None:  # saved before the first step
        optimizer.state.clear()
        return
    if not fsdp:
        optimizer.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_optimizer_state_dict,
    )

    set_optimizer_state_dict(
        model,
        optimizer,
        state,
        options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=False),
    )


@dataclass
class TrainingCheckpoints:
    """Save and restore everything a training step depends on, in ``run_dir/checkpoints``.

    A checkpoint holds the model, the optimizer (consolidated from ZeRO-1 shards or gathered from
    FSDP), the scheduler, the fp16 loss scaler when it is on, the RNG states, and the loop state
    (``LOOP_STATE``: step, data position, batches skipped, loss average). Every rank calls
    :meth:`save` (the gathers are collectives); rank 0 writes.
    """

    run_dir: Path
    model: torch.nn.Module
    optimizer: Any
    scheduler: Any
    scaler: torch.amp.GradScaler
    fsdp: bool = False
    zero: bool = False
    keep_last: int = 3
    rank: int = 0
    world: int = 1

    def save(self, loop_state: dict[str, Any], after: Callable[[], None] | None = None) -> None:
        """Write a checkpoint of the current step; ``after`` runs on rank 0 once it is written."""
        if self.zero:
            self.optimizer.consolidate_state_dict(to=0)
        model_state = full_model_state(self.model, self.fsdp)  # collective under FSDP
        optimizer_state = full_optimizer_state(self.model, self.optimizer, self.fsdp)
        if self.rank == 0:
            payload = {
                "model": model_state,
                "optimizer": optimizer_state,
                "scheduler": self.scheduler.state_dict(),
                "rng": rng_state(),
                **loop_state,
            }
            if self.scaler.is_enabled():
                payload["scaler"] = self.scaler.state_dict()
            save_checkpoint(self.run_dir, payload, keep_last=self.keep_last)
            if after is not None:
                after()
        if self.world > 1:
            torch.distributed.barrier()

    def restore(self, path: Path) -> dict[str, Any]:
        """Load checkpoint ``path`` into the model, optimizer, scheduler, scaler and RNGs; returns
        the loop state it was taken at."""
        ckpt = load_checkpoint(path)
        try:
            load_model_state(self.model, ckpt["model"], self.fsdp)
        except RuntimeError:
            raise UserError(
                f"checkpoint {path} does not match the model (depth/vocabulary changed?)"
            ) from None
        load_optimizer_state(self.model, self.optimizer, ckpt["optimizer"], self.fsdp)
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if "scaler" in ckpt:
            self.scaler.load_state_dict(ckpt["scaler"])
        set_rng_state(ckpt["rng"])
        return {key: ckpt[key] for key in LOOP_STATE}


def save_hf_folder(model, tokenizer, run_dir: Path) -> None:
    """Write ``config.json`` + safetensors + tokenizer into ``run_dir``, file by file atomically."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one small shard: no "Writing model shards" bar
    tmp = Path(tempfile.mkdtemp(prefix=".model.", dir=run_dir))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        for file in tmp.iterdir():
            os.replace(file, run_dir / file.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = [
    "LOOP_STATE",
    "TrainingCheckpoints",
    "checkpoint_dir",
    "full_model_state",
    "full_optimizer_state",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_model_state",
    "load_optimizer_state",
    "rng_state",
    "save_checkpoint",
    "save_hf_folder",
    "set_rng_state",
]
