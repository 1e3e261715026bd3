"""Pruning for speed: unstructured magnitude pruning and 2:4 semi-structured sparsity.

*Magnitude pruning* (Han et al., 2015) zeroes the fraction ``sparsity`` of each weight matrix with
the smallest absolute values. *2:4 sparsity* (NVIDIA Ampere; Mishra et al., 2021) keeps the 2
largest of every 4 consecutive weights along the input dimension: exactly 50% zeros in a pattern
that sparse tensor cores run at up to 2x. Only the decoder's linear layers are pruned (not the
embeddings or the head). :func:`perplexity` measures what pruning costs; :func:`matmul_speed`
measures what it buys on this machine (dense vs CSR sparse matmul of the pruned weights).
"""

from __future__ import annotations

import math
import time
import warnings

import torch


def _linears(hf_model: torch.nn.Module) -> list[tuple[str, torch.nn.Linear]]:
    return [
        (name, m)
        for name, m in hf_model.model.layers.named_modules()
        if isinstance(m, torch.nn.Linear)
    ]


@torch.no_grad()
def magnitude_prune(hf_model: torch.nn.Module, sparsity: float) -> dict[str, float]:
    """Zero the ``sparsity`` smallest-magnitude weights of every decoder linear layer, in place."""
    if not 0 <= sparsity < 1:
        raise ValueError("sparsity must be in [0, 1)")
    achieved = {}
    for name, lin in _linears(hf_model):
        w = lin.weight
        k = int(w.numel() * sparsity)
        if k:
            threshold = w.abs().flatten().kthvalue(k).values
            w.masked_fill_(w.abs() <= threshold, 0.0)
        achieved[name] = float((w == 0).float().mean())
    return achieved


@torch.no_grad()
def semi_structured_prune(hf_model: torch.nn.Module, n: int = 2, m: int = 4) -> dict[str, float]:
    """Keep the ``n`` largest of every ``m`` consecutive input weights (2:4), in place."""
    achieved = {}
    for name, lin in _linears(hf_model):
        w = lin.weight
        if w.shape[1] % m:
            raise ValueError(f"{name}: input size {w.shape[1]} is not a multiple of {m}")
        groups = w.view(w.shape[0], -1, m)
        drop = groups.abs().argsort(dim=-1)[..., : m - n]
        groups.scatter_(-1, drop, 0.0)
        achieved[name] = float((w == 0).float().mean())
    return achieved


@torch.no_grad()
def perplexity(hf_model: torch.nn.Module, ids: list[int], seq_len: int = 128) -> float:
    """exp(mean next-token loss) over consecutive windows of ``ids``."""
    seq_len = min(seq_len, hf_model.config.max_position_embeddings)
    chunks = [ids[i : i + seq_len] for i in range(0, len(ids) - seq_len + 1, seq_len)]
    if not chunks:
        raise ValueError("not enough tokens for one window")
    total, count = 0.0, 0
    for start in range(0, len(chunks), 8):
        batch = torch.tensor(chunks[start : start + 8])
        loss = hf_model(batch, labels=batch).loss
        n = batch.shape[0] * (batch.shape[1] - 1)
        total += float(loss) * n
        count += n
    return math.exp(total / count)


def matmul_speed(
    hf_model: torch.nn.Module, tokens: int = 16, repeats: int = 20
) -> dict[str, float]:
    """Milliseconds for all decoder linear layers on ``tokens`` inputs: dense vs CSR sparse."""
    layers = [lin.weight.detach() for _, lin in _linears(hf_model)]
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        sparse = [w.to_sparse_csr() for w in layers]
    xs = [torch.randn(w.shape[1], tokens) for w in layers]

    def run(ws) -> float:
        start = time.perf_counter()
        for _ in range(repeats):
            for w, x in zip(ws, xs, strict=True):
                torch.mm(w, x) if w.layout == torch.strided else torch.sparse.mm(w, x)
        return (time.perf_counter() - start) / repeats * 1e3

    run(layers), run(sparse)
    return {"dense_ms": run(layers), "csr_sparse_ms": run(sparse)}


__all__ = ["magnitude_prune", "matmul_speed", "perplexity", "semi_structured_prune"]
