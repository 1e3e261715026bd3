"""RoPE types: dynamic NTK RoPE held to transformers past the trained context; longrope refused."""

from __future__ import annotations

import pytest
import torch

from ch14_inference import EngineConfig, LLMEngine, PagedLlama, SamplingParams, load_model
from ch14_inference.model import make_batch
from llmpath_core import UserError

CONTEXT = 32  # the trained context (max_position_embeddings); dynamic RoPE rescales past it


def _llama(rope_parameters: dict, seed: int = 0, **extra):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=97,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=CONTEXT,
        rope_parameters=rope_parameters,
        eos_token_id=None,
        bos_token_id=None,
        pad_token_id=None,
        tie_word_embeddings=False,
        **extra,
    )
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(8.0)  # no argmax ties
    return model


@pytest.fixture(scope="module")
def dynamic_model():
    return _llama({"rope_type": "dynamic", "factor": 4.0, "rope_theta": 10000.0})


def _paged_logits(model: PagedLlama, ids: list[int], chunks: list[int]) -> torch.Tensor:
    """All-position logits of one sequence fed in ``chunks`` through the paged forward."""
    bs = 4
    cache = model.new_cache(-(-len(ids) // bs), bs)
    table = list(range(-(-len(ids) // bs)))
    out, start = [], 0
    for n in chunks:
        slots = list(range(start, start + n))
        batch = make_batch([(ids[start : start + n], start, slots, table)], bs, all_logits=True)
        out.append(model.forward(batch, cache))
        start += n
    return torch.cat(out)


def test_dynamic_rope_logits_equal_transformers_past_the_trained_context(dynamic_model):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 97, (90,), generator=g).tolist()
    with torch.no_grad():
        ref = dynamic_model(torch.tensor([ids])).logits[0]  # one forward: frequencies for L = 90
    paged = PagedLlama(dynamic_model)
    assert paged.max_positions == 4 * CONTEXT
    ours = _paged_logits(paged, ids, [90])
    past = slice(CONTEXT, None)
    err = (ours[past] - ref[past]).abs().max().item()
    assert err < 1e-4, err
    # the frozen frequencies of the trained context are visibly wrong there (the test has power)
    paged.rope_type = "default"  # paged.rope holds the frequencies frozen at load
    wrong = _paged_logits(paged, ids, [90])
    assert (wrong[past] - ref[past]).abs().max().item() > 1e-2


def test_dynamic_rope_greedy_decoding_past_the_context_equals_generate(dynamic_model):
    """Token by token decoding rescales at every step past 32 tokens, like transformers' cache."""
    g = torch.Generator().manual_seed(1)
    prompts = [torch.randint(0, 97, (n,), generator=g).tolist() for n in (12, 25)]
    refs = []
    for p in prompts:
        out = dynamic_model.generate(
            torch.tensor([p]),
            attention_mask=torch.ones(1, len(p), dtype=torch.long),
            max_new_tokens=40,
            do_sample=False,
            pad_token_id=0,
        )
        refs.append(out[0, len(p) :].tolist())
    engine = LLMEngine(dynamic_model, config=EngineConfig(block_size=8, num_blocks=32))
    outs = engine.generate(prompts, SamplingParams(max_tokens=40))  # two sequences in one batch
    assert [o.outputs[0].token_ids for o in outs] == refs


def test_longrope_is_refused_at_load_with_one_line(tmp_path):
    half = 64 // 4 // 2  # head_dim / 2 factors each
    model = _llama(
        {
            "rope_type": "longrope",
            "rope_theta": 10000.0,
            "short_factor": [1.0] * half,
            "long_factor": [2.0] * half,
            "original_max_position_embeddings": CONTEXT,
        },
    )
    with pytest.raises(UserError, match="'longrope' is not supported") as info:
        PagedLlama(model)
    assert "\n" not in str(info.value)
    model.save_pretrained(tmp_path)
    with pytest.raises(UserError, match="longrope"):  # the CLI's path: exit code 2, one line
        load_model(str(tmp_path))
