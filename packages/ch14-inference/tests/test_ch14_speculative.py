"""Speculative decoding keeps the target's output: exactly under greedy, in distribution else."""

from __future__ import annotations

import itertools

import pytest
import torch
from scipy.stats import chisquare

from ch14_inference import PagedLlama, SamplingParams
from ch14_inference.speculative import (
    DraftModelProposer,
    NgramProposer,
    SpeculativeDecoder,
    expected_tokens_per_pass,
    rejection_sample,
)

SIGNIFICANCE = 1e-3  # chi-square tests: a correct sampler fails with probability 0.001


@pytest.fixture(scope="module")
def pair(gqa_model, make_llama):
    draft = make_llama(seed=3, hidden=32, layers=1, heads=2, kv_heads=1)
    return PagedLlama(gqa_model), PagedLlama(draft)


@pytest.mark.parametrize("proposer", ["draft", "ngram"])
@pytest.mark.parametrize("k", [1, 4])
def test_greedy_speculative_equals_target_greedy(gqa_model, pair, proposer, k):
    target, draft = pair
    prompt = list(range(10, 43))
    ref = gqa_model.generate(
        torch.tensor([prompt]), max_new_tokens=40, do_sample=False, pad_token_id=0
    )[0, len(prompt) :].tolist()
    prop = DraftModelProposer(draft) if proposer == "draft" else NgramProposer()
    out, stats = SpeculativeDecoder(target, prop, k=k).generate(
        prompt, SamplingParams(max_tokens=40)
    )
    assert out == ref
    assert stats.generated == 40 and stats.target_passes <= 40
    if proposer == "draft":
        # a draft equal to the target is always accepted: k+1 tokens per target pass
        same = SpeculativeDecoder(target, DraftModelProposer(target), k=k)
        out2, stats2 = same.generate(prompt, SamplingParams(max_tokens=40))
        assert out2 == ref and stats2.acceptance_rate == 1.0


def test_rejection_rule_first_token_distribution_is_the_targets():
    gen = torch.Generator().manual_seed(0)
    p = torch.softmax(torch.randn(2, 6, generator=gen) * 1.5, -1)
    q = torch.softmax(torch.randn(1, 6, generator=gen) * 1.5, -1)
    trials = 3000
    counts = torch.zeros(6)
    for _ in range(trials):
        draft = [int(torch.multinomial(q[0], 1, generator=gen))]
        tokens, _ = rejection_sample(p, q, draft, gen)
        counts[tokens[0]] += 1
    assert chisquare(counts.numpy(), p[0].numpy() * trials).pvalue > SIGNIFICANCE
    # the test has power: the draft's own distribution is rejected
    assert chisquare(counts.numpy(), q[0].numpy() * trials).pvalue < SIGNIFICANCE


def _joint(model: PagedLlama, prompt: list[int], vocab: int) -> torch.Tensor:
    """Exact P(t1, t2 | prompt) of a model at temperature 1, from its logits."""
    hf = model.hf_model
    with torch.no_grad():
        first = hf(torch.tensor([prompt])).logits[0, -1].softmax(-1)
        rows = torch.tensor([[*prompt, t] for t in range(vocab)])
        second = hf(rows).logits[:, -1].softmax(-1)
    return first[:, None] * second


def test_sampled_speculative_matches_target_distribution(make_llama):
    vocab = 8
    target = PagedLlama(make_llama(seed=5, vocab=vocab, hidden=32, head_scale=3.0))
    draft = PagedLlama(
        make_llama(seed=6, vocab=vocab, hidden=16, layers=1, heads=2, head_scale=3.0)
    )
    prompt = [1, 2, 3, 4]
    decoder = SpeculativeDecoder(target, DraftModelProposer(draft), k=2, seed=0)
    params = SamplingParams(temperature=1.0, max_tokens=2)
    counts = torch.zeros(vocab, vocab)
    trials, accepted = 600, 0
    for _ in range(trials):
        (a, b), stats = decoder.generate(prompt, params)
        counts[a, b] += 1
        accepted += stats.accepted
    assert accepted > trials * 0.2  # drafts really were accepted (not a plain target run)
    for name, model, should_match in [("target", target, True), ("draft", draft, False)]:
        expected = _joint(model, prompt, vocab).flatten() * trials
        # pool the cells expected below 5 into one, as the chi-square approximation needs
        small = expected < 5
        obs, exp = counts.flatten()[~small], expected[~small]
        if small.any():
            obs = torch.cat([obs, counts.flatten()[small].sum()[None]])
            exp = torch.cat([exp, expected[small].sum()[None]])
        exp = exp * obs.sum() / exp.sum()
        pvalue = chisquare(obs.numpy(), exp.numpy()).pvalue
        print(name, pvalue)
        assert (pvalue > SIGNIFICANCE) == should_match, (name, pvalue)


def test_prompt_lookup_proposes_the_continuation_of_the_last_match():
    prop = NgramProposer(max_ngram=2)
    prop.vocab_size = 10
    tokens, probs = prop.propose([1, 2, 3, 4, 5, 9, 1, 2], 3, SamplingParams(), None)
    assert tokens == [3, 4, 5]
    assert probs.sum(-1).tolist() == [1.0, 1.0, 1.0]


def test_expected_tokens_per_pass_matches_simulation():
    gen = torch.Generator().manual_seed(0)
    alpha, k = 0.7, 4
    accepted = (torch.rand(100000, k, generator=gen) < alpha).int().cumprod(-1).sum(-1)
    assert abs((accepted + 1).float().mean().item() - expected_tokens_per_pass(alpha, k)) < 0.02
    assert list(itertools.islice([expected_tokens_per_pass(1.0, 3)], 1)) == [4.0]
