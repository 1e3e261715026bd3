"""Pruning for speed: unstructured magnitude pruning and 2:4 semi-structured sparsity.

*Magnitude pruning* (Han et al., 2015) zeroes the fraction ``sparsity`` of each weight matrix with
the smallest absolute values. *2:4 sparsity* (NVIDIA Ampere; Mishra et al., 2021) keeps the 2
largest of every 4 consecutive weights along the input dimension: exactly 50% zeros in a pattern
that sparse tensor cores run at up to 2x. Only the decoder's linear layers are pruned (not the
embeddings or the head). :func:`prune_report` measures what pruning costs on held-out text with
llmpath-core's ``evaluate_lm`` (as a paired difference to the dense model, with its standard
error); :func:`matmul_speed` measures what it buys on this machine (dense vs CSR sparse matmul).
"""

from __future__ import annotations

import copy
import time
import warnings
from typing import Any

import torch

from llmpath_core import UserError


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


def prune_report(
    hf_model: torch.nn.Module,
    tokenizer: Any,
    settings: list[tuple[str, float]],
    max_windows: int | None = 32,
) -> tuple[list[dict[str, Any]], dict[tuple[str, float], torch.nn.Module]]:
    """Prune copies of ``hf_model`` per ``(method, sparsity)`` and measure each on held-out text.

    Loss, perplexity and bits per byte come from :func:`llmpath_core.models.evaluate_lm` (the
    project's one held-out evaluation, first ``max_windows`` windows); each pruned model's cost is
    the paired difference to the dense model over the same windows, with its standard error
    (:func:`llmpath_core.models.paired_difference`). Returns the rows and the pruned models.
    """
    from llmpath_core.models import evaluate_lm, paired_difference

    if tokenizer is None:
        raise UserError("pruning is evaluated on held-out text: the model needs a tokenizer.json")
    dense = evaluate_lm(hf_model, tokenizer, max_windows=max_windows)
    rows, models = [], {}
    for name, level in dict.fromkeys([("dense", 0.0), *settings]):
        pruned = copy.deepcopy(hf_model)
        if name == "magnitude" and level > 0:
            magnitude_prune(pruned, level)
        elif name == "2:4":
            semi_structured_prune(pruned)
        elif name not in {"dense", "magnitude"}:
            raise UserError(f"unknown pruning method {name!r}: use 'magnitude' or '2:4'")
        ev = dense if name == "dense" else evaluate_lm(pruned, tokenizer, max_windows=max_windows)
        diff = paired_difference(dense, ev)
        rows.append(
            {
                "method": name,
                "sparsity": level,
                "loss": ev["loss"],
                "loss_stderr": ev["loss_stderr"],
                "perplexity": ev["perplexity"],
                "bits_per_byte": ev["bits_per_byte"],
                "loss_diff": diff["loss_diff"],
                "loss_diff_stderr": diff["loss_diff_stderr"],
                "perplexity_ratio": diff["perplexity_ratio"],
                "tokens": ev["tokens"],
                **matmul_speed(pruned),
            }
        )
        models[(name, level)] = pruned
    return rows, models


__all__ = ["magnitude_prune", "matmul_speed", "prune_report", "semi_structured_prune"]
