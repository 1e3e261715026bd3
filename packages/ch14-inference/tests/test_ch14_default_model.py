"""llmpath's default and draft models through the engine: identical to transformers' generate()."""

from __future__ import annotations

import pytest
import torch

from ch14_inference import EngineConfig, LLMEngine, SamplingParams, load_model
from ch14_inference.speculative import DraftModelProposer, SpeculativeDecoder

PROMPTS = ["Once upon a time", "The little dog", "One day, Tom went to the park and"]


@pytest.fixture(scope="module")
def default_pair():
    target, tok = load_model("default")
    draft, _ = load_model("draft")
    return target, draft, tok


def _hf_greedy(model, ids, n):
    out = model.generate(
        torch.tensor([ids]),
        attention_mask=torch.ones(1, len(ids), dtype=torch.long),
        max_new_tokens=n,
        do_sample=False,
        pad_token_id=0,
        eos_token_id=0,
    )
    return out[0, len(ids) :].tolist()


def test_default_model_batched_and_preempted_equal_hf_generate(default_pair):
    target, _, tok = default_pair
    refs = [_hf_greedy(target.hf_model, tok.encode(p), 48) for p in PROMPTS]
    # 10 blocks of 8 tokens cannot hold all three sequences: the engine has to preempt
    engine = LLMEngine(target, tok, EngineConfig(block_size=8, num_blocks=10))
    outs = engine.generate(PROMPTS, SamplingParams(max_tokens=48))
    assert [o.outputs[0].token_ids for o in outs] == refs
    assert engine.scheduler.num_preemptions > 0
    assert outs[0].outputs[0].text == tok.decode(refs[0], skip_special_tokens=True)


def test_default_plus_draft_speculative_is_the_targets_greedy_output(default_pair):
    target, draft, tok = default_pair
    ids = tok.encode(PROMPTS[0])
    ref = _hf_greedy(target.hf_model, ids, 64)
    out, stats = SpeculativeDecoder(
        target, DraftModelProposer(draft), k=4, eos_token_id=0
    ).generate(ids, SamplingParams(max_tokens=64))
    assert out == ref
    assert stats.acceptance_rate > 0.3  # the trained draft really agrees with the target often
