"""RoPE, RMSNorm, LayerNorm and SwiGLU against transformers' / PyTorch's own (float32)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ch05_transformer.mlp import SwiGLU
from ch05_transformer.norms import LayerNorm, RMSNorm
from ch05_transformer.rope import RotaryEmbedding, apply_rotary, rope_cos_sin


def test_rope_cos_sin_and_rotation_equal_transformers():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import (
        LlamaRotaryEmbedding,
        apply_rotary_pos_emb,
    )

    for head_dim, base in ((16, 10000.0), (64, 500000.0)):
        cfg = LlamaConfig(
            hidden_size=head_dim * 2,
            num_attention_heads=2,
            rope_parameters={"rope_type": "default", "rope_theta": base},
        )
        hf = LlamaRotaryEmbedding(cfg)
        positions = torch.arange(300)[None]
        x = torch.randn(1, 300, head_dim)
        hf_cos, hf_sin = hf(x, positions)
        cos, sin = rope_cos_sin(torch.arange(300), head_dim, base)
        assert torch.equal(cos, hf_cos[0]) and torch.equal(sin, hf_sin[0])
        # the precomputed table gives the same values at an offset (KV-cache decoding)
        table = RotaryEmbedding(head_dim, 400, base)
        assert torch.equal(table(100, 50)[0], cos[100:150])
        q, k = torch.randn(2, 3, 300, head_dim), torch.randn(2, 1, 300, head_dim)
        hf_q, hf_k = apply_rotary_pos_emb(q, k, hf_cos, hf_sin)
        assert torch.equal(apply_rotary(q, cos, sin), hf_q)
        assert torch.equal(apply_rotary(k, cos, sin), hf_k)


def test_rope_scores_depend_only_on_distance():
    cos, sin = rope_cos_sin(torch.arange(64), 32)
    q, k = torch.randn(32), torch.randn(32)
    qs = apply_rotary(q.expand(1, 1, 64, 32), cos, sin)[0, 0]
    ks = apply_rotary(k.expand(1, 1, 64, 32), cos, sin)[0, 0]
    assert torch.allclose(qs[10] @ ks[7], qs[40] @ ks[37], atol=1e-4)  # both distance 3


def test_rmsnorm_equals_transformers_llama_rmsnorm():
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    ours, hf = RMSNorm(48, 1e-6), LlamaRMSNorm(48, 1e-6)
    with torch.no_grad():
        w = torch.randn(48)
        ours.weight.copy_(w)
        hf.weight.copy_(w)
    x = torch.randn(3, 7, 48) * 5
    assert torch.equal(ours(x), hf(x))
    rms = (ours(x) / w).pow(2).mean(-1)  # unit RMS before the learned scale
    assert torch.allclose(rms, torch.ones_like(rms), atol=1e-4)


def test_layernorm_equals_torch():
    ours = LayerNorm(48, 1e-12)
    with torch.no_grad():
        ours.weight.normal_()
        ours.bias.normal_()
    x = torch.randn(3, 7, 48) * 4 + 2
    ref = F.layer_norm(x, (48,), ours.weight, ours.bias, 1e-12)
    assert torch.allclose(ours(x), ref, atol=2e-6)


def test_swiglu_equals_transformers_llama_mlp():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaMLP

    hf = LlamaMLP(LlamaConfig(hidden_size=32, intermediate_size=80))
    ours = SwiGLU(32, 80)
    ours.load_state_dict(hf.state_dict())
    x = torch.randn(2, 5, 32)
    assert torch.equal(ours(x), hf(x))


def test_scaled_rope_equals_transformers_linear_and_llama3():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    from ch05_transformer.rope import RopeScaling

    variants = {
        "linear": {"rope_type": "linear", "factor": 4.0},
        "llama3": {
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64,
        },
    }
    for name, params in variants.items():
        cfg = LlamaConfig(
            hidden_size=64, num_attention_heads=2, rope_parameters={"rope_theta": 10000.0, **params}
        )
        hf_cos, hf_sin = LlamaRotaryEmbedding(cfg)(torch.zeros(1), torch.arange(200)[None])
        scaling = RopeScaling(**{k: v for k, v in params.items()})
        cos, sin = rope_cos_sin(torch.arange(200), 32, 10000.0, scaling)
        plain, _ = rope_cos_sin(torch.arange(200), 32, 10000.0)
        assert torch.equal(cos, hf_cos[0]) and torch.equal(sin, hf_sin[0]), name
        assert not torch.allclose(cos, plain), name  # the scaling really changed something
