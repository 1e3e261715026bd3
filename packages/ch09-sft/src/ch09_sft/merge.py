"""Model merging from scratch: linear, SLERP, task arithmetic, TIES, DARE (+TIES).

Everything works tensor by tensor on state dicts of identical shapes, with mergekit 0.1.5's
formulas (the tests hold every method to it, ≤ 1e-6 per tensor):

- **linear**: ``Σ wᵢ θᵢ / Σ wᵢ`` (normalised by default).
- **SLERP** (two models, ``t`` from the base to the other): spherical interpolation of each
  tensor as one flat vector; nearly collinear tensors (|cos| > 0.9995) fall back to linear
  interpolation.
- **task arithmetic**: ``θ_base + λ Σ wᵢ τᵢ`` with task vectors ``τᵢ = θᵢ - θ_base``.
- **TIES**: trim each ``τᵢ`` to its top-``density`` magnitudes, elect a sign per entry by the sign
  of ``Σ wᵢ τᵢ``, keep only agreeing entries, divide by the weight of the agreeing models.
- **DARE**: drop each entry of ``τᵢ`` with probability ``1 - density`` (Bernoulli), rescale the
  survivors so the L1 norm is kept, then sum (``dare_linear``) or TIES-elect (``dare_ties``).
  Each tensor ``k`` (sorted key order) draws from its own generator seeded ``seed + k``, models in
  the order given, which is what makes a DARE merge reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from llmpath_core import UserError

StateDict = dict[str, torch.Tensor]
METHODS = ("linear", "slerp", "task_arithmetic", "ties", "dare_linear", "dare_ties")


def check_compatible(states: Sequence[StateDict]) -> None:
    """Raise ``UserError`` unless every state dict has the same keys and shapes."""
    first = states[0]
    for i, s in enumerate(states[1:], 1):
        if set(s) != set(first):
            diff = sorted(set(s) ^ set(first))[:3]
            raise UserError(f"model {i} has other tensors than model 0 (e.g. {diff})")
        for k, v in s.items():
            if v.shape != first[k].shape:
                raise UserError(
                    f"model {i}: {k} has shape {tuple(v.shape)}, model 0 {tuple(first[k].shape)}"
                )


def linear(tensors: Sequence[torch.Tensor], weights: Sequence[float], normalize: bool = True):
    """Weighted sum ``Σ wᵢ θᵢ``, divided by ``Σ wᵢ`` when ``normalize``."""
    stacked = torch.stack([t.float() for t in tensors])
    w = torch.tensor(weights, dtype=stacked.dtype).view(-1, *([1] * (stacked.dim() - 1)))
    out = (stacked * w).sum(0)
    if normalize:
        out = out / w.sum(0)
    return out.to(tensors[0].dtype)


def slerp(t: float, v0: torch.Tensor, v1: torch.Tensor, dot_threshold: float = 0.9995):
    """Spherical interpolation from ``v0`` (t=0) to ``v1`` (t=1), each tensor as one vector."""
    eps = 1e-8
    a = v0.reshape(1, -1).float()
    b = v1.reshape(1, -1).float()
    na = a.norm(dim=1, keepdim=True)
    nb = b.norm(dim=1, keepdim=True)
    na = torch.where(na > eps, na, torch.ones_like(na))
    nb = torch.where(nb > eps, nb, torch.ones_like(nb))
    dot = ((a / na) * (b / nb)).sum(dim=1, keepdim=True).clamp(-1, 1)
    collinear = dot.abs() > dot_threshold
    theta = torch.acos(torch.where(collinear, torch.zeros_like(dot), dot))
    sin = torch.sin(theta)
    ca = torch.where(collinear, torch.full_like(dot, 1 - t), torch.sin((1 - t) * theta) / sin)
    cb = torch.where(collinear, torch.full_like(dot, t), torch.sin(t * theta) / sin)
    return (ca * a + cb * b).reshape(v0.shape)


def _rescale_l1(delta: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    """``kept`` scaled so its L1 norm equals ``delta``'s (unless either is ~0)."""
    before, after = delta.abs().sum(), kept.abs().sum()
    if before < 1e-7 or after < 1e-7:
        return kept
    return kept * (before / after)


def trim_magnitude(delta: torch.Tensor, density: float) -> torch.Tensor:
    """Keep the ``density`` fraction of entries with the largest magnitude (at least one)."""
    if density >= 1:
        return delta
    if density <= 0:
        return torch.zeros_like(delta)
    k = max(1, int(density * delta.numel()))
    mask = torch.zeros(delta.numel(), dtype=delta.dtype)
    mask[torch.argsort(delta.abs().reshape(-1).float(), descending=True)[:k]] = 1
    return delta * mask.reshape_as(delta)


