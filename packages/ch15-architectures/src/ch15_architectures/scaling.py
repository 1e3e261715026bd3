"""Time and memory against sequence length: a Mamba block (linear) vs full attention (quadratic).

Both run one layer at the same width on a batch of one. The attention layer materialises its
``T x T`` score matrix (the textbook "full attention"); the Mamba block runs the chunked scan.
A straight-line fit of ``log time`` on ``log length`` gives each one's exponent (1 = linear,
2 = quadratic); the crossover is where the two time curves meet (interpolated in log space).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ch15_architectures.layers import eager_causal_attention
from ch15_architectures.mamba import MambaConfig, MambaMixer
from llmpath_core.bench import measure

DEFAULT_LENGTHS = [256, 512, 1024, 2048, 4096]


class FullAttention(nn.Module):
    """One multi-head causal attention layer with the score matrix materialised."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        return self.out(eager_causal_attention(q, k, v).transpose(1, 2).reshape(b, t, d))


def fit_exponent(lengths: list[int], seconds: list[float]) -> float:
    """Least-squares slope of ``log seconds`` on ``log length``."""
    xs = [math.log(n) for n in lengths]
    ys = [math.log(max(s, 1e-12)) for s in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def crossover(lengths: list[int], a: list[float], b: list[float]) -> float | None:
    """First length where ``a`` becomes cheaper than ``b`` (log-linear interpolation)."""
    for i, n in enumerate(lengths):
        if a[i] < b[i]:
            if i == 0:
                return float(n)
            d0 = math.log(a[i - 1] / b[i - 1])
            d1 = math.log(a[i] / b[i])
            frac = d0 / (d0 - d1)
            return float(math.exp(math.log(lengths[i - 1]) + frac * math.log(n / lengths[i - 1])))
    return None


def time_vs_length(
    lengths: list[int] | None = None,
    dim: int = 64,
    heads: int = 4,
    state_size: int = 16,
    chunk: int = 32,
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Median forward seconds of a Mamba block and of full attention at each length."""
    lengths = list(lengths or DEFAULT_LENGTHS)
    torch.manual_seed(seed)
    mamba = MambaMixer(MambaConfig(hidden_size=dim, state_size=state_size, chunk=chunk)).eval()
    attention = FullAttention(dim, heads).eval()
    mamba_s, attention_s = [], []
    with torch.no_grad():
        for n in lengths:
            x = torch.randn(1, n, dim)
            mamba_s.append(measure(lambda x=x: mamba(x), repeats=repeats).median)
            attention_s.append(measure(lambda x=x: attention(x), repeats=repeats).median)
    return {
        "lengths": lengths,
        "mamba_s": mamba_s,
        "attention_s": attention_s,
        "mamba_exponent": fit_exponent(lengths, mamba_s),
        "attention_exponent": fit_exponent(lengths, attention_s),
        "crossover_length": crossover(lengths, mamba_s, attention_s),
        "dim": dim,
        "chunk": chunk,
    }


def plot_scaling(result: dict[str, Any], path) -> Any:
    """Log-log plot of both time curves."""
    from llmpath_core import line_plot

    return line_plot(
        path,
        {
            f"Mamba block (exponent {result['mamba_exponent']:.2f})": (
                result["lengths"],
                result["mamba_s"],
            ),
            f"full attention (exponent {result['attention_exponent']:.2f})": (
                result["lengths"],
                result["attention_s"],
            ),
        },
        title="forward time vs sequence length",
        xlabel="tokens",
        ylabel="seconds",
        logx=True,
        logy=True,
    )
