"""RoPE scaling from scratch: position interpolation, NTK, dynamic NTK, YaRN and Llama 3.

Rotary embeddings rotate each pair ``i`` of a query/key head by the angle ``m * theta_i`` at
position ``m``, with inverse frequencies ``theta_i = base ** (-2i / d)``. A model trained at
length ``L`` has seen angles up to ``L * theta_i``; context extension to ``s * L`` changes the
frequencies so that longer positions stay in (or near) the range the model knows:

- **linear / position interpolation** (Chen et al. 2023): every ``theta_i / s``;
- **NTK-aware** (bloc97 2023): a larger base, ``base * s ** (d / (d - 2))``; high frequencies
  barely move, the lowest is divided by ``s``;
- **dynamic NTK** (emozilla 2023): NTK with the factor grown with the current length ``N``:
  ``base * (s * N / L - (s - 1)) ** (d / (d - 2))`` once ``N > L`` (transformers' formula);
- **YaRN** (Peng et al. 2023): per-frequency blend of interpolation and extrapolation with a
  linear ramp between ``beta_fast`` and ``beta_slow`` rotations over ``L``, plus an attention
  temperature ``0.1 * ln(s) + 1`` applied to cos/sin;
- **llama3** (Llama 3.1): wavelengths above ``L / low_freq_factor`` divided by ``s``, below
  ``L / high_freq_factor`` kept, smoothly blended in between.

The numbers equal transformers' ``ROPE_INIT_FUNCTIONS`` for the same ``config.rope_parameters``
(tests hold them together); the arithmetic follows the same float32 steps so that they agree to
rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from llmpath_core import UserError

ROPE_TYPES = ("default", "linear", "ntk", "dynamic", "yarn", "llama3")


@dataclass
class RopeScaling:
    """One RoPE scaling setting, named as in transformers' ``rope_parameters``.

    ``ntk`` is the static NTK-aware base change (transformers expresses it as ``default`` with a
    larger ``rope_theta``); the others are transformers' rope types.
    """

    rope_type: str = "default"
    factor: float = 1.0
    head_dim: int = 64
    base: float = 10000.0
    original_max_positions: int = 2048
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    beta_fast: float = 32.0
    beta_slow: float = 1.0
    attention_factor: float | None = None
    mscale: float | None = None
    mscale_all_dim: float | None = None
    truncate: bool = True

    def __post_init__(self) -> None:
        if self.rope_type not in ROPE_TYPES:
            raise UserError(
                f"unknown RoPE type {self.rope_type!r}: use one of {', '.join(ROPE_TYPES)}"
            )
        if not self.factor >= 1.0:
            raise UserError(
                f"the scaling factor must be >= 1 (got {self.factor}): "
                "RoPE scaling extends, never shrinks"
            )
        if self.head_dim < 2 or self.head_dim % 2:
            raise UserError(f"--head-dim must be an even number >= 2 (got {self.head_dim})")
        if self.base <= 1.0:
            raise UserError(f"--base must be > 1 (got {self.base})")
        if self.original_max_positions < 1:
            raise UserError(
                f"--original-max-positions must be >= 1 (got {self.original_max_positions})"
            )
        if self.rope_type == "llama3" and not self.high_freq_factor > self.low_freq_factor > 0:
            raise UserError(
                "llama3 needs high_freq_factor > low_freq_factor > 0 "
                f"(got {self.high_freq_factor} and {self.low_freq_factor})"
            )

    def rope_parameters(self) -> dict:
        """``config.rope_parameters`` for transformers (the static ``ntk`` becomes ``default``)."""
        if self.rope_type in ("default", "ntk"):
            return {
                "rope_type": "default",
                "rope_theta": self.ntk_base() if self.rope_type == "ntk" else self.base,
            }
        params: dict = {
            "rope_type": self.rope_type,
            "rope_theta": self.base,
            "factor": float(self.factor),
        }
        if self.rope_type in ("yarn", "llama3"):
            params["original_max_position_embeddings"] = int(self.original_max_positions)
        if self.rope_type == "llama3":
            params["low_freq_factor"] = float(self.low_freq_factor)
            params["high_freq_factor"] = float(self.high_freq_factor)
        if self.rope_type == "yarn":
            params["beta_fast"] = float(self.beta_fast)
            params["beta_slow"] = float(self.beta_slow)
            for key in ("attention_factor", "mscale", "mscale_all_dim"):
                if getattr(self, key) is not None:
                    params[key] = float(getattr(self, key))
            if not self.truncate:
                params["truncate"] = False
        return params

    def ntk_base(self) -> float:
        """The NTK-aware base for this factor: ``base * factor ** (d / (d - 2))``."""
        d = self.head_dim
        return self.base * self.factor ** (d / (d - 2))


def _exponents(dim: int) -> torch.Tensor:
    return torch.arange(0, dim, 2, dtype=torch.int64).float() / dim


def default_inv_freq(head_dim: int, base: float) -> torch.Tensor:
    """Plain RoPE: ``base ** (-2i / d)`` for ``i < d / 2`` (float32)."""
    return 1.0 / (base ** _exponents(head_dim))


def yarn_attention_factor(
    factor: float, mscale: float | None = None, mscale_all_dim: float | None = None
) -> float:
    """YaRN's cos/sin multiplier ``0.1 * mscale * ln(s) + 1`` (a ratio with both mscales)."""

    def get(scale: float, m: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    if mscale and mscale_all_dim:
        return float(get(factor, mscale) / get(factor, mscale_all_dim))
    return get(factor)


def yarn_ramp(spec: RopeScaling) -> torch.Tensor:
    """Per-frequency interpolation weight: 0 for fast dimensions (kept), 1 for slow (divided)."""
    dim, base, length = spec.head_dim, spec.base, spec.original_max_positions

    def correction_dim(rotations: float) -> float:
        # the dimension whose wavelength fits ``rotations`` times into the original length
        return (dim * math.log(length / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(spec.beta_fast), correction_dim(spec.beta_slow)
    if spec.truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001  # avoid a division by zero, as transformers does
    return torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)


def inverse_frequencies(
    spec: RopeScaling, seq_len: int | None = None
) -> tuple[torch.Tensor, float]:
    """``(inv_freq, attention_scaling)`` for ``spec``; ``seq_len`` matters for ``dynamic`` only.

    ``dynamic`` follows transformers' model: the original length is the config's
    ``max_position_embeddings`` (here ``original_max_positions``), and at a sequence length
    ``N <= L`` the frequencies are the unscaled ones.
    """
    dim, base, s = spec.head_dim, spec.base, float(spec.factor)
    kind = spec.rope_type
    if kind == "default":
        return default_inv_freq(dim, base), 1.0
    if kind == "ntk":
        return default_inv_freq(dim, spec.ntk_base()), 1.0
    if kind == "linear":
        return default_inv_freq(dim, base) / s, 1.0
    if kind == "dynamic":
        length = spec.original_max_positions
        n = length if seq_len is None else max(int(seq_len), length)
        grown = base * ((s * n / length) - (s - 1)) ** (dim / (dim - 2))
        return default_inv_freq(dim, grown), 1.0
    if kind == "yarn":
        pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
        extrapolation, interpolation = 1.0 / pos_freqs, 1.0 / (s * pos_freqs)
        keep = 1 - yarn_ramp(spec)  # 1 where the frequency is kept (extrapolated)
        inv_freq = interpolation * (1 - keep) + extrapolation * keep
        scaling = spec.attention_factor
        if scaling is None:
            scaling = yarn_attention_factor(s, spec.mscale, spec.mscale_all_dim)
        return inv_freq, float(scaling)
    # llama3
    inv_freq = default_inv_freq(dim, base)
    length = spec.original_max_positions
    low_wavelen = length / spec.low_freq_factor
    high_wavelen = length / spec.high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / s, inv_freq)
    smooth = (length / wavelen - spec.low_freq_factor) / (
        spec.high_freq_factor - spec.low_freq_factor
    )
    smoothed = (1 - smooth) * scaled / s + smooth * scaled
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled), 1.0


