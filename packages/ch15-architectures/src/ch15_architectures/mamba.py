"""Mamba (Gu & Dao, 2023): a selective state-space model and three ways to run its scan.

Discretisation (zero-order hold for A, Euler for B, as in the paper and ``mamba_ssm``):
``dA = exp(delta * A)``, ``dB u = delta * B * u``. The selective scan is the linear recurrence

    h_t = dA_t * h_{t-1} + dB_t u_t,    y_t = C_t . h_t + D u_t,   y_t *= silu(z_t)

with ``delta``, ``B`` and ``C`` computed from the input (that is what "selective" means). Three
evaluations of the same recurrence, equal to float rounding:

* :func:`scan_sequential` — the loop, one step per token (``transformers``' torch path);
* :func:`scan_associative` — a parallel prefix scan (Hillis-Steele, log2(T) steps) over the
  associative operator ``(a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2)`` (Blelloch 1990; the idea
  behind ``mamba_ssm``'s CUDA kernel);
* :func:`scan_chunked` — chunks of ``Q`` tokens, the state carried between chunks (Mamba-2's
  chunked form, Dao & Gu, 2024). Inside a chunk all positions are computed at once from
  cumulative sums of the log decays (relative to the chunk's midpoint); a chunk that decays
  too much for float32 is halved until it does not. Linear in the sequence length.

:class:`MambaLM` is a Mamba-1 language model whose parameter names are those of
``transformers``' ``MambaForCausalLM``, so its ``state_dict`` loads unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ch15_architectures.layers import RMSNorm

SCANS = ("sequential", "associative", "chunked")


def _discretize(u, delta, A, B, delta_bias, delta_softplus):
    """``log dA`` and ``dB u`` as ``(batch, L, d, n)``; inputs in ``mamba_ssm``'s layout."""
    if delta_bias is not None:
        delta = delta + delta_bias[None, :, None]
    if delta_softplus:
        delta = F.softplus(delta)
    delta = delta.float().transpose(1, 2)  # (b, L, d)
    log_a = delta[..., None] * A.float()[None, None]  # (b, L, d, n)
    bu = (delta * u.float().transpose(1, 2))[..., None] * B.float().transpose(1, 2)[:, :, None, :]
    return log_a, bu


def _finish(y, u, D, z, dtype):
    """``y`` (b, L, d) -> (b, d, L) with the skip ``D u`` and the gate ``silu(z)``."""
    y = y.transpose(1, 2)
    if D is not None:
        y = y + u.float() * D.float()[None, :, None]
    if z is not None:
        y = y * F.silu(z.float())
    return y.to(dtype)


