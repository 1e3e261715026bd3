"""Number formats and their grids: fp32, fp16, bf16, fp8 (e4m3, e5m2), int8, int4, NF4.

A format is the set of values it can represent. Floating-point formats spend bits on an exponent
(range) and a mantissa (precision near 1): their grid is dense near zero and sparse far from it.
Integer formats are evenly spaced and need a scale. NF4 (QLoRA, Dettmers et al. 2023) places its
16 values at quantiles of a normal distribution, which is where the weights of a trained network
mostly are.

The fp8 grids are decoded here from every bit pattern (OCP FP8 spec: e4m3 has bias 7, no
infinities and one NaN pattern per sign; e5m2 is IEEE-like with bias 15), and
:func:`round_to_grid` rounds onto them; a test holds both against ``torch.float8_*`` casts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from llmpath_core import UserError

# QLoRA's NF4 code book, as bitsandbytes ships it (``bitsandbytes.functional.get_4bit_type``)
NF4_CODE = (
    -1.0,
    -0.6961928009986877,
    -0.5250730514526367,
    -0.39491748809814453,
    -0.28444138169288635,
    -0.18477343022823334,
    -0.09105003625154495,
    0.0,
    0.07958029955625534,
    0.16093020141124725,
    0.24611230194568634,
    0.33791524171829224,
    0.44070982933044434,
    0.5626170039176941,
    0.7229568362236023,
    1.0,
)


def nf4_code_from_normal(offset: float = 0.9677083) -> torch.Tensor:
    """Derive the NF4 values: 8 positive and 7 negative normal quantiles, plus an exact zero.

    The quantiles are taken at evenly spaced probabilities from 1/2 to ``offset`` and normalised
    to ``[-1, 1]`` (QLoRA, Appendix E); this reproduces :data:`NF4_CODE` to about 1e-7.
    """
    normal = torch.distributions.Normal(0.0, 1.0)
    pos = normal.icdf(torch.linspace(offset, 0.5, 9, dtype=torch.float64)[:-1])
    neg = -normal.icdf(torch.linspace(offset, 0.5, 8, dtype=torch.float64)[:-1])
    values = torch.cat([pos, torch.zeros(1, dtype=torch.float64), neg]).sort().values
    return (values / values.abs().max()).float()


def _float_grid(exp_bits: int, man_bits: int, bias: int, ieee: bool) -> torch.Tensor:
    """Every finite value of a small float format, decoded from its bit patterns."""
    values = []
    for e in range(2**exp_bits):
        for m in range(2**man_bits):
            if ieee and e == 2**exp_bits - 1:
                continue  # infinities and NaNs
            if not ieee and e == 2**exp_bits - 1 and m == 2**man_bits - 1:
                continue  # e4m3fn: the single NaN pattern
            if e == 0:
                v = (m / 2**man_bits) * 2.0 ** (1 - bias)
            else:
                v = (1 + m / 2**man_bits) * 2.0 ** (e - bias)
            values += [v, -v]
    return torch.tensor(sorted(set(values)), dtype=torch.float64)


@dataclass(frozen=True)
class NumberFormat:
    name: str
    bits: int
    kind: str  # "float", "int" or "codebook"
    note: str

    def grid(self) -> torch.Tensor | None:
        """All representable values (None for formats too big to list: fp32, fp16, bf16)."""
        if self.name == "fp8_e4m3":
            return _float_grid(4, 3, 7, ieee=False)
        if self.name == "fp8_e5m2":
            return _float_grid(5, 2, 15, ieee=True)
        if self.name == "int8":
            return torch.arange(-128, 128, dtype=torch.float64)
        if self.name == "int4":
            return torch.arange(-8, 8, dtype=torch.float64)
        if self.name == "nf4":
            return torch.tensor(NF4_CODE, dtype=torch.float64)
        return None

    def max_value(self) -> float:
        native = _TORCH_DTYPES.get(self.name)
        if native is not None:
            return float(torch.finfo(native).max)
        return float(self.grid().abs().max())


_TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}

FORMATS = {
    f.name: f
    for f in (
        NumberFormat("fp32", 32, "float", "e8 m23"),
        NumberFormat("fp16", 16, "float", "e5 m10"),
        NumberFormat("bf16", 16, "float", "e8 m7: fp32 range"),
        NumberFormat("fp8_e4m3", 8, "float", "e4 m3, no inf"),
        NumberFormat("fp8_e5m2", 8, "float", "e5 m2, IEEE-like"),
        NumberFormat("int8", 8, "int", "uniform + scale"),
        NumberFormat("int4", 4, "int", "uniform + scale"),
        NumberFormat("nf4", 4, "codebook", "normal quantiles"),
    )
}


def get_format(name: str) -> NumberFormat:
    if name not in FORMATS:
        raise UserError(f"unknown number format {name!r}: choose one of {', '.join(FORMATS)}")
    return FORMATS[name]


def round_to_grid(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Round each value to the nearest grid point (ties to the point with the even last bit).

    Values beyond the grid saturate to its ends. Ties between neighbours ``i`` and ``i+1`` go to
    the even index of the positive half, which for float grids is the even mantissa (IEEE
    round-half-to-even).
    """
    grid = grid.to(torch.float64)
    xd = x.detach().double().flatten()
    idx = torch.searchsorted(grid, xd).clamp(1, len(grid) - 1)
    below, above = grid[idx - 1], grid[idx]
    d_below, d_above = xd - below, above - xd
    pick_above = d_above < d_below
    tie = d_above == d_below
    zero_at = int(torch.searchsorted(grid, torch.tensor(0.0, dtype=torch.float64)))
    # mantissa parity: distance in grid steps from zero, even steps are "even" patterns
    above_even = ((idx - zero_at).abs() % 2) == 0
    pick_above = pick_above | (tie & above_even)
    out = torch.where(pick_above, above, below)
    out = torch.where(xd >= grid[-1], grid[-1], out)
    out = torch.where(xd <= grid[0], grid[0], out)
    return out.reshape(x.shape).to(x.dtype)


