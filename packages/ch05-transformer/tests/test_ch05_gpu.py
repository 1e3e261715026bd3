"""The same parity on a CUDA device (run on the GPU runners; skipped without CUDA).

float32 on CUDA: matmuls may take other reduction orders than on the CPU (and SDPA picks its
memory-efficient kernel), so the tolerance is 1e-4 instead of the CPU tests' 1e-5. bfloat16: our
kernels in bf16 against the float32 reference within 3e-2, the rounding of an 8-bit mantissa.
"""

from __future__ import annotations

import json

import pytest
import torch

from ch05_transformer import from_pretrained, generate, naive_attention, tiled_attention
from ch05_transformer.attention import sdpa_attention
from ch05_transformer.cli import app
from ch05_transformer.parity import load_anchor
from llmpath_core.cli import run_app

pytestmark = pytest.mark.gpu
CUDA_FP32_TOL = 1e-4
BF16_TOL = 3e-2


def _qkv(heads, kv_heads, t=300, d=64, dtype=torch.float32):
    g = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(2, heads, t, d, device="cuda", generator=g, dtype=dtype)
    k = torch.randn(2, kv_heads, t, d, device="cuda", generator=g, dtype=dtype)
    v = torch.randn(2, kv_heads, t, d, device="cuda", generator=g, dtype=dtype)
    return q, k, v


@pytest.mark.parametrize(
    ("heads", "kv_heads", "causal", "padded"),
    [(4, 4, False, False), (4, 4, True, False), (8, 1, True, False), (8, 2, True, True)],
)
def test_attention_kernels_agree_on_cuda(heads, kv_heads, causal, padded):
    q, k, v = _qkv(heads, kv_heads)
    mask = None
    if padded:
        mask = torch.ones(2, q.shape[-2], dtype=torch.bool, device="cuda")
        mask[1, 250:] = False
    reference = sdpa_attention(q, k, v, causal=causal, key_padding_mask=mask)
    for kernel in (naive_attention, tiled_attention):
        out = kernel(q, k, v, causal=causal, key_padding_mask=mask)
        assert out.device.type == "cuda"
        assert float((out - reference).abs().max()) <= CUDA_FP32_TOL, kernel.__name__


def test_bf16_kernels_stay_close_to_the_fp32_reference():
    q, k, v = _qkv(8, 2)
    reference = sdpa_attention(q, k, v, causal=True)
    for kernel in (naive_attention, tiled_attention, sdpa_attention):
        out = kernel(q.bfloat16(), k.bfloat16(), v.bfloat16(), causal=True)
        assert float((out.float() - reference).abs().max()) <= BF16_TOL, kernel.__name__


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_decoders_match_transformers_on_cuda(tiny_hf_models, arch):
    ours = from_pretrained(tiny_hf_models[arch]).to("cuda")
    anchor = load_anchor(tiny_hf_models[arch], arch).to("cuda")
    ids = torch.randint(0, ours.config.vocab_size, (2, 40), device="cuda")
    with torch.no_grad():
        diff = (ours(ids) - anchor(ids).logits).abs().max()
    assert float(diff) <= CUDA_FP32_TOL
    prompt = ids[:1, :6]
    cached = generate(ours, prompt, 20, use_cache=True)
    recomputed = generate(ours, prompt, 20, use_cache=False)
    assert cached.device.type == "cuda" and torch.equal(cached, recomputed)


def _cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_app(app, [*args, "--json"])
    assert exit_info.value.code == 0
    return json.loads(capsys.readouterr().out)


def test_cli_parity_and_training_on_cuda(tiny_hf_models, tmp_path, capsys):
    result = _cli(["parity", "--model", str(tiny_hf_models["llama"]), "--device", "cuda"], capsys)
    (row,) = result["models"]
    assert row["logits_max_abs_diff"] <= CUDA_FP32_TOL
    assert row["kv_cache_logits_max_abs_diff"] <= CUDA_FP32_TOL
    trained = _cli(
        ["train", "--device", "cuda", "--steps", "60", "--out", str(tmp_path / "m")], capsys
    )
    assert trained["final_loss"] < 0.6 * trained["first_loss"]
    text = _cli(
        ["generate", "--device", "cuda", "--model", str(tmp_path / "m"), "--max-new-tokens", "8"],
        capsys,
    )
    assert text["new_tokens"] == 8
