"""Mamba-2 (Dao & Gu, 2024): a scalar decay per head, and the SSD chunked form.

Mamba-2 restricts Mamba's decay to one scalar per head and time step, ``a_t = exp(dt_t A_h)``.
Per head (``P`` channels, state ``N``) the recurrence is

    H_t = a_t H_{t-1} + dt_t x_t B_t^T        (H: P x N)
    y_t = H_t C_t + D x_t

and because the decay is a scalar, the whole sequence is one matrix product ``y = M x`` with the
lower-triangular *semiseparable* matrix ``M[t, s] = (C_t . B_s) * exp(sum_{s<r<=t} dt_r A) *
dt_s``: masked attention whose mask is a product of decays (state-space duality, "SSD").

* :func:`ssd_sequential` — the recurrence, one token at a time (the reference);
* :func:`ssd_chunked` — SSD's chunked algorithm: inside a chunk of ``Q`` tokens the quadratic
  (attention-like) form ``(C B^T * L) (dt x)`` with ``L = exp(segsum(dt A))``; between chunks
  the state ``H`` is carried (``Q x`` fewer sequential steps), so time is linear in length.

Only differences of cumulative log decays inside one chunk are exponentiated, and those are
``<= 0``, so nothing overflows in float32.

:class:`Mamba2LM` uses the parameter names of ``transformers``' ``Mamba2ForCausalLM`` (one input
projection to ``z, x, B, C, dt``; a causal convolution over ``x, B, C``; the gated group
RMSNorm ``norm(y * silu(z))``), so its ``state_dict`` loads unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ch15_architectures.layers import RMSNorm
from ch15_architectures.mamba import LMOutput

SSD_MODES = ("sequential", "chunked")


def _expand_groups(t: torch.Tensor, heads: int) -> torch.Tensor:
    """``(b, L, g, n)`` -> ``(b, L, heads, n)``: heads share their group's B or C."""
    return t.float().repeat_interleave(heads // t.shape[2], dim=2)


def ssd_sequential(
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    return_final_state: bool = False,
):
    """The Mamba-2 recurrence token by token.

    ``x`` ``(b, L, h, p)``, ``dt`` ``(b, L, h)`` (positive: softplus and bias applied), ``A``
    ``(h,)`` (negative), ``B, C`` ``(b, L, g, n)`` with ``g`` dividing ``h``, ``D`` ``(h,)``;
    the state is ``(b, h, p, n)``. Returns ``y`` ``(b, L, h, p)`` (and the final state).
    """
    b, length, heads, p = x.shape
    Bh, Ch = _expand_groups(B, heads), _expand_groups(C, heads)
    xf, dtf = x.float(), dt.float()
    decay = torch.exp(dtf * A.float())  # (b, L, h)
    state = (
        initial_state.float()
        if initial_state is not None
        else x.new_zeros(b, heads, p, B.shape[-1], dtype=torch.float32)
    )
    ys = []
    for t in range(length):
        update = (dtf[:, t, :, None] * xf[:, t])[..., None] * Bh[:, t, :, None, :]
        state = decay[:, t, :, None, None] * state + update
        ys.append(torch.einsum("bhpn,bhn->bhp", state, Ch[:, t]))
    y = torch.stack(ys, dim=1)
    if D is not None:
        y = y + D.float()[:, None] * xf
    y = y.to(x.dtype)
    return (y, state) if return_final_state else y


def segsum(log_a: torch.Tensor) -> torch.Tensor:
    """``out[..., t, s] = sum_{s<r<=t} log_a[..., r]`` for ``t >= s``, ``-inf`` above the
    diagonal: the log of the decay from position ``s`` to ``t`` inside a chunk."""
    q = log_a.shape[-1]
    cum = log_a.cumsum(-1)
    out = cum[..., :, None] - cum[..., None, :]
    causal = torch.ones(q, q, dtype=torch.bool, device=log_a.device).tril()
    return out.masked_fill(~causal, float("-inf"))


def ssd_chunked(
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    chunk: int = 64,
    initial_state: torch.Tensor | None = None,
    return_final_state: bool = False,
):
    """SSD's chunked algorithm; same arguments and result as :func:`ssd_sequential`.

    Per chunk: the diagonal block ``(C B^T * L) (dt x)`` (quadratic in ``chunk``, matrix
    products), plus the carried state read out by ``C`` and decayed to each position; then the
    state is advanced over the chunk in one step.
    """
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    b, length, heads, p = x.shape
    Bh, Ch = _expand_groups(B, heads), _expand_groups(C, heads)
    xdt = x.float() * dt.float()[..., None]  # (b, L, h, p)
    log_a = (dt.float() * A.float()).transpose(1, 2)  # (b, h, L)
    state = (
        initial_state.float()
        if initial_state is not None
        else x.new_zeros(b, heads, p, B.shape[-1], dtype=torch.float32)
    )
    ys = []
    for start in range(0, length, chunk):
        sl = slice(start, min(start + chunk, length))
        la, xc, bc, cc = log_a[:, :, sl], xdt[:, sl], Bh[:, sl], Ch[:, sl]
        decay = torch.exp(segsum(la))  # (b, h, q, q)
        scores = torch.einsum("bthn,bshn->bhts", cc, bc) * decay
        y_diag = torch.einsum("bhts,bshp->bthp", scores, xc)
        cum = la.cumsum(-1)  # (b, h, q): log decay from the chunk's start to t
        y_off = torch.einsum("bthn,bhpn->bthp", cc, state) * cum.exp().transpose(1, 2)[..., None]
        ys.append(y_diag + y_off)
        to_end = (cum[..., -1:] - cum).exp()  # (b, h, q): decay from s to the chunk's end
        state = cum[..., -1, None, None].exp() * state + torch.einsum(
            "bhs,bshp,bshn->bhpn", to_end, xc, bc
        )
    y = torch.cat(ys, dim=1)
    if D is not None:
        y = y + D.float()[:, None] * x.float()
    y = y.to(x.dtype)
    return (y, state) if return_final_state else y


def ssd(x, dt, A, B, C, D=None, *, mode: str = "chunked", chunk: int = 64):
    """Dispatch to :func:`ssd_sequential` or :func:`ssd_chunked`."""
    if mode == "sequential":
        return ssd_sequential(x, dt, A, B, C, D)
    if mode == "chunked":
        return ssd_chunked(x, dt, A, B, C, D, chunk=chunk)
    raise ValueError(f"unknown SSD mode {mode!r}: choose {', '.join(SSD_MODES)}")


@dataclass
class Mamba2Config:
    """The fields of ``transformers.Mamba2Config`` that the forward pass uses."""

    vocab_size: int = 4096
    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_heads: int = 8
    head_dim: int = 16
    state_size: int = 16
    n_groups: int = 1
    expand: int = 2
    conv_kernel: int = 4
    chunk_size: int = 64
    layer_norm_epsilon: float = 1e-5
    use_bias: bool = False
    use_conv_bias: bool = True
    time_step_limit: tuple[float, float] = (0.0, float("inf"))
    tie_word_embeddings: bool = True
    mode: str = "chunked"

    @property
    def intermediate_size(self) -> int:
        return self.expand * self.hidden_size

    def __post_init__(self) -> None:
        from llmpath_core import UserError

        if self.num_heads * self.head_dim != self.intermediate_size:
            raise UserError(
                f"num_heads x head_dim = {self.num_heads * self.head_dim} must equal expand x "
                f"hidden_size = {self.intermediate_size}"
            )
        if self.num_heads % self.n_groups:
            raise UserError(f"n_groups {self.n_groups} must divide num_heads {self.num_heads}")


class GatedRMSNorm(nn.Module):
    """``RMSNorm(y * silu(z))`` over groups of channels (``MambaRMSNormGated``)."""

    def __init__(self, dim: int, groups: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.groups = groups
        self.eps = eps

    def forward(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        dtype = y.dtype
        h = y.float() * F.silu(z.float())
        g = h.view(*h.shape[:-1], self.groups, -1)
        g = g * torch.rsqrt(g.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * g.view_as(h).to(dtype)


class Mamba2Mixer(nn.Module):
    """The Mamba-2 mixer with ``Mamba2Mixer``'s parameter names."""

    def __init__(self, config: Mamba2Config) -> None:
        super().__init__()
        self.config = config
        inner, n = config.intermediate_size, config.state_size
        self.conv_dim = inner + 2 * config.n_groups * n
        self.in_proj = nn.Linear(
            config.hidden_size, inner + self.conv_dim + config.num_heads, bias=config.use_bias
        )
        self.conv1d = nn.Conv1d(
            self.conv_dim,
            self.conv_dim,
            config.conv_kernel,
            groups=self.conv_dim,
            padding=config.conv_kernel - 1,
            bias=config.use_conv_bias,
        )
        heads = config.num_heads
        self.dt_bias = nn.Parameter(torch.log(torch.expm1(torch.linspace(1e-3, 1e-1, heads))))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, heads + 1, dtype=torch.float)))
        self.D = nn.Parameter(torch.ones(heads))
        self.norm = GatedRMSNorm(inner, config.n_groups, config.layer_norm_epsilon)
        self.out_proj = nn.Linear(inner, config.hidden_size, bias=config.use_bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        b, length, _ = hidden.shape
        inner, gn = cfg.intermediate_size, cfg.n_groups * cfg.state_size
        z, xbc, dt = self.in_proj(hidden).split([inner, self.conv_dim, cfg.num_heads], dim=-1)
        xbc = F.silu(self.conv1d(xbc.transpose(1, 2))[..., :length].transpose(1, 2))
        x, B, C = xbc.split([inner, gn, gn], dim=-1)
        dt = F.softplus(dt + self.dt_bias).clamp(*cfg.time_step_limit)
        y = ssd(
            x.reshape(b, length, cfg.num_heads, cfg.head_dim),
            dt,
            -torch.exp(self.A_log.float()),
            B.reshape(b, length, cfg.n_groups, cfg.state_size),
            C.reshape(b, length, cfg.n_groups, cfg.state_size),
            self.D,
            mode=cfg.mode,
            chunk=cfg.chunk_size,
        )
        return self.out_proj(self.norm(y.reshape(b, length, inner), z))


class Mamba2Block(nn.Module):
    """Pre-norm residual block around a :class:`Mamba2Mixer`."""

    def __init__(self, config: Mamba2Config) -> None:
        super().__init__()
        self.norm = RMSNorm(config.hidden_size, config.layer_norm_epsilon)
        self.mixer = Mamba2Mixer(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mixer(self.norm(x))


class _Backbone(nn.Module):
    def __init__(self, config: Mamba2Config) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(Mamba2Block(config) for _ in range(config.num_hidden_layers))
        self.norm_f = RMSNorm(config.hidden_size, config.layer_norm_epsilon)


class Mamba2LM(nn.Module):
    """Mamba-2 language model with ``Mamba2ForCausalLM``'s parameter names."""

    def __init__(self, config: Mamba2Config) -> None:
        super().__init__()
        self.config = config
        self.backbone = _Backbone(config)
        nn.init.normal_(self.backbone.embeddings.weight, std=0.02)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.backbone.embeddings.weight

    def forward(self, input_ids: torch.Tensor) -> LMOutput:
        x = self.backbone.embeddings(input_ids)
        for layer in self.backbone.layers:
            x = layer(x)
        return LMOutput(self.lm_head(self.backbone.norm_f(x)))
