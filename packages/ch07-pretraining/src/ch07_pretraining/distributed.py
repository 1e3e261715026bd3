"""Data parallelism: the same training step over several processes (DDP, ZeRO stage 1).

:func:`~ch07_pretraining.train.train` is already distributed-aware: under an initialised process
group each rank takes its slice of every global batch, ``DistributedDataParallel`` averages the
gradients during ``backward()`` (so the update is the one a single process would make on the
whole batch), and with ``zero=True`` ``ZeroRedundancyOptimizer`` keeps only 1/world of AdamW's
moments on each rank (Rajbhandari et al. 2020, ZeRO stage 1). This module starts the process
group: from ``torchrun``'s environment (:func:`init_from_env`), or by spawning local workers
(:func:`spawn_train`, what the tests use).

It also holds the pieces of the loop that depend on the process layout: the device of a rank
(:func:`training_device`), wrapping the model in DDP / FSDP / ``torch.compile``
(:func:`wrap_model`), gradient synchronisation on the last micro-batch only
(:func:`gradient_sync`), each rank's slice of a batch and the loss averaged over ranks.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from llmpath_core import UserError


def init_from_env() -> bool:
    """Join the process group described by torchrun's variables; False when not under torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return dist.is_initialized()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    return True


def world_info() -> tuple[int, int]:
    """``(rank, world size)`` of this process: ``(0, 1)`` without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def training_device(name: str) -> torch.device:
    """The device of this process: under torchrun on CUDA, the GPU of its local rank."""
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda asked for, but CUDA is not available here")
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    return device


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float | None:
    """Peak memory: GPU memory allocated by torch on CUDA, the process's peak RSS on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource
    except ImportError:  # Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def shard_model(model: torch.nn.Module) -> None:
    """FSDP (the per-parameter ``fully_shard`` API): each decoder layer, then the rest."""
    from torch.distributed.fsdp import fully_shard

    for layer in model.model.layers:
        fully_shard(layer)
    fully_shard(model)


def wrap_model(
    model: torch.nn.Module, device: torch.device, world: int, *, fsdp: bool, compile: bool
) -> torch.nn.Module:
    """What the forward pass runs through: FSDP shards ``model`` in place, DDP wraps it when
    ``world > 1``, ``torch.compile`` wraps the result. The optimizer still takes ``model``."""
    net = model
    if fsdp:
        shard_model(model)
    elif world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    if compile:
        net = torch.compile(net)
    return net


def gradient_sync(model: torch.nn.Module, net, *, fsdp: bool, world: int, last: bool):
    """Context for one micro-batch's backward: all-reduce (DDP) or reduce-scatter (FSDP) the
    gradients on the ``last`` micro-batch only, accumulate locally before it."""
    if fsdp:
        model.set_requires_gradient_sync(last)
    elif not last and world > 1:
        return net.no_sync()
    return contextlib.nullcontext()


def rank_slice(tensor: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """This rank's contiguous share of a global batch (the batch splits evenly)."""
    per_rank = tensor.shape[0] // world
    return tensor[rank * per_rank : (rank + 1) * per_rank]


def mean_over_ranks(value: torch.Tensor, world: int) -> torch.Tensor:
    """Average a scalar over the processes (in place); unchanged for a single process."""
    if world > 1:
        dist.all_reduce(value, op=dist.ReduceOp.AVG)
    return value


def barrier(world: int) -> None:
    if world > 1:
        dist.barrier()


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


__all__ = [
    "barrier",
    "gradient_sync",
    "init_from_env",
    "mean_over_ranks",
    "peak_memory_mb",
    "rank_slice",
    "reset_peak_memory",
    "shard_model",
    "spawn_train",
    "training_device",
    "world_info",
    "wrap_model",
]