def cast_to_format(x: torch.Tensor, name: str, *, scale: float | None = None) -> torch.Tensor:
    """``x`` as it reads back after storing it in format ``name`` (returned in ``x``'s dtype).

    Integer and NF4 formats use ``scale`` (default: absmax of ``x`` mapped to the grid's end).
    """
    fmt = get_format(name)
    if name in _TORCH_DTYPES:
        return x.to(_TORCH_DTYPES[name]).to(x.dtype)
    grid = fmt.grid()
    if fmt.kind == "float":
        return round_to_grid(x, grid)
    if scale is None:
        amax = float(x.abs().max())
        scale = amax / float(grid.abs().max() if fmt.kind == "codebook" else grid.max())
        scale = scale or 1.0
    return round_to_grid(x / scale, grid) * scale


def format_table() -> list[dict]:
    """One row per format: bits, distinct values, largest value, smallest step near 1."""
    rows = []
    for fmt in FORMATS.values():
        grid = fmt.grid()
        if fmt.name in _TORCH_DTYPES:
            info = torch.finfo(_TORCH_DTYPES[fmt.name])
            levels, step = 2**fmt.bits, float(info.eps)
        else:
            levels = len(grid)
            near = grid[(grid >= 1).nonzero()[0]] if fmt.kind == "float" else None
            step = float(grid[grid > near][0] - near) if near is not None else None
            if fmt.kind != "float":
                step = None
        rows.append(
            {
                "format": fmt.name,
                "bits": fmt.bits,
                "values": levels,
                "max": fmt.max_value(),
                "step at 1.0": step,
                "note": fmt.note,
            }
        )
    return rows


__all__ = [
    "FORMATS",
    "NF4_CODE",
    "NumberFormat",
    "cast_to_format",
    "format_table",
    "get_format",
    "nf4_code_from_normal",
    "round_to_grid",
]
