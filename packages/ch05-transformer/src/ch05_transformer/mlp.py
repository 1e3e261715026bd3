"""The position-wise feed-forward block: a GELU MLP (GPT-2, BERT) and SwiGLU (Llama).

MLP: ``fc_out(act(fc_in(x)))`` with GELU, either exact (BERT) or the tanh approximation GPT-2 was
trained with. SwiGLU (Shazeer, 2020): ``down(silu(gate(x)) * up(x))``, a gated unit whose gate
learns which hidden features pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    """Two linear layers with a GELU between (``approximate="tanh"`` for GPT-2's ``gelu_new``)."""

    def __init__(self, dim: int, hidden: int, *, approximate: str = "none", bias: bool = True):
        super().__init__()
        self.approximate = approximate
        self.fc_in = nn.Linear(dim, hidden, bias=bias)
        self.fc_out = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_out(F.gelu(self.fc_in(x), approximate=self.approximate))


class SwiGLU(nn.Module):
    """Gated feed-forward: ``down(silu(gate(x)) * up(x))``."""

    def __init__(self, dim: int, hidden: int, *, bias: bool = False) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=bias)
        self.up_proj = nn.Linear(dim, hidden, bias=bias)
        self.down_proj = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


__all__ = ["MLP", "SwiGLU"]