def drop_random(
    delta: torch.Tensor, density: float, generator: torch.Generator, rescale: bool = True
) -> torch.Tensor:
    """DARE: keep each entry with probability ``density``, rescale to the same L1 norm."""
    if density >= 1:
        return delta
    mask = torch.bernoulli(
        torch.full_like(delta, density, dtype=torch.float32), generator=generator
    )
    kept = delta.float() * mask
    return (_rescale_l1(delta.float(), kept) if rescale else kept).to(delta.dtype)


def task_vector_merge(
    base: torch.Tensor,
    tensors: Sequence[torch.Tensor],
    weights: Sequence[float],
    *,
    density: float = 1.0,
    sparsify: str | None = None,
    consensus: bool = False,
    normalize: bool = False,
    rescale: bool = False,
    lam: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The task-arithmetic family (task arithmetic, TIES, DARE) on one tensor."""
    deltas = []
    for t in tensors:
        d = t - base
        if sparsify == "magnitude":
            d = trim_magnitude(d, density)
            if rescale:
                d = _rescale_l1(t - base, d)
        elif sparsify == "random":
            d = drop_random(d, density, generator or torch.Generator(), rescale=rescale)
        deltas.append(d)
    stacked = torch.stack(deltas)
    w = torch.tensor(weights, dtype=stacked.dtype).view(-1, *([1] * base.dim()))
    stacked = stacked * w
    if consensus:
        sign = stacked.sign()
        majority = (stacked.sum(0) >= 0).to(stacked.dtype) * 2 - 1
        mask = (sign == majority).to(stacked.dtype)
        mixed = (stacked * mask).sum(0)
        divisor = (w * mask).sum(0)
        divisor[divisor == 0] = 1
    else:
        mixed = stacked.sum(0)
        divisor = w.sum(0)
        divisor[divisor.abs() < 1e-8] = 1
    if normalize:
        mixed = mixed / divisor
    if lam != 1:
        mixed = mixed * lam
    return (base + mixed).to(base.dtype)


def merge_states(
    models: Sequence[StateDict],
    method: str,
    *,
    base: StateDict | None = None,
    weights: Sequence[float] | None = None,
    density: float = 0.5,
    t: float = 0.5,
    lam: float = 1.0,
    seed: int = 0,
) -> StateDict:
    """Merge ``models`` (state dicts) with ``method``; ``base`` is needed by all but ``linear``.

    Defaults follow mergekit's: TIES normalises by the agreeing weights, DARE rescales and does
    not normalise, task arithmetic neither. For ``slerp``, ``models`` is the one model that ``t``
    moves towards from ``base``.
    """
    if method not in METHODS:
        raise UserError(f"merge method must be one of {', '.join(METHODS)}, not {method!r}")
    if not models:
        raise UserError("merging needs at least one model")
    if method != "linear" and base is None:
        raise UserError(f"{method} needs a base model")
    if method == "slerp" and len(models) != 1:
        raise UserError("slerp interpolates between the base and exactly one other model")
    check_compatible([*models, *([base] if base is not None else [])])
    weights = list(weights) if weights is not None else [1.0] * len(models)
    if len(weights) != len(models):
        raise UserError(f"{len(weights)} weights for {len(models)} models")
    if not 0 < density <= 1:
        raise UserError(f"density must be in (0, 1], not {density}")
    out: StateDict = {}
    for k, key in enumerate(sorted(models[0])):
        tensors = [m[key] for m in models]
        if method == "linear":
            out[key] = linear(tensors, weights)
        elif method == "slerp":
            out[key] = slerp(t, base[key], tensors[0]).to(base[key].dtype)
        else:
            kind = {
                "task_arithmetic": (None, False, False, False),
                "ties": ("magnitude", True, True, False),
                "dare_linear": ("random", False, False, True),
                "dare_ties": ("random", True, False, True),
            }[method]
            sparsify, consensus, normalize, rescale = kind
            out[key] = task_vector_merge(
                base[key],
                tensors,
                weights,
                density=density,
                sparsify=sparsify,
                consensus=consensus,
                normalize=normalize,
                rescale=rescale,
                lam=lam,
                generator=torch.Generator().manual_seed(seed + k) if sparsify else None,
            )
    return out


__all__ = [
    "METHODS",
    "check_compatible",
    "drop_random",
    "linear",
    "merge_states",
    "slerp",
    "task_vector_merge",
    "trim_magnitude",
]
