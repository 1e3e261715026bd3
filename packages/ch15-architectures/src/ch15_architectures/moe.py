"""Sparse mixture of experts: a top-k router, experts, capacity, token dropping, auxiliary losses.

* Router (Shazeer et al. 2017; Switch, Fedus et al. 2021; Mixtral, Jiang et al. 2024): logits
  ``x W_r^T``, softmax over experts, keep the top ``k``; Mixtral renormalises the kept
  probabilities to sum to one (``normalize=True``), Switch (k=1) keeps the raw probability.
* Capacity (Switch/GShard): each expert takes at most ``ceil(capacity_factor * k * tokens /
  experts)`` assignments per batch, in token order; the rest are dropped (their expert output is
  zero, the residual carries the token). ``capacity_factor=None`` drops nothing (Mixtral).
* Load-balancing loss (Switch eq. 4-6, ``transformers``' ``load_balancing_loss_func``):
  ``E * sum_e f_e * P_e`` with ``f_e`` the share of top-k assignments to expert ``e`` and
  ``P_e`` its mean router probability; 1.0 (times k) when perfectly balanced.
* Router z-loss (ST-MoE, Zoph et al. 2022): ``mean(logsumexp(logits)^2)`` keeps logits small.

Expert weights use Mixtral's layout in ``transformers`` 5 (``gate_up_proj`` ``(E, 2H, D)`` and
``down_proj`` ``(E, D, H)``), so a Mixtral block's weights load unchanged.

Expert parallelism, on paper: with ``E`` experts on ``G`` devices each device holds ``E/G``
experts; a layer does an all-to-all to send each token to its experts' device and another to
bring the results back, so the communicated volume is ``2 * k * tokens * D`` activations per
layer, and the capacity factor bounds each device's buffer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llmpath_core import UserError


def check_top_k(top_k: int, experts: int) -> None:
    """Raise a :class:`UserError` unless ``1 <= top_k <= experts``."""
    if experts < 1:
        raise UserError(f"need at least one expert (got {experts})")
    if not 1 <= top_k <= experts:
        raise UserError(
            f"top-k {top_k} is impossible with {experts} experts: choose 1 <= top-k <= experts"
        )


@dataclass
class Routing:
    """One router decision for ``N`` tokens."""

    logits: torch.Tensor  # (N, E)
    probs: torch.Tensor  # (N, E) softmax
    weights: torch.Tensor  # (N, k) combine weights of the chosen experts (0 where dropped)
    experts: torch.Tensor  # (N, k) chosen expert ids
    kept: torch.Tensor  # (N, k) bool, False where the expert was over capacity


def expert_capacity(tokens: int, experts: int, top_k: int, capacity_factor: float) -> int:
    """Switch/GShard capacity: ``ceil(capacity_factor * top_k * tokens / experts)``."""
    return max(1, math.ceil(capacity_factor * top_k * tokens / experts))


def route(
    logits: torch.Tensor,
    top_k: int,
    *,
    normalize: bool = True,
    capacity_factor: float | None = None,
) -> Routing:
    """Top-k routing of ``logits`` ``(N, E)`` with optional capacity and token dropping.

    Assignments are served in order of priority: every token's first choice before any second
    choice, and within a choice in token order (GShard's ordering), until an expert is full.
    """
    n, e = logits.shape
    check_top_k(top_k, e)
    probs = logits.float().softmax(-1)
    top_p, top_i = probs.topk(top_k, dim=-1)
    if normalize:
        top_p = top_p / top_p.sum(-1, keepdim=True)
    kept = torch.ones_like(top_i, dtype=torch.bool)
    if capacity_factor is not None:
        cap = expert_capacity(n, e, top_k, capacity_factor)
        order = top_i.t().reshape(-1)  # choice-major: all first choices, then seconds ...
        onehot = F.one_hot(order, e)
        position = (onehot.cumsum(0) * onehot).sum(-1) - 1  # slot taken in that expert
        kept = (position < cap).view(top_k, n).t()
    return Routing(logits, probs, top_p * kept, top_i, kept)


def load_balancing_loss(
    logits: torch.Tensor | list[torch.Tensor] | tuple[torch.Tensor, ...],
    num_experts: int,
    top_k: int,
) -> torch.Tensor:
    """Switch Transformer's auxiliary loss over one or several layers' router logits.

    Same definition as ``transformers.models.mixtral.modeling_mixtral.load_balancing_loss_func``:
    ``E * sum_e f_e P_e`` with ``f_e`` = top-k assignments to ``e`` / tokens and ``P_e`` = mean
    router probability of ``e``, both pooled over layers.
    """
    layers = [logits] if isinstance(logits, torch.Tensor) else list(logits)
    cat = torch.cat([layer.float() for layer in layers], dim=0)
    probs = cat.softmax(-1)
    chosen = probs.topk(top_k, dim=-1).indices
    f = F.one_hot(chosen, num_experts).sum(1).float().mean(0)  # (E,), sums to top_k
    p = probs.mean(0)
    return num_experts * (f * p).sum()


def router_z_loss(logits: torch.Tensor) -> torch.Tensor:
    """ST-MoE's z-loss: mean squared log-partition of the router logits."""
    return torch.logsumexp(logits.float(), dim=-1).pow(2).mean()


class Experts(nn.Module):
    """``E`` SwiGLU experts stored as 3-D tensors (Mixtral's layout in ``transformers`` 5).

    Initialised as ``nn.Linear`` initialises the dense SwiGLU (uniform in ``+-1/sqrt(fan_in)``),
    so an MoE and a dense model start from the same weight scale; a normal with std
    ``1/sqrt(fan_in)`` (0.1.0) is ``sqrt(3)`` times larger and made the MoE lose (README, Lab 1).
    """

    def __init__(self, experts: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.num_experts = experts
        self.gate_up_proj = nn.Parameter(
            torch.empty(experts, 2 * hidden, dim).uniform_(-(dim**-0.5), dim**-0.5)
        )
        self.down_proj = nn.Parameter(
            torch.empty(experts, dim, hidden).uniform_(-(hidden**-0.5), hidden**-0.5)
        )

    def forward(self, x: torch.Tensor, routing: Routing) -> torch.Tensor:
        """Dispatch each kept (token, expert) pair, run the expert, combine with its weight."""
        out = torch.zeros_like(x)
        for e in range(self.num_experts):
            token, slot = torch.where((routing.experts == e) & routing.kept)
            if token.numel() == 0:
                continue
            gate, up = F.linear(x[token], self.gate_up_proj[e]).chunk(2, dim=-1)
            y = F.linear(F.silu(gate) * up, self.down_proj[e])
            out.index_add_(0, token, y * routing.weights[token, slot, None].to(y.dtype))
        return out


class Router(nn.Module):
    """A linear router (``weight`` ``(E, D)``, no bias, as Mixtral's ``gate``)."""

    def __init__(self, experts: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(experts, dim) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class SparseMoE(nn.Module):
    """A sparse MoE feed-forward layer; keeps its last routing for losses and load plots.

    With ``normalize=True`` and ``capacity_factor=None`` it is Mixtral's
    ``MixtralSparseMoeBlock`` (parameters ``gate.weight``, ``experts.gate_up_proj``,
    ``experts.down_proj``).
    """

    def __init__(
        self,
        dim: int,
        hidden: int,
        experts: int = 8,
        top_k: int = 2,
        *,
        normalize: bool = True,
        capacity_factor: float | None = None,
    ) -> None:
        super().__init__()
        check_top_k(top_k, experts)
        self.top_k = top_k
        self.num_experts = experts
        self.normalize = normalize
        self.capacity_factor = capacity_factor
        self.gate = Router(experts, dim)
        self.experts = Experts(experts, dim, hidden)
        self.last: Routing | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        routing = route(
            self.gate(flat),
            self.top_k,
            normalize=self.normalize,
            capacity_factor=self.capacity_factor,
        )
        self.last = routing
        return self.experts(flat, routing).reshape(shape)

    def expert_load(self) -> torch.Tensor:
        """Share of the last batch's kept assignments each expert received, shape ``(E,)``."""
        if self.last is None:
            return torch.zeros(self.num_experts)
        chosen = self.last.experts[self.last.kept]
        counts = torch.bincount(chosen, minlength=self.num_experts).float()
        return counts / counts.sum().clamp(min=1)

    def dropped_fraction(self) -> float:
        """Share of the last batch's assignments dropped for capacity."""
        return 0.0 if self.last is None else float(1 - self.last.kept.float().mean())
