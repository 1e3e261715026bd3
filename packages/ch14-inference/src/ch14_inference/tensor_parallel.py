"""Tensor parallelism (Megatron-LM, Shoeybi et al., 2019) over ``torch.distributed``.

Each rank holds a slice of every layer: a subset of the attention heads (its rows of the Q, K, V
projections and the matching columns of the output projection) and a slice of the MLP's hidden
units (rows of gate/up, columns of down). Each rank computes a *partial* output of the attention
block and of the MLP; one ``all_reduce`` (sum) after each gives every rank the full hidden state,
so a layer costs two all-reduces. Embeddings, norms and the LM head are replicated. Heads are
split along KV-head groups (GQA stays intact) and may split unevenly (5 heads -> 3 + 2).

:func:`run_tensor_parallel` launches ``world`` CPU processes over gloo, runs a prompt plus greedy
decode steps, and returns rank 0's logits; the test holds them to the single-process logits within
1e-5.
"""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from ch14_inference.model import PagedLlama


def shard(model: PagedLlama, rank: int, world: int) -> PagedLlama:
    """A copy of ``model`` holding only rank ``rank``'s heads and MLP units."""
    if model.num_kv_heads < world:
        raise ValueError(f"{model.num_kv_heads} KV heads cannot be split over {world} ranks")
    g = model.num_heads // model.num_kv_heads
    hd = model.head_dim
    kv = torch.tensor_split(torch.arange(model.num_kv_heads), world)[rank]
    heads = torch.cat([torch.arange(int(h) * g, (int(h) + 1) * g) for h in kv])
    units = torch.tensor_split(torch.arange(model.inter), world)[rank]

    def dims(idx: torch.Tensor) -> torch.Tensor:
        return (idx[:, None] * hd + torch.arange(hd)).flatten()

    q_rows = dims(heads)
    k_rows = model.q_size + dims(kv)
    v_rows = model.q_size + model.kv_size + dims(kv)
    qkv_rows = torch.cat([q_rows, k_rows, v_rows])
    part = copy.copy(model)
    part.hf_model = None
    part.num_heads, part.num_kv_heads = len(heads), len(kv)
    part.q_size, part.kv_size = len(heads) * hd, len(kv) * hd
    part.inter = len(units)
    part.layers = []
    for lw in model.layers:
        gu = torch.cat([units, model.inter + units])
        part.layers.append(
            {
                "ln1": lw["ln1"],
                "ln2": lw["ln2"],
                "qkv": lw["qkv"][qkv_rows].contiguous(),
                "qkv_b": None if lw["qkv_b"] is None else lw["qkv_b"][qkv_rows],
                "o": lw["o"][:, q_rows].contiguous(),
                "o_b": lw["o_b"] if rank == 0 else None,  # a bias is added once, not per rank
                "gu": lw["gu"][gu].contiguous(),
                "gu_b": None if lw["gu_b"] is None else lw["gu_b"][gu],
                "down": lw["down"][:, units].contiguous(),
                "down_b": lw["down_b"] if rank == 0 else None,
            }
        )
    return part


def reference_logits(model: PagedLlama, prompt_ids: list[int], steps: int) -> torch.Tensor:
    """Logits of the prompt's positions and of ``steps`` greedy decode steps, one process."""
    cache = model.new_stream_cache(len(prompt_ids) + steps)
    ids = torch.tensor(prompt_ids)
    out = [model.forward_contiguous(ids, 0, cache, all_logits=True)]
    pos = len(prompt_ids)
    for _ in range(steps):
        nxt = out[-1][-1:].argmax(-1)
        out.append(model.forward_contiguous(nxt, pos, cache))
        pos += 1
    return torch.cat(out)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_tensor_parallel(
    model: PagedLlama,
    prompt_ids: list[int],
    steps: int = 4,
    world: int = 2,
    timeout: float = 300.0,
) -> torch.Tensor:
    """Run the prompt and ``steps`` greedy steps on ``world`` processes; rank 0's logits."""
    with tempfile.TemporaryDirectory() as tmp:
        state_path = Path(tmp) / "state.pt"
        torch.save({"state": model.to_state(), "prompt": prompt_ids, "steps": steps}, state_path)
        port = str(_free_port())
        env = {
            **os.environ,
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "OMP_NUM_THREADS": "1",
        }
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ch14_inference.tensor_parallel",
                    str(state_path),
                    str(rank),
                    str(world),
                ],
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
            for rank in range(world)
        ]
        errors = []
        for p in procs:
            _, err = p.communicate(timeout=timeout)
            if p.returncode:
                errors.append(err.strip().splitlines()[-1] if err.strip() else str(p.returncode))
        if errors:
            raise RuntimeError(f"tensor-parallel worker failed: {errors[0]}")
        return torch.load(Path(tmp) / "logits.pt")


def _worker(state_path: str, rank: int, world: int) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    saved = torch.load(state_path, weights_only=False)
    full = PagedLlama.from_state(saved["state"])
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        part = shard(full, rank, world)
        part.all_reduce = lambda y: dist.all_reduce(y)
        logits = reference_logits(part, saved["prompt"], saved["steps"])
        if rank == 0:
            torch.save(logits, Path(state_path).with_name("logits.pt"))
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    _worker(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))


__all__ = ["reference_logits", "run_tensor_parallel", "shard"]
