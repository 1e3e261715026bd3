"""Model merging: linear, SLERP, task arithmetic, TIES and DARE on state dicts.

All methods work tensor by tensor on models of identical shapes; the formulas follow mergekit
(the tests compare with it on the same tiny models):

- **linear** (model soups, Wortsman et al. 2022): ``sum w_i theta_i / sum w_i``;
- **SLERP**: spherical interpolation between a base and one other model at ``t``, each tensor
  taken as one vector, linear where the two are nearly parallel;
- **task arithmetic** (Ilharco et al. 2023): ``base + lambda * sum w_i (theta_i - base)``;
- **TIES** (Yadav et al. 2023): trim each task vector to its ``density`` largest magnitudes,
  elect a sign per weight (the sign of the weighted sum), keep the agreeing entries and average
  them (disjoint mean);
- **DARE** (Yu et al. 2024): drop each task-vector entry with probability ``1 - density`` and
  rescale the survivors; like mergekit, the rescale restores the task vector's L1 norm (the
  paper's ``1 / density`` in expectation). ``dare_ties`` adds TIES' sign election.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from llmpath_core import UserError

StateDict = Mapping[str, torch.Tensor]
METHODS = ("linear", "slerp", "task_arithmetic", "ties", "dare_linear", "dare_ties")


def check_compatible(states: Sequence[StateDict], names: Sequence[str] | None = None) -> None:
    """Raise :class:`UserError` unless all state dicts have the same tensor names and shapes."""
    names = names or [f"model {i}" for i in range(len(states))]
    first = states[0]
    for state, name in zip(states[1:], names[1:], strict=True):
        if set(state) != set(first):
            missing = sorted(set(first) ^ set(state))[:3]
            raise UserError(
                f"cannot merge {names[0]} and {name}: different tensors ({', '.join(missing)} ...)"
            )
        for key, tensor in first.items():
            if state[key].shape != tensor.shape:
                raise UserError(
                    f"cannot merge {names[0]} and {name}: {key} has shape {tuple(tensor.shape)} vs "
                    f"{tuple(state[key].shape)} (models must share one architecture and size)"
                )


def linear(
    tensors: Sequence[torch.Tensor], weights: Sequence[float], normalize: bool = True
) -> torch.Tensor:
    """Weighted mean (or sum, without ``normalize``) of same-shaped tensors."""
    w = torch.tensor(list(weights), dtype=torch.float32)
    out = torch.zeros_like(tensors[0], dtype=torch.float32)
    for tensor, coefficient in zip(tensors, w, strict=True):
        out += tensor.float() * coefficient
    if normalize:
        out /= w.sum()
    return out.to(tensors[0].dtype)


def slerp(
    t: float, v0: torch.Tensor, v1: torch.Tensor, dot_threshold: float = 0.9995, eps: float = 1e-8
) -> torch.Tensor:
    """Spherical interpolation from ``v0`` (t=0) to ``v1`` (t=1), the whole tensor as one vector."""
    a = v0.reshape(1, -1).float()
    b = v1.reshape(1, -1).float()
    if a.numel() == 0:
        return ((1 - t) * v0 + t * v1).to(v0.dtype)
    norm_a = torch.linalg.vector_norm(a, dim=1, keepdim=True)
    norm_b = torch.linalg.vector_norm(b, dim=1, keepdim=True)
    norm_a = torch.where(norm_a > eps, norm_a, 1)
    norm_b = torch.where(norm_b > eps, norm_b, 1)
    dot = ((a / norm_a) * (b / norm_b)).sum(dim=1, keepdim=True).clamp(-1, 1)
    near_parallel = dot.abs() > dot_threshold
    theta = torch.acos(torch.where(near_parallel, 0, dot))
    sin_theta = torch.sin(theta)
    coef_a = torch.where(near_parallel, 1 - t, torch.sin((1 - t) * theta) / sin_theta)
    coef_b = torch.where(near_parallel, t, torch.sin(t * theta) / sin_theta)
    return (coef_a * a + coef_b * b).reshape(v0.shape).to(v0.dtype)


def magnitude_trim(delta: torch.Tensor, density: float) -> torch.Tensor:
    """Keep the ``density`` fraction of entries with the largest magnitude (at least one)."""
    if density >= 1:
        return delta
    if density <= 0 or delta.numel() == 0:
        return torch.zeros_like(delta)
    k = max(1, int(density * delta.numel()))
    mask = torch.zeros(delta.numel(), dtype=delta.dtype)
    mask[torch.argsort(delta.abs().reshape(-1).float(), descending=True)[:k]] = 1
    return delta * mask.reshape_as(delta)


def random_drop(
    delta: torch.Tensor, density: float, rescale: bool = True, generator=None
) -> torch.Tensor:
    """DARE's drop: keep each entry with probability ``density``; rescale to the old L1 norm."""
    if density >= 1:
        return delta
    mask = torch.bernoulli(
        torch.full_like(delta, density, dtype=torch.float32), generator=generator
    )
    kept = delta.float() * mask
    if rescale:
        before, after = delta.float().abs().sum(), kept.abs().sum()
        if before >= 1e-7 and after >= 1e-7:
            kept = kept * (before / after)
    return kept.to(delta.dtype)


