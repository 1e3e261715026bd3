"""Weight initialisation: keep the variance of activations and gradients steady through depth.

Xavier/Glorot (Glorot & Bengio, 2010) balances fan-in and fan-out for tanh/sigmoid nets:
``Var(w) = gain² · 2 / (fan_in + fan_out)``. He/Kaiming (He et al., 2015) compensates for ReLU
zeroing half of its inputs: ``Var(w) = 2 / fan_in``. Both come as uniform and normal variants with
the bounds and gains of ``torch.nn.init`` (the tests compare the spreads with torch's).
Weights have torch's ``(out_features, in_features)`` layout.
"""

from __future__ import annotations

import math

import numpy as np

INITS = ("xavier", "xavier-normal", "he", "he-uniform", "torch")


def xavier_uniform(fan_in: int, fan_out: int, rng: np.random.Generator, gain: float = 1.0):
    """U(-a, a) with ``a = gain · sqrt(6 / (fan_in + fan_out))`` (torch.nn.init.xavier_uniform_)."""
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(fan_out, fan_in))


def xavier_normal(fan_in: int, fan_out: int, rng: np.random.Generator, gain: float = 1.0):
    """N(0, σ²) with ``σ = gain · sqrt(2 / (fan_in + fan_out))`` (xavier_normal_)."""
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return rng.normal(0.0, std, size=(fan_out, fan_in))


def he_normal(fan_in: int, fan_out: int, rng: np.random.Generator):
    """N(0, 2 / fan_in) (kaiming_normal_ with nonlinearity='relu', mode='fan_in')."""
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(fan_out, fan_in))


def he_uniform(fan_in: int, fan_out: int, rng: np.random.Generator):
    """U(-a, a) with ``a = sqrt(6 / fan_in)`` (kaiming_uniform_ with nonlinearity='relu')."""
    bound = math.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, size=(fan_out, fan_in))


def torch_default(fan_in: int, fan_out: int, rng: np.random.Generator):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): what ``torch.nn.Linear`` does by default."""
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=(fan_out, fan_in))


def init_weight(kind: str, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """A ``(fan_out, fan_in)`` weight matrix drawn by the named scheme (see :data:`INITS`)."""
    if kind == "xavier":
        return xavier_uniform(fan_in, fan_out, rng)
    if kind == "xavier-normal":
        return xavier_normal(fan_in, fan_out, rng)
    if kind == "he":
        return he_normal(fan_in, fan_out, rng)
    if kind == "he-uniform":
        return he_uniform(fan_in, fan_out, rng)
    if kind == "torch":
        return torch_default(fan_in, fan_out, rng)
    raise ValueError(f"unknown init {kind!r}: use one of {', '.join(INITS)}")


__all__ = [
    "INITS",
    "he_normal",
    "he_uniform",
    "init_weight",
    "torch_default",
    "xavier_normal",
    "xavier_uniform",
]
