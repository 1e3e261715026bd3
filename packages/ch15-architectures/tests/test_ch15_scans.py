"""The three selective scans agree with each other and with transformers' torch scan."""

from __future__ import annotations

import pytest
import torch

from ch15_architectures.mamba import SCANS, selective_scan


def _inputs(length=45, dim=12, state=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(2, dim, length, generator=gen)
    delta = torch.randn(2, dim, length, generator=gen)
    A = -torch.exp(torch.randn(dim, state, generator=gen))
    B, C = (torch.randn(2, state, length, generator=gen) for _ in range(2))
    D, z = torch.randn(dim, generator=gen), torch.randn(2, dim, length, generator=gen)
    bias = torch.randn(dim, generator=gen)
    return u, delta, A, B, C, D, z, bias


@pytest.mark.parametrize("chunk", [1, 7, 16, 64])
def test_scans_agree(chunk):
    u, delta, A, B, C, D, z, bias = _inputs()
    ref = selective_scan(u, delta, A, B, C, D, z, bias, True, mode="sequential")
    for mode in SCANS:
        out = selective_scan(u, delta, A, B, C, D, z, bias, True, mode=mode, chunk=chunk)
        assert (out - ref).abs().max() <= 1e-5 * max(1.0, ref.abs().max().item())


def test_sequential_equals_transformers_torch_scan():
    from transformers.models.mamba import modeling_mamba

    u, delta, A, B, C, D, z, bias = _inputs(seed=1)
    # without mamba_ssm installed this is transformers' pure-torch fallback (the Python loop)
    ref = modeling_mamba.mamba_selective_scan(
        u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=True
    )
    ours = selective_scan(u, delta, A, B, C, D, z, bias, True, mode="chunked")
    assert (ours - ref).abs().max() < 1e-4


def test_state_matters():
    """Long decays carry information across chunks: dropping the carried state changes y."""
    u, delta, A, B, C, _, _, bias = _inputs(length=40)
    small = -0.01 * torch.ones_like(A)
    full = selective_scan(u, delta, small, B, C, None, None, bias, True, mode="chunked", chunk=8)
    first = selective_scan(
        u[..., 8:],
        delta[..., 8:],
        small,
        B[..., 8:],
        C[..., 8:],
        None,
        None,
        bias,
        True,
        mode="chunked",
        chunk=8,
    )
    assert (full[..., 8:] - first).abs().max() > 1e-2


@pytest.mark.gpu
def test_chunked_scan_equals_mamba_ssm_kernel():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    ops = pytest.importorskip("mamba_ssm.ops.selective_scan_interface")
    u, delta, A, B, C, D, z, bias = (t.cuda() for t in _inputs(length=256, dim=64, state=16))
    ref = ops.selective_scan_fn(u, delta, A, B, C, D, z, bias, True)
    ours = selective_scan(u, delta, A, B, C, D, z, bias, True, mode="chunked")
    assert (ours - ref).abs().max() < 1e-3 * max(1.0, ref.abs().max().item())


def test_chunked_scan_falls_back_exactly_on_strong_decay(monkeypatch):
    """Chunks that decay by hundreds of nats are split until float32 holds them: still equal."""
    from ch15_architectures import mamba

    calls = []
    exact = mamba._chunk_cumsum
    monkeypatch.setattr(mamba, "_chunk_cumsum", lambda *a: calls.append(1) or exact(*a))
    u, delta, A, B, C, D, z, bias = _inputs(seed=2)
    strong = A * 50
    ref = selective_scan(u, delta, strong, B, C, D, z, bias + 3, True, mode="sequential")
    out = selective_scan(u, delta, strong, B, C, D, z, bias + 3, True, mode="chunked", chunk=8)
    assert len(calls) > 45 // 8 + 1  # chunks were really split
    assert torch.isfinite(out).all()
    assert (out - ref).abs().max() <= 1e-5 * max(1.0, ref.abs().max().item())
