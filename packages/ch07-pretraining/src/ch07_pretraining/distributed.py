"""Data parallelism: the same training step over several processes (DDP, ZeRO stage 1).

:func:`~ch07_pretraining.train.train` is already distributed-aware: under an initialised process
group each rank takes its slice of every global batch, ``DistributedDataParallel`` averages the
gradients during ``backward()`` (so the update is the one a single process would make on the
whole batch), and with ``zero=True`` ``ZeroRedundancyOptimizer`` keeps only 1/world of AdamW's
moments on each rank (Rajbhandari et al. 2020, ZeRO stage 1). This module starts the process
group: from ``torchrun``'s environment (:func:`init_from_env`), or by spawning local workers
(:func:`spawn_train`, what the tests use).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def init_from_env() -> bool:
    """Join the process group described by torchrun's variables; False when not under torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return dist.is_initialized()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    return True


def _worker(rank: int, world_size: int, init_file: str, jobs: list, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    try:
        from ch07_pretraining.train import train

        results = [train(config, run_dir) for config, run_dir in jobs]
        if rank == 0:
            torch.save(results, out)
    finally:
        dist.destroy_process_group()


def spawn_train(jobs: list[tuple], world_size: int = 2, start_method: str = "spawn") -> list[dict]:
    """Run each ``(config, run_dir)`` of ``jobs`` with :func:`~ch07_pretraining.train.train` in
    ``world_size`` local CPU processes (gloo); the processes start once for all the jobs.

    ``start_method="fork"`` (Linux, CPU only) skips re-importing torch in every worker.
    """
    with tempfile.TemporaryDirectory() as tmp:
        init_file = str(Path(tmp) / "rendezvous")
        out = str(Path(tmp) / "results.pt")
        jobs = [(config, str(run_dir)) for config, run_dir in jobs]
        mp.start_processes(
            _worker,
            args=(world_size, init_file, jobs, out),
            nprocs=world_size,
            join=True,
            start_method=start_method,
        )
        return torch.load(out, weights_only=False)


__all__ = ["init_from_env", "spawn_train"]
