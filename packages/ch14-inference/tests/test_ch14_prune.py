"""Pruning: the sparsity asked for, the 2:4 pattern, only the smallest weights removed, and the
cost measured by llmpath_core's evaluate_lm as a paired difference to the dense model."""

from __future__ import annotations

import copy

import torch

from ch14_inference import EngineConfig, LLMEngine, SamplingParams
from ch14_inference.prune import magnitude_prune, prune_report, semi_structured_prune


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


def test_prune_report_uses_evaluate_lm_and_pairs_each_model_with_dense(text_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmpath_core.models import evaluate_lm

    hf = AutoModelForCausalLM.from_pretrained(text_model_dir).eval()
    tok = AutoTokenizer.from_pretrained(text_model_dir)
    settings = [("magnitude", 0.0), ("magnitude", 0.7)]
    rows, models = prune_report(hf, tok, settings, max_windows=6)
    dense, zero, pruned = rows
    # the dense row is llmpath_core's held-out evaluation itself, not a loop of our own
    ref = evaluate_lm(hf, tok, max_windows=6)
    assert dense["loss"] == ref["loss"] and dense["tokens"] == ref["tokens"]
    assert dense["loss_diff"] == 0.0 and dense["loss_diff_stderr"] == 0.0
    assert zero["loss"] == dense["loss"]  # zero sparsity changes nothing
    # the pruned row's difference is the paired difference over the same windows
    ev = evaluate_lm(models[("magnitude", 0.7)], tok, max_windows=6)
    assert abs(pruned["loss_diff"] - (ev["loss"] - ref["loss"])) < 1e-9
    assert pruned["loss_diff"] != 0.0 and pruned["loss_diff_stderr"] > 0.0
    assert torch.equal(hf.lm_head.weight, models[("dense", 0.0)].lm_head.weight)