def cos_sin(inv_freq: torch.Tensor, positions: torch.Tensor, attention_scaling: float = 1.0):
    """The ``(cos, sin)`` tables ``[len(positions), head_dim]`` as transformers' Llama does."""
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos() * attention_scaling, emb.sin() * attention_scaling


def transformers_reference(
    spec: RopeScaling, seq_len: int | None = None
) -> tuple[torch.Tensor, float]:
    """The same numbers from transformers' own ``ROPE_INIT_FUNCTIONS`` (the anchor)."""
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    params = spec.rope_parameters()
    if spec.rope_type == "dynamic":
        max_pos = spec.original_max_positions
    else:
        max_pos = math.ceil(spec.original_max_positions * spec.factor)
    config = LlamaConfig(
        hidden_size=spec.head_dim,
        num_attention_heads=1,
        head_dim=spec.head_dim,
        max_position_embeddings=max_pos,
        rope_parameters=params,
    )
    kind = config.rope_parameters["rope_type"]
    if kind == "default":
        from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

        return LlamaRotaryEmbedding.compute_default_rope_parameters(config)
    return ROPE_INIT_FUNCTIONS[kind](config, None, seq_len=seq_len)


def set_rope_scaling(model, spec: RopeScaling) -> None:
    """Switch a transformers Llama-family model to ``spec`` in place (new rotary embedding).

    The config's ``max_position_embeddings`` becomes the extended length; for ``dynamic`` it
    stays the original length, which is what transformers' dynamic update compares against.
    """
    config = model.config
    config.rope_parameters = spec.rope_parameters()
    if spec.rope_type == "dynamic":
        config.max_position_embeddings = spec.original_max_positions
    else:
        config.max_position_embeddings = math.ceil(spec.original_max_positions * spec.factor)
    inner = model.model if hasattr(model, "model") else model
    device = next(model.parameters()).device
    inner.rotary_emb = type(inner.rotary_emb)(config=config).to(device)


__all__ = [
    "ROPE_TYPES",
    "RopeScaling",
    "cos_sin",
    "default_inv_freq",
    "inverse_frequencies",
    "set_rope_scaling",
    "transformers_reference",
    "yarn_attention_factor",
    "yarn_ramp",
]
