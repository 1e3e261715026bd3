"""Held to transformers: Mixtral MoE block and balancing loss, Mamba, RWKV, the parity CLI."""

from __future__ import annotations

import json

import pytest
import torch

from llmpath_core.bench import run_json


def test_mixtral_block_and_router_equal_transformers():
    from transformers import MixtralConfig
    from transformers.models.mixtral.modeling_mixtral import MixtralSparseMoeBlock

    from ch15_architectures.moe import SparseMoE

    torch.manual_seed(0)
    config = MixtralConfig(
        hidden_size=32, intermediate_size=48, num_local_experts=6, num_experts_per_tok=2
    )
    theirs = MixtralSparseMoeBlock(config).eval()
    for p in theirs.parameters():
        torch.nn.init.normal_(p, std=0.2)
    ours = SparseMoE(32, 48, experts=6, top_k=2).eval()
    ours.load_state_dict(theirs.state_dict())  # same names and layout
    x = torch.randn(3, 10, 32)
    with torch.no_grad():
        diff = (theirs(x) - ours(x)).abs().max().item()
        their_logits, _, their_idx = theirs.gate(x)
    assert diff < 1e-6  # float32 rounding only
    assert torch.equal(ours.last.logits, their_logits)
    assert torch.equal(ours.last.experts, their_idx)


def test_load_balancing_loss_equals_transformers():
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func

    from ch15_architectures.moe import load_balancing_loss

    torch.manual_seed(0)
    for experts, top_k in [(8, 2), (4, 1), (6, 3)]:
        logits = tuple(torch.randn(40, experts) * 2 for _ in range(3))
        ref = load_balancing_loss_func(logits, experts, top_k)
        assert abs(float(load_balancing_loss(logits, experts, top_k)) - float(ref)) < 1e-6
    # skewed routing is penalised: all tokens to expert 0 -> loss near E * top_k share
    skewed = torch.zeros(64, 4)
    skewed[:, 0] = 10
    assert float(load_balancing_loss(skewed, 4, 1)) > 3.5


@pytest.mark.parametrize(
    ("arch", "tolerance"),
    [("mamba", 1e-4), ("rwkv", 1e-4), ("mixtral", 1e-5), ("mamba2", 1e-4)],
)
def test_parity_cli_on_hf_folders(hf_folders, arch, tolerance):
    from ch15_architectures.cli import app

    result, _ = run_json(app, ["parity", "--model", str(hf_folders[arch]), "--seq-len", "24"])
    assert result["arch"] == arch
    assert result["max_abs_logit"] > 0.1  # the comparison is not between zeros
    assert result["max_abs_diff"] < tolerance
    if arch == "rwkv":
        assert result["recurrent_vs_parallel"] <= 1e-5
    if arch == "mixtral":
        assert result["aux_loss_diff"] < 1e-6


def test_mixtral_sliding_window_equals_transformers(tmp_path):
    import transformers

    from ch15_architectures.parity import parity

    torch.manual_seed(3)
    config = transformers.MixtralConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        num_local_experts=3,
        sliding_window=6,
    )
    transformers.MixtralForCausalLM(config).save_pretrained(tmp_path)
    assert parity(tmp_path, seq_len=20)["max_abs_diff"] < 1e-5


def test_mamba_is_not_trivially_equal(hf_folders):
    """A wrong scan (no input-dependent decay) must show up as a large difference."""
    from ch15_architectures import mamba
    from ch15_architectures.parity import load_pair

    _, hf, ours = load_pair(hf_folders["mamba"])
    ids = torch.randint(0, 128, (1, 16))
    with torch.no_grad():
        ref = hf(input_ids=ids).logits
        for layer in ours.backbone.layers:
            layer.mixer.A_log.data.fill_(5.0)  # decay everything: a different model
        assert (ours(ids).logits - ref).abs().max() > 1e-3
    assert mamba.SCANS == ("sequential", "associative", "chunked")


def test_unsupported_folder_exits_2(cli, tmp_path):
    from llmpath_core.testing import tiny_llama

    tiny_llama().save_pretrained(tmp_path / "llama")
    done = cli("parity", "--model", str(tmp_path / "llama"), "--json")
    assert done.returncode == 2
    assert "unsupported architecture" in done.stderr
    assert json.loads(done.stdout)["error"].startswith("unsupported architecture")
    assert len(done.stderr.strip().splitlines()) == 1