def scan_sequential(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """The recurrence one token at a time. Shapes as ``mamba_ssm.selective_scan_fn``:
    ``u, delta, z`` ``(b, d, L)``, ``A`` ``(d, n)``, ``B, C`` ``(b, n, L)``, ``D`` ``(d,)``."""
    log_a, bu = _discretize(u, delta, A, B, delta_bias, delta_softplus)
    a = log_a.exp()
    c = C.float().transpose(1, 2)  # (b, L, n)
    h = torch.zeros_like(bu[:, 0])
    ys = []
    for t in range(bu.shape[1]):
        h = a[:, t] * h + bu[:, t]
        ys.append(torch.einsum("bdn,bn->bd", h, c[:, t]))
    return _finish(torch.stack(ys, dim=1), u, D, z, u.dtype)


def scan_associative(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """The recurrence as a parallel prefix scan: ceil(log2 L) whole-sequence steps."""
    log_a, bu = _discretize(u, delta, A, B, delta_bias, delta_softplus)
    a, h = log_a.exp(), bu
    offset, length = 1, bu.shape[1]
    while offset < length:
        # combine each element with the one `offset` earlier: (a', b') o (a, b) = (a'a, a b' + b)
        h = torch.cat([h[:, :offset], h[:, offset:] + a[:, offset:] * h[:, :-offset]], dim=1)
        a = torch.cat([a[:, :offset], a[:, offset:] * a[:, :-offset]], dim=1)
        offset *= 2
    y = torch.einsum("bldn,bnl->bld", h, C.float())
    return _finish(y, u, D, z, u.dtype)


#: Largest total decay (nats) a chunk may have for the cumulative-sum path: every exponent is
#: then at most SAFE_DECAY, below float32's overflow at 88.
SAFE_DECAY = 80.0


def _chunk_cumsum(log_a, bu, h):
    """The same update in O(Q) work: ``h_t = e^{c_t} (h_0 + sum_{s<=t} e^{-c_s} bu_s)`` with
    ``c`` the cumulative log decay, exponents taken relative to the chunk's midpoint."""
    cum = log_a.cumsum(1)
    mid = cum[:, cum.shape[1] // 2 : cum.shape[1] // 2 + 1]
    inner = (torch.exp(mid - cum) * bu).cumsum(1) + torch.exp(mid) * h[:, None]
    return torch.exp(cum - mid) * inner


def _chunk_states(log_a, bu, h):
    """States of every position of a chunk; a chunk that decays by more than
    :data:`SAFE_DECAY` is split in two halves, run one after the other."""
    if bu.shape[1] == 1 or float(-log_a.sum(1).min()) <= SAFE_DECAY:
        return _chunk_cumsum(log_a, bu, h)
    half = bu.shape[1] // 2
    first = _chunk_states(log_a[:, :half], bu[:, :half], h)
    second = _chunk_states(log_a[:, half:], bu[:, half:], first[:, -1])
    return torch.cat([first, second], dim=1)


def scan_chunked(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, chunk: int = 32
):
    """The recurrence in chunks of ``chunk`` tokens, the state carried between chunks.

    Inside a chunk every position's state is a decayed sum of the chunk's inputs plus the decayed
    carried state, computed for all positions at once from cumulative sums (O(T) work). A chunk
    whose total decay exceeds :data:`SAFE_DECAY` (float32 would overflow) is halved until it
    does not, so the result is exact for any decay.
    """
    log_a, bu = _discretize(u, delta, A, B, delta_bias, delta_softplus)
    c = C.float().transpose(1, 2)  # (b, L, n)
    b, length, d, n = bu.shape
    h = torch.zeros(b, d, n, dtype=bu.dtype, device=bu.device)
    ys = []
    for s in range(0, length, chunk):
        e = min(length, s + chunk)
        hs = _chunk_states(log_a[:, s:e], bu[:, s:e], h)
        ys.append(torch.einsum("btdn,btn->btd", hs, c[:, s:e]))
        h = hs[:, -1]
    return _finish(torch.cat(ys, dim=1), u, D, z, u.dtype)


def selective_scan(
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus=False,
    mode: str = "chunked",
    chunk: int = 32,
):
    """Run the selective scan with ``mode`` in :data:`SCANS`."""
    kwargs = {"D": D, "z": z, "delta_bias": delta_bias, "delta_softplus": delta_softplus}
    if mode == "sequential":
        return scan_sequential(u, delta, A, B, C, **kwargs)
    if mode == "associative":
        return scan_associative(u, delta, A, B, C, **kwargs)
    if mode == "chunked":
        return scan_chunked(u, delta, A, B, C, chunk=chunk, **kwargs)
    raise ValueError(f"unknown scan {mode!r}: choose one of {', '.join(SCANS)}")


@dataclass
class MambaConfig:
    """A Mamba-1 LM; defaults are tiny. Field meanings follow ``transformers.MambaConfig``."""

    vocab_size: int = 4096
    hidden_size: int = 64
    num_hidden_layers: int = 2
    state_size: int = 16
    expand: int = 2
    conv_kernel: int = 4
    time_step_rank: int | None = None  # ceil(hidden / 16)
    layer_norm_epsilon: float = 1e-5
    use_bias: bool = False
    use_conv_bias: bool = True
    tie_word_embeddings: bool = True
    max_position_embeddings: int = 256  # only for llmpath_core.evaluate_lm's default window
    scan: str = "chunked"
    chunk: int = 32

    @property
    def intermediate_size(self) -> int:
        return self.expand * self.hidden_size

    @property
    def dt_rank(self) -> int:
        return self.time_step_rank or math.ceil(self.hidden_size / 16)


class MambaMixer(nn.Module):
    """in_proj -> causal depthwise conv -> selective scan (gated by z) -> out_proj."""

    def __init__(self, config: MambaConfig) -> None:
        super().__init__()
        self.config = config
        di, n, r = config.intermediate_size, config.state_size, config.dt_rank
        self.in_proj = nn.Linear(config.hidden_size, 2 * di, bias=config.use_bias)
        self.conv1d = nn.Conv1d(
            di,
            di,
            config.conv_kernel,
            groups=di,
            padding=config.conv_kernel - 1,
            bias=config.use_conv_bias,
        )
        self.x_proj = nn.Linear(di, r + 2 * n, bias=False)
        self.dt_proj = nn.Linear(r, di, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1).float()).repeat(di, 1))
        self.D = nn.Parameter(torch.ones(di))
        self.out_proj = nn.Linear(di, config.hidden_size, bias=config.use_bias)
        with torch.no_grad():  # the paper's dt initialisation: dt in [1e-3, 1e-1], log-uniform
            self.dt_proj.weight.uniform_(-(r**-0.5), r**-0.5)
            dt = torch.exp(torch.rand(di) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        length = x.shape[1]
        xz = self.in_proj(x).transpose(1, 2)
        u, z = xz.chunk(2, dim=1)
        u = F.silu(self.conv1d(u)[..., :length])
        dt, B, C = torch.split(
            self.x_proj(u.transpose(1, 2)), [cfg.dt_rank, cfg.state_size, cfg.state_size], dim=-1
        )
        delta = self.dt_proj.weight @ dt.transpose(1, 2)
        y = selective_scan(
            u,
            delta,
            -torch.exp(self.A_log.float()),
            B.transpose(1, 2),
            C.transpose(1, 2),
            D=self.D,
            z=z,
            delta_bias=self.dt_proj.bias,
            delta_softplus=True,
            mode=cfg.scan,
            chunk=cfg.chunk,
        )
        return self.out_proj(y.transpose(1, 2))


class MambaBlock(nn.Module):
    """Pre-norm residual block around a :class:`MambaMixer`."""

    def __init__(self, config: MambaConfig) -> None:
        super().__init__()
        self.norm = RMSNorm(config.hidden_size, config.layer_norm_epsilon)
        self.mixer = MambaMixer(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mixer(self.norm(x))


@dataclass
class LMOutput:
    """What our language models return: ``logits`` and an auxiliary loss (0 unless MoE)."""

    logits: torch.Tensor
    aux_loss: torch.Tensor | float = 0.0


class _Backbone(nn.Module):
    def __init__(self, config: MambaConfig) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(MambaBlock(config) for _ in range(config.num_hidden_layers))
        self.norm_f = RMSNorm(config.hidden_size, config.layer_norm_epsilon)


class MambaLM(nn.Module):
    """Mamba language model with ``MambaForCausalLM``'s parameter names."""

    def __init__(self, config: MambaConfig) -> None:
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
