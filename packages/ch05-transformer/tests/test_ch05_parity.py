"""Our decoders loaded from transformers checkpoints give the same logits (float32, atol 1e-5)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from ch05_transformer import from_pretrained, generate, save_pretrained
from ch05_transformer.llama import LlamaConfig, LlamaDecoder
from ch05_transformer.parity import load_anchor, parity_report
from llmpath_core import UserError

TOL = 1e-5


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_decoder_logits_match_transformers(tiny_hf_models, arch, record_property):
    report = parity_report(tiny_hf_models[arch], seq_len=40, batch=2)
    record_property("logits_max_abs_diff", report["logits_max_abs_diff"])
    record_property("kv_cache_logits_max_abs_diff", report["kv_cache_logits_max_abs_diff"])
    assert report["logits_max_abs_diff"] <= TOL
    assert report["kv_cache_logits_max_abs_diff"] <= TOL
    # the check is not vacuous: logits of this random model are O(1)
    ours = from_pretrained(tiny_hf_models[arch])
    with torch.no_grad():
        assert float(ours(torch.arange(20)[None]).std()) > 0.1


def test_llama_fixture_uses_gqa(tiny_hf_models):
    ours = from_pretrained(tiny_hf_models["llama"])
    assert (ours.config.num_heads, ours.config.num_kv_heads) == (4, 2)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_greedy_generation_matches_transformers_generate(tiny_hf_models, arch):
    ours = from_pretrained(tiny_hf_models[arch])
    hf = load_anchor(tiny_hf_models[arch], arch)
    prompt = torch.tensor([[5, 17, 42, 7, 99, 3]])
    expected = hf.generate(
        prompt, max_new_tokens=20, min_new_tokens=20, do_sample=False, pad_token_id=0
    )
    assert torch.equal(generate(ours, prompt, 20), expected)


@pytest.mark.parametrize("sampling", [None, "sampled"])
def test_kv_cache_generation_equals_recompute(tiny_hf_models, sampling):
    from ch05_transformer.sampling import SamplingConfig

    ours = from_pretrained(tiny_hf_models["llama"])
    cfg = SamplingConfig(0.9, top_k=50, top_p=0.9) if sampling else SamplingConfig()
    prompt = torch.tensor([[1, 2, 3, 4], [9, 8, 7, 6]])
    with_cache = generate(ours, prompt, 40, sampling=cfg, use_cache=True, seed=3)
    without = generate(ours, prompt, 40, sampling=cfg, use_cache=False, seed=3)
    assert torch.equal(with_cache, without)


def test_our_llama_saves_as_a_folder_transformers_loads(tmp_path):
    torch.manual_seed(0)
    model = LlamaDecoder(
        LlamaConfig(
            vocab_size=128,
            hidden_size=48,
            intermediate_size=96,
            num_layers=2,
            num_heads=4,
            num_kv_heads=1,
            max_position_embeddings=64,
        )
    ).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    path = save_pretrained(model, tmp_path / "ours")
    hf = load_anchor(path, "llama")
    ids = torch.randint(0, 128, (2, 30))
    with torch.no_grad():
        assert float((model(ids) - hf(ids).logits).abs().max()) <= TOL


def test_unsupported_architecture_and_bad_shapes(tiny_hf_models, tmp_path):
    folder = tmp_path / "t5"
    shutil.copytree(tiny_hf_models["llama"], folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "t5"}))
    with pytest.raises(UserError, match="unsupported architecture 't5'"):
        from_pretrained(folder)
    (folder / "config.json").write_text(json.dumps({**config, "hidden_size": 96}))
    with pytest.raises(UserError, match="do not match the config"):
        from_pretrained(folder)
    with pytest.raises(UserError, match="no model folder"):
        from_pretrained(tmp_path / "missing")


def test_llama3_rope_checkpoint_matches_transformers(tmp_path):
    from transformers import LlamaConfig as HFLlamaConfig
    from transformers import LlamaForCausalLM

    torch.manual_seed(1)
    rope = {
        "rope_type": "llama3",
        "rope_theta": 500000.0,
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 32,
    }
    hf = LlamaForCausalLM(
        HFLlamaConfig(
            vocab_size=128,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=1,
            max_position_embeddings=128,
            rope_parameters=rope,
            initializer_range=0.1,
            tie_word_embeddings=True,
        )
    ).eval()
    hf.save_pretrained(tmp_path / "llama3")
    ours = from_pretrained(tmp_path / "llama3")
    assert ours.config.rope_scaling is not None and ours.config.tie_word_embeddings
    ids = torch.randint(0, 128, (2, 100))
    with torch.no_grad():
        assert float((ours(ids) - hf(ids).logits).abs().max()) <= TOL
    # and our own writer round-trips the scaling
    path = save_pretrained(ours, tmp_path / "ours")
    assert (
        json.loads((path / "config.json").read_text())["rope_parameters"]["rope_type"] == "llama3"
    )
    with torch.no_grad():
        assert float((from_pretrained(path)(ids) - ours(ids)).abs().max()) == 0.0