def sign_consensus(deltas: torch.Tensor) -> torch.Tensor:
    """TIES' election: True where an entry's sign matches the sign of the sum over models."""
    majority = (deltas.sum(dim=0) >= 0).to(deltas.dtype) * 2 - 1
    return deltas.sign() == majority


def task_vectors_merge(
    base: torch.Tensor,
    tensors: Sequence[torch.Tensor],
    weights: Sequence[float],
    *,
    sparsify: str | None = None,
    density: float = 1.0,
    consensus: bool = False,
    normalize: bool = False,
    lam: float = 1.0,
    generator=None,
) -> torch.Tensor:
    """The task-vector family: ``base + lam * combine(w_i * sparsify(theta_i - base))``."""
    deltas = []
    for tensor in tensors:
        delta = tensor - base
        if sparsify == "magnitude":
            delta = magnitude_trim(delta, density)
        elif sparsify == "random":
            delta = random_drop(delta, density, generator=generator)
        deltas.append(delta)
    stacked = torch.stack(deltas)
    w = torch.tensor(list(weights), dtype=stacked.dtype).reshape(-1, *([1] * base.dim()))
    stacked = stacked * w
    if consensus:
        mask = sign_consensus(stacked).to(stacked.dtype)
        mixed = (stacked * mask).sum(dim=0)
        divisor = (w * mask).sum(dim=0)
        divisor[divisor == 0] = 1
    else:
        mixed = stacked.sum(dim=0)
        divisor = w.sum(dim=0).expand_as(mixed).clone()
        divisor[divisor.abs() < 1e-8] = 1
    if normalize:
        mixed = mixed / divisor
    if lam != 1:
        mixed = mixed * lam
    return (base + mixed).to(base.dtype)


def merge_states(
    states: Sequence[StateDict],
    method: str,
    *,
    base: StateDict | None = None,
    weights: Sequence[float] | None = None,
    t: float = 0.5,
    density: float = 0.5,
    lam: float = 1.0,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Merge ``states`` with ``method`` (see :data:`METHODS`); ``base`` for the task-vector methods
    and SLERP (whose other model is ``states[0]``). Shapes must agree (else :class:`UserError`)."""
    if method not in METHODS:
        raise UserError(f"unknown merge method {method!r}: use one of {', '.join(METHODS)}")
    if not states:
        raise UserError("nothing to merge")
    check_compatible(([base] if base is not None else []) + list(states))
    weights = list(weights) if weights is not None else [1.0] * len(states)
    if len(weights) != len(states):
        raise UserError(f"{len(weights)} weights for {len(states)} models")
    if method != "linear" and base is None:
        raise UserError(f"{method} needs a base model")
    if method == "slerp" and len(states) != 1:
        raise UserError("slerp merges a base with exactly one other model")
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for key in states[0]:
        tensors = [s[key] for s in states]
        if method == "linear":
            out[key] = linear(tensors, weights)
        elif method == "slerp":
            out[key] = slerp(t, base[key], tensors[0])
        elif method == "task_arithmetic":
            out[key] = task_vectors_merge(base[key], tensors, weights, lam=lam)
        elif method == "ties":
            out[key] = task_vectors_merge(
                base[key],
                tensors,
                weights,
                sparsify="magnitude",
                density=density,
                consensus=True,
                normalize=True,
                lam=lam,
            )
        else:
            out[key] = task_vectors_merge(
                base[key],
                tensors,
                weights,
                sparsify="random",
                density=density,
                consensus=method == "dare_ties",
                lam=lam,
                generator=generator,
            )
    return out


__all__ = [
    "METHODS",
    "check_compatible",
    "linear",
    "magnitude_trim",
    "merge_states",
    "random_drop",
    "sign_consensus",
    "slerp",
    "task_vectors_merge",
]
