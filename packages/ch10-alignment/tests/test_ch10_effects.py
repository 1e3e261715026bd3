"""Effects on the default model: the reward model ranks held-out pairs, DPO beats its start."""

from __future__ import annotations

import pytest

from ch10_alignment.data import make_pairs, split_prompts
from ch10_alignment.judge import KeywordJudge
from ch10_alignment.labs import split_pairs


@pytest.fixture(scope="module")
def setup():
    import torch

    from llmpath_core import load_default_model

    torch.manual_seed(0)
    model, tok = load_default_model()
    train_prompts, held_prompts = split_prompts(seed=0)
    pairs = make_pairs(model, tok, train_prompts[:40], KeywordJudge(), n=4, seed=0)
    return model, tok, pairs, held_prompts


def test_pairs_are_judged(setup):
    _, _, pairs, _ = setup
    j = KeywordJudge()
    assert len(pairs) >= 20
    assert all(j.score(p.chosen) > j.score(p.rejected) for p in pairs)


def test_reward_model_heldout_accuracy_well_above_chance(setup):
    from ch10_alignment.train import train_reward_model

    model, tok, pairs, _ = setup
    train, held = split_pairs(pairs, seed=0, heldout=0.3)
    rm, info = train_reward_model(model, tok, train, held, epochs=200)
    assert info["heldout_accuracy"] >= 0.75, info
    # the head scores raw features after folding in the standardisation
    good = rm.score(["x"], ["She smiled and hugged her friend, happy."]).item()
    assert good == pytest.approx(
        rm.head(rm.features(["x"], ["She smiled and hugged her friend, happy."])).item(), abs=1e-5
    )


def test_dpo_beats_the_starting_model_with_kl(setup):
    import copy

    from ch10_alignment.train import evaluate_policy, train_dpo

    model, tok, pairs, held = setup
    reference = copy.deepcopy(model)
    result = train_dpo(reference, tok, pairs, beta=0.1, max_steps=12, lr=5e-4, seed=0)
    assert result.steps[0]["loss"] == pytest.approx(
        0.6931, abs=1e-3
    )  # policy == reference at step 1
    assert result.steps[-1]["reward_margin"] > 0
    metrics = evaluate_policy(result.policy, reference, tok, held[:24], KeywordJudge(), n=2)
    assert metrics["win_rate"] > 0.5, metrics
    assert metrics["judge_score_policy"] > metrics["judge_score_reference"], metrics
    assert metrics["kl"] > 0, metrics
    assert all(not p.requires_grad for p in reference.parameters())


def test_cli_contract_in_process(setup, tmp_path):
    """``dpo`` and ``reward-model`` with ``--data``: the contract's JSON keys and --out folders."""
    from ch10_alignment.cli import app
    from ch10_alignment.data import save_pairs
    from llmpath_core.bench import run_json

    _, _, pairs, _ = setup
    data = tmp_path / "pairs.jsonl"
    save_pairs(pairs, data)
    rm, _ = run_json(app, ["reward-model", "--data", str(data), "--out", str(tmp_path / "rm")])
    assert 0.0 <= rm["heldout_accuracy"] <= 1.0 and rm["train_pairs"] + rm["heldout_pairs"] == len(
        pairs
    )
    assert (tmp_path / "rm" / "head.pt").is_file()
    out = tmp_path / "dpo"
    d, _ = run_json(app, ["dpo", "--data", str(data), "--max-steps", "2", "--out", str(out)])
    for key in ("win_rate", "kl", "reward_accuracy"):
        assert isinstance(d[key], float)
    assert d["steps"] == 2 and len(d["history"]) == 2
    assert (out / "policy" / "config.json").is_file() and (out / "metrics.json").is_file()


@pytest.mark.parametrize(("loss_type", "first"), [("hinge", 1.0), ("ipo", 25.0)])
def test_ipo_and_slic_trainers_start_at_their_zero_margin_loss(setup, loss_type, first):
    """At step 1 policy == reference, so delta = 0: hinge loss 1, IPO loss (1/(2 beta))^2 = 25."""
    from ch10_alignment.train import train_dpo

    model, tok, pairs, _ = setup
    result = train_dpo(model, tok, pairs, beta=0.1, loss_type=loss_type, max_steps=2, seed=0)
    assert result.steps[0]["loss"] == pytest.approx(first, rel=1e-4)
    assert result.steps[1]["loss"] < first


def test_multi_judge_fluency_under_the_default_model(setup):
    """A word salad of distinct target words (no repetition) loses on fluency; the model's own
    samples pay (almost) nothing. The keyword judge prefers the salad to every sample."""
    from ch10_alignment.judge import MultiJudge

    model, tok, pairs, _ = setup
    multi = MultiJudge.from_model(model, tok)
    salad = " happy smile love kind friend fun glad hug best good nice great together"
    samples = [p.rejected for p in pairs[:20]]
    d = multi.dimensions(salad)
    assert d["repetition"] == 0 and d["keywords"] == 2
    assert d["nll"] > 8 and d["fluency"] < -3, d
    dims = multi.dimensions_many(samples)
    assert sum(x["fluency"] for x in dims) / len(dims) > -0.1, dims
    assert sum(x["nll"] for x in dims) / len(dims) < 3, dims
    kw = KeywordJudge()
    assert all(kw.prefer(salad, s) == 1.0 for s in samples)
    assert sum(multi.prefer(s, salad) for s in samples) == len(samples)
    assert multi.dimensions_many([salad])[0] == d  # cached: same numbers, no second forward


def test_constitutional_revisions_follow_the_principles_better(setup):
    """Critique -> revision on 24 train prompts: every pair's revision breaks fewer principles
    and scores higher than its original, and adherence to all principles goes up."""
    from ch10_alignment.constitution import adherence, constitutional_pairs, critique
    from ch10_alignment.judge import MultiJudge

    model, tok, _, _ = setup
    judge = MultiJudge.from_model(model, tok)
    train, _ = split_prompts(seed=0)
    r = constitutional_pairs(model, tok, train[:24], judge, rounds=2, seed=0)
    assert len(r.pairs) >= 4, r.critiques
    for p in r.pairs:
        assert len(critique(p.chosen, judge)) < len(critique(p.rejected, judge))
        assert judge.score(p.chosen) > judge.score(p.rejected)
    before = adherence(r.originals, judge)["all"]
    after = adherence([v or o for v, o in zip(r.revisions, r.originals, strict=True)], judge)["all"]
    assert after > before + 0.2, (before, after)
