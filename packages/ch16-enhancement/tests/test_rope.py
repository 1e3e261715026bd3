"""RoPE scaling from scratch against transformers' ROPE_INIT_FUNCTIONS and Llama's rotary."""

from __future__ import annotations

import pytest
import torch

from ch16_enhancement.rope import (
    RopeScaling,
    cos_sin,
    inverse_frequencies,
    set_rope_scaling,
    transformers_reference,
)
from llmpath_core import UserError
from llmpath_core.bench import run_json
from llmpath_core.testing import tiny_llama

CASES = [
    ("linear", 4.0, 64, 10000.0, 2048),
    ("linear", 2.5, 32, 500000.0, 256),
    ("dynamic", 4.0, 64, 10000.0, 2048),
    ("dynamic", 8.0, 128, 500000.0, 8192),
    ("yarn", 4.0, 64, 10000.0, 2048),
    ("yarn", 16.0, 128, 1000000.0, 4096),
    ("yarn", 3.0, 16, 10000.0, 64),
    ("llama3", 8.0, 128, 500000.0, 8192),
    ("llama3", 4.0, 64, 10000.0, 256),
]


@pytest.mark.parametrize(("kind", "factor", "dim", "base", "length"), CASES)
@pytest.mark.parametrize("seq_len", [None, 100, 20000])
def test_inverse_frequencies_equal_transformers(kind, factor, dim, base, length, seq_len):
    # exact equality: the same float32 steps as transformers (tolerance 0)
    spec = RopeScaling(kind, factor, dim, base, length)
    ours, ours_scale = inverse_frequencies(spec, seq_len)
    theirs, their_scale = transformers_reference(spec, seq_len)
    assert torch.equal(ours, theirs)
    assert ours_scale == pytest.approx(their_scale, rel=1e-12)


def test_yarn_mscale_and_llama3_custom_factors_equal_transformers():
    for spec in (
        RopeScaling("yarn", 40.0, 64, 10000.0, 4096, mscale=1.0, mscale_all_dim=0.707),
        RopeScaling("yarn", 4.0, 64, 10000.0, 2048, beta_fast=16, beta_slow=2, truncate=False),
        RopeScaling("yarn", 4.0, 64, 10000.0, 2048, attention_factor=1.5),
        RopeScaling("llama3", 8.0, 64, 500000.0, 1024, low_freq_factor=2.0, high_freq_factor=8.0),
    ):
        ours, s1 = inverse_frequencies(spec)
        theirs, s2 = transformers_reference(spec)
        assert torch.equal(ours, theirs)
        assert s1 == pytest.approx(s2, rel=1e-12)


def test_known_values_catch_a_wrong_formula():
    # YaRN's attention factor is 0.1 ln(s) + 1; PI divides every frequency by s
    _, scale = inverse_frequencies(RopeScaling("yarn", 4.0, 64, 10000.0, 2048))
    assert scale == pytest.approx(1 + 0.1 * torch.log(torch.tensor(4.0)).item(), rel=1e-9)
    plain, _ = inverse_frequencies(RopeScaling("default", 1.0, 64, 10000.0, 2048))
    pi, _ = inverse_frequencies(RopeScaling("linear", 4.0, 64, 10000.0, 2048))
    assert torch.allclose(pi * 4, plain, rtol=1e-6)
    # dynamic NTK below the trained length is plain RoPE; above it the base grows
    short, _ = inverse_frequencies(RopeScaling("dynamic", 4.0, 64, 10000.0, 2048), 1000)
    long, _ = inverse_frequencies(RopeScaling("dynamic", 4.0, 64, 10000.0, 2048), 8192)
    assert torch.equal(short, plain) and long[-1] < plain[-1] and long[0] == plain[0]


@pytest.mark.parametrize("kind", ["linear", "ntk", "yarn", "llama3", "dynamic"])
def test_cos_sin_tables_equal_the_llama_rotary_embedding(kind):
    # the model's own rotary embedding (incl. dynamic's update at the sequence length) gives
    # the same tables as ours, within 1e-6
    model = tiny_llama(0, hidden=64, heads=2, ctx=64)
    spec = RopeScaling(kind, 4.0, 32, 10000.0, 64)
    set_rope_scaling(model, spec)
    n = 200
    positions = torch.arange(n)
    x = torch.zeros(1, n, 64)
    cos_ref, sin_ref = model.model.rotary_emb(x, positions[None])
    inv, scale = inverse_frequencies(spec, n)
    cos, sin = cos_sin(inv, positions, scale)
    torch.testing.assert_close(cos, cos_ref[0], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(sin, sin_ref[0], rtol=1e-6, atol=1e-6)


def test_factor_below_one_is_a_user_error():
    with pytest.raises(UserError, match="factor must be >= 1"):
        RopeScaling("yarn", 0.5, 64, 10000.0, 2048)


def test_cli_rope_json_equals_transformers():
    from ch16_enhancement.cli import app

    args = "rope --type llama3 --factor 8 --head-dim 128 --base 500000 "
    args += "--original-max-positions 8192 --json"
    result, _ = run_json(app, args.split())
    theirs, scale = transformers_reference(RopeScaling("llama3", 8.0, 128, 500000.0, 8192))
    assert result["inv_freq"] == theirs.tolist() and result["attention_scaling"] == scale
    args = "rope --type dynamic --factor 2 --head-dim 64 --base 10000 "
    args += "--original-max-positions 512 --seq-len 3000 --json"
    result, _ = run_json(app, args.split())
    theirs, _ = transformers_reference(RopeScaling("dynamic", 2.0, 64, 10000.0, 512), 3000)
    assert result["inv_freq"] == theirs.tolist()


def test_cli_factor_below_one_exits_2(cli):
    done = cli(
        "rope",
        "--type",
        "linear",
        "--factor",
        "0.5",
        "--head-dim",
        "64",
        "--base",
        "10000",
        "--original-max-positions",
        "2048",
        "--json",
    )
    assert done.returncode == 2
    assert "factor must be >= 1" in done.stderr and "Traceback" not in done.stderr
