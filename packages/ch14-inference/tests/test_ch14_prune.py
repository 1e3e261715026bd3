"""Pruning: the sparsity asked for, the 2:4 pattern, and only the smallest weights removed."""

from __future__ import annotations

import copy

import torch

from ch14_inference import EngineConfig, LLMEngine, SamplingParams
from ch14_inference.prune import magnitude_prune, perplexity, semi_structured_prune


def test_magnitude_pruning_removes_exactly_the_smallest_weights(gqa_model):
    model = copy.deepcopy(gqa_model)
    before = model.model.layers[0].mlp.down_proj.weight.clone()
    achieved = magnitude_prune(model, 0.5)
    assert all(abs(v - 0.5) < 0.01 for v in achieved.values())
    after = model.model.layers[0].mlp.down_proj.weight
    kept, dropped = before[after != 0].abs(), before[after == 0].abs()
    assert kept.min() >= dropped.max()
    assert torch.equal(model.lm_head.weight, gqa_model.lm_head.weight)  # the head is untouched


def test_two_four_pattern_and_engine_runs_the_pruned_weights(gqa_model):
    model = copy.deepcopy(gqa_model)
    semi_structured_prune(model)
    w = model.model.layers[1].self_attn.q_proj.weight
    assert ((w.view(w.shape[0], -1, 4) != 0).sum(-1) == 2).all()
    prompt = list(range(5, 25))
    ref = model.generate(torch.tensor([prompt]), max_new_tokens=8, do_sample=False, pad_token_id=0)[
        0, 20:
    ].tolist()
    (out,) = LLMEngine(model, config=EngineConfig(block_size=4, num_blocks=32)).generate(
        [prompt], SamplingParams(max_tokens=8)
    )
    assert out.outputs[0].token_ids == ref


def test_perplexity_is_deterministic_and_zero_sparsity_is_a_no_op(gqa_model):
    ids = (list(range(1, 40)) * 8)[:256]  # a repeating sequence
    dense = perplexity(gqa_model, ids, seq_len=64)
    assert dense == perplexity(copy.deepcopy(gqa_model), ids, seq_len=64)
    model = copy.deepcopy(gqa_model)
    magnitude_prune(model, 0.0)
    assert perplexity(model, ids, seq_len=64) == dense  # zero sparsity changes nothing
