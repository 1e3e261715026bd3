"""The labs end to end: judged pairs -> reward model; judged pairs -> DPO -> win rate and KL."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

from ch10_alignment.data import Pair, load_pairs, make_pairs, save_pairs, split_prompts
from ch10_alignment.judge import KeywordJudge, MultiJudge
from llmpath_core import UserError

DEFAULT_TRAIN_PROMPTS = 96


def get_pairs(
    model, tokenizer, data: Path | None, *, seed: int, n_prompts: int = DEFAULT_TRAIN_PROMPTS
) -> list[Pair]:
    """Pairs from ``data`` (JSONL) or judged samples of the model on the train prompts."""
    if data is not None:
        return load_pairs(data)
    train_prompts, _ = split_prompts(seed=0)
    return make_pairs(model, tokenizer, train_prompts[:n_prompts], KeywordJudge(), seed=seed)


def split_pairs(
    pairs: list[Pair], seed: int, heldout: float = 0.2
) -> tuple[list[Pair], list[Pair]]:
    """Shuffle and split into (train, held-out); both must be non-empty."""
    if len(pairs) < 2:
        raise UserError(f"need at least 2 preference pairs, got {len(pairs)}")
    pairs = list(pairs)
    random.Random(seed).shuffle(pairs)
    n_held = max(1, round(len(pairs) * heldout))
    return pairs[n_held:], pairs[:n_held]


def reward_model_lab(model, tokenizer, data: Path | None, out: Path | None, seed: int) -> dict:
    """Train the Bradley-Terry head; write head.pt, pairs.jsonl, metrics.json to ``out``."""
    import torch

    from ch10_alignment.train import train_reward_model
    from llmpath_core import atomic_dir

    pairs = get_pairs(model, tokenizer, data, seed=seed)
    train, held = split_pairs(pairs, seed)
    rm, info = train_reward_model(model, tokenizer, train, held, seed=seed)
    info["source"] = str(data) if data else "default model samples judged by KeywordJudge"
    if out is not None:
        with atomic_dir(out) as d:
            torch.save(rm.head.state_dict(), d / "head.pt")
            save_pairs(pairs, d / "pairs.jsonl")
            (d / "metrics.json").write_text(json.dumps(info, indent=2))
    return info


def dpo_lab(
    model,
    tokenizer,
    data: Path | None,
    out: Path | None,
    *,
    beta: float,
    max_steps: int,
    loss_type: str,
    seed: int,
    n_eval_prompts: int = 32,
) -> dict:
    """DPO from ``model`` (the frozen reference); win rate and KL on held-out prompts."""
    import copy

    from ch10_alignment.train import evaluate_policy, train_dpo
    from llmpath_core import atomic_dir

    if beta <= 0:
        raise UserError("--beta must be positive")
    if max_steps < 1:
        raise UserError("--max-steps must be at least 1")
    pairs = get_pairs(model, tokenizer, data, seed=seed)
    if not pairs:
        raise UserError("no preference pairs (every prompt's samples tied under the judge)")
    reference = copy.deepcopy(model)
    result = train_dpo(
        reference, tokenizer, pairs, beta=beta, loss_type=loss_type, max_steps=max_steps, seed=seed
    )
    _, heldout_prompts = split_prompts(seed=0)
    metrics = evaluate_policy(
        result.policy,
        reference,
        tokenizer,
        heldout_prompts[:n_eval_prompts],
        KeywordJudge(),
        seed=seed + 1234,
    )
    last = result.steps[-min(5, len(result.steps)) :]
    info = {
        **metrics,
        "reward_accuracy": sum(s["reward_accuracy"] for s in last) / len(last),
        "reward_margin": sum(s["reward_margin"] for s in last) / len(last),
        "final_loss": last[-1]["loss"],
        "beta": beta,
        "loss_type": loss_type,
        "steps": max_steps,
        "pairs": len(pairs),
        "source": str(data) if data else "default model samples judged by KeywordJudge",
        "history": result.steps,
    }
    if out is not None:
        with atomic_dir(out) as d:
            result.policy.save_pretrained(d / "policy")
            tokenizer.save_pretrained(d / "policy")
            save_pairs(pairs, d / "pairs.jsonl")
            (d / "metrics.json").write_text(json.dumps(info, indent=2))
    return info


def make_judge(name: str, scorer, tokenizer):
    """``KeywordJudge()`` for "keyword"; ``MultiJudge`` with ``scorer``'s perplexity for "multi".

    ``scorer`` must stay frozen (the starting model / reference).
    """
    if name == "keyword":
        return KeywordJudge()
    if name == "multi":
        return MultiJudge.from_model(scorer, tokenizer)
    raise UserError("--judge must be keyword or multi")


def judge_breakdown(
    policy, reference, tokenizer, prompts: list[str], judge: MultiJudge, seed: int, n: int = 2
) -> dict:
    """Held-out samples of policy and reference (the evaluation's seed) under both judges.

    Per model: mean keyword-judge score, mean multi-judge score, and the mean of each of the
    multi-judge's dimensions (``nll`` is the mean per-token NLL under the starting model).
    """
    from ch10_alignment.data import sample_continuations

    kw = KeywordJudge()
    out = {}
    for name, m in (("policy", policy), ("reference", reference)):
        conts = sample_continuations(
            m, tokenizer, prompts, n=n, max_new_tokens=24, seed=seed + 1234
        )
        flat = [c for o in conts for c in o]
        dims = judge.dimensions_many(flat)
        out[name] = {
            "keyword_score": sum(kw.score(c) for c in flat) / len(flat),
            "multi_score": sum(d["total"] for d in dims) / len(dims),
            **{
                k: sum(d[k] for d in dims) / len(dims)
                for k in ("keywords", "banned", "repetition", "length", "fluency", "nll")
            },
            "example": flat[0],
        }
    return out


def judge_reward(judge):
    """A reward function over (prompts, completions) from a programmatic judge.

    Uses the judge's batched ``score_many`` when it has one (``MultiJudge``'s fluency forward).
    """

    def fn(prompts: list[str], completions: list[str]) -> list[float]:
        if hasattr(judge, "score_many"):
            return judge.score_many(completions)
        return [judge.score(c) for c in completions]

    return fn


def alignment_tax(before, after, tokenizer, max_windows: int = 32) -> dict:
    """Held-out perplexity of the default corpus before and after, paired over the same windows."""
    from llmpath_core import evaluate_lm, paired_difference

    a = evaluate_lm(before, tokenizer, max_windows=max_windows)
    b = evaluate_lm(after, tokenizer, max_windows=max_windows)
    d = paired_difference(a, b)
    return {
        "perplexity_before": a["perplexity"],
        "perplexity_after": b["perplexity"],
        "perplexity_ratio": d["perplexity_ratio"],
        "loss_diff": d["loss_diff"],
        "loss_diff_stderr": d["loss_diff_stderr"],
        "windows": d["windows"],
    }


def rl_lab(
    model,
    tokenizer,
    out: Path | None,
    *,
    algo: str,
    steps: int,
    beta: float,
    lr: float,
    reward: str,
    seed: int,
    judge: str = "keyword",
    group_size: int = 4,
    n_eval_prompts: int = 32,
    tax_windows: int = 32,
) -> dict:
    """GRPO / RLOO / PPO from ``model`` against the judge or a Bradley-Terry reward model.

    With ``reward="rm"`` a reward model is first fitted on judged pairs (as ``reward-model``
    does) and the judge becomes the held-out monitor: the reward-hacking flag fires when the
    reward model's score rises while the judge's falls.
    ``judge="multi"`` uses ``MultiJudge`` (distinct keywords, banned words, repetition, length,
    fluency under the frozen starting model) for the reward and the held-out evaluation; the
    result then also holds the keyword judge's held-out scores and the mean of each dimension.
    """
    import copy

    from ch10_alignment.rl import hacking_flag, train_rl
    from ch10_alignment.train import evaluate_policy, train_reward_model
    from llmpath_core import atomic_dir

    if algo not in ("grpo", "rloo", "ppo"):
        raise UserError("--algo must be grpo, rloo or ppo")
    if reward not in ("judge", "rm"):
        raise UserError("--reward must be judge or rm")
    if judge not in ("keyword", "multi"):
        raise UserError("--judge must be keyword or multi")
    if steps < 1:
        raise UserError("--steps must be at least 1")
    if beta < 0 or lr <= 0:
        raise UserError("--beta must be >= 0 and --lr > 0")
    judge_name = judge
    reference = copy.deepcopy(model)
    judge = make_judge(judge_name, reference, tokenizer)
    train_prompts, heldout_prompts = split_prompts(seed=0)
    reward_fn = judge_reward(judge)
    rm_info = None
    if reward == "rm":
        pairs = get_pairs(model, tokenizer, None, seed=seed)
        tr, he = split_pairs(pairs, seed)
        rm, rm_info = train_reward_model(model, tokenizer, tr, he, seed=seed)

        def reward_fn(prompts, completions):
            return rm.score(prompts, completions).tolist()

    result = train_rl(
        reference,
        tokenizer,
        train_prompts,
        reward_fn,
        algo=algo,
        steps=steps,
        group_size=group_size,
        beta=beta,
        lr=lr,
        seed=seed,
        judge_fn=judge_reward(judge) if reward == "rm" else None,
    )
    metrics = evaluate_policy(
        result.policy,
        reference,
        tokenizer,
        heldout_prompts[:n_eval_prompts],
        judge,
        seed=seed + 1234,
    )
    last = result.steps[-min(5, len(result.steps)) :]
    info = {
        **metrics,
        "algo": algo,
        "reward": reward,
        "judge": judge_name,
        "steps": steps,
        "beta": beta,
        "lr": lr,
        "train_reward_first": result.steps[0]["reward"],
        "train_reward_last5": sum(s["reward"] for s in last) / len(last),
        "entropy_last5": sum(s["entropy"] for s in last) / len(last),
        "hacking": hacking_flag(result.steps),
        "alignment_tax": alignment_tax(reference, result.policy, tokenizer, tax_windows),
        "reward_model": rm_info,
        "history": result.steps,
    }
    if judge_name == "multi":
        info["judges"] = judge_breakdown(
            result.policy, reference, tokenizer, heldout_prompts[:n_eval_prompts], judge, seed
        )
    if out is not None:
        with atomic_dir(out) as d:
            result.policy.save_pretrained(d / "policy")
            tokenizer.save_pretrained(d / "policy")
            (d / "metrics.json").write_text(json.dumps(info, indent=2))
    return info


def best_of_n_point(reference, tokenizer, prompts: list[str], judge: KeywordJudge, n: int, seed):
    """Best-of-``n`` by the judge from the reference: mean judge score and its analytic KL bound.

    KL(best-of-n || pi_ref) <= log n - (n - 1) / n (Stiennon et al. 2020, Beirami et al. 2024).
    """
    from ch10_alignment.data import sample_continuations

    samples = sample_continuations(reference, tokenizer, prompts, n=n, max_new_tokens=24, seed=seed)
    best = [max(judge.score(c) for c in conts) for conts in samples]
    mean = sum(best) / len(best)
    var = sum((b - mean) ** 2 for b in best) / max(len(best) - 1, 1)
    return {
        "method": "best-of-n",
        "strength": n,
        "kl": math.log(n) - (n - 1) / n,
        "kl_stderr": 0.0,
        "judge_score": mean,
        "judge_score_stderr": math.sqrt(var / len(best)),
    }


def frontier_lab(
    model,
    tokenizer,
    out: Path | None,
    *,
    checkpoints: list[int],
    rl_algo: str,
    best_of: list[int],
    seed: int,
    n_eval_prompts: int = 24,
    beta: float = 0.1,
    rl_beta: float = 0.05,
) -> dict:
    """Judge score vs KL(pi || pi_ref) on held-out prompts for DPO, an RL algorithm, best-of-n.

    One DPO run and one RL run, each evaluated at ``checkpoints`` (steps), so a curve is one
    training trajectory; best-of-n at each ``n``. Points carry standard errors over samples. The
    final checkpoints' alignment tax (held-out perplexity ratio) is reported too.
    """
    import copy

    from ch10_alignment.rl import train_rl
    from ch10_alignment.train import evaluate_policy, train_dpo
    from llmpath_core import atomic_dir, line_plot

    if not checkpoints or min(checkpoints) < 1:
        raise UserError("--checkpoints must be positive step counts")
    judge = KeywordJudge()
    _, heldout = split_prompts(seed=0)
    heldout = heldout[:n_eval_prompts]
    reference = copy.deepcopy(model)
    points: list[dict] = []

    def recorder(method: str):
        def on_step(step: int, policy) -> None:
            if step in checkpoints:
                m = evaluate_policy(policy, reference, tokenizer, heldout, judge, seed=seed + 99)
                points.append(
                    {
                        "method": method,
                        "strength": step,
                        "kl": m["kl"],
                        "kl_stderr": m["kl_stderr"],
                        "judge_score": m["judge_score_policy"],
                        "judge_score_stderr": m["judge_score_stderr"],
                        "win_rate": m["win_rate"],
                    }
                )

        return on_step

    base = evaluate_policy(reference, reference, tokenizer, heldout, judge, seed=seed + 99)
    start = {
        "method": "start",
        "strength": 0,
        "kl": 0.0,
        "kl_stderr": 0.0,
        "judge_score": base["judge_score_reference"],
        "judge_score_stderr": base["judge_score_stderr"],
    }
    pairs = get_pairs(model, tokenizer, None, seed=seed)
    dpo = train_dpo(
        reference,
        tokenizer,
        pairs,
        beta=beta,
        max_steps=max(checkpoints),
        seed=seed,
        on_step=recorder("dpo"),
    )
    train_prompts, _ = split_prompts(seed=0)
    rl = train_rl(
        reference,
        tokenizer,
        train_prompts,
        judge_reward(judge),
        algo=rl_algo,
        steps=max(checkpoints),
        beta=rl_beta,
        seed=seed,
        on_step=recorder(rl_algo),
    )
    for n in best_of:
        points.append(best_of_n_point(reference, tokenizer, heldout, judge, n, seed + 99))
    series = {}
    for method in ("dpo", rl_algo, "best-of-n"):
        pts = [start, *sorted((p for p in points if p["method"] == method), key=lambda p: p["kl"])]
        series[method] = ([p["kl"] for p in pts], [p["judge_score"] for p in pts])
    info = {
        "start": start,
        "points": points,
        "alignment_tax": {
            "dpo": alignment_tax(reference, dpo.policy, tokenizer),
            rl_algo: alignment_tax(reference, rl.policy, tokenizer),
        },
        "eval_prompts": len(heldout),
        "dpo_beta": beta,
        "rl_algo": rl_algo,
        "rl_beta": rl_beta,
    }
    if out is not None:
        with atomic_dir(out) as d:
            line_plot(
                d / "frontier.png",
                series,
                title="judge score vs KL to the starting model (held-out prompts)",
                xlabel="KL(pi || pi_ref), nats per completion",
                ylabel="mean judge score",
            )
            (d / "frontier.json").write_text(json.dumps(info, indent=2))
    return info


def constitutional_lab(
    model,
    tokenizer,
    out: Path | None,
    *,
    rounds: int,
    beta: float,
    max_steps: int,
    lr: float,
    seed: int,
    n_prompts: int = DEFAULT_TRAIN_PROMPTS,
    n_eval_prompts: int = 32,
) -> dict:
    """Constitutional AI: critique and revise the model's samples, DPO on (revision, original).

    The start is the frozen reference, the fluency scorer of ``MultiJudge`` and the critic's
    model. Win rate (with its standard error) and KL on held-out prompts by ``MultiJudge``, the
    keyword judge's win rate on the same samples, and each principle's adherence before / after.
    """
    import copy

    from ch10_alignment.constitution import CONSTITUTION, adherence, constitutional_pairs
    from ch10_alignment.data import sample_continuations
    from ch10_alignment.train import evaluate_policy, train_dpo
    from llmpath_core import atomic_dir

    if rounds < 1:
        raise UserError("--rounds must be at least 1")
    if beta <= 0 or lr <= 0:
        raise UserError("--beta and --lr must be positive")
    if max_steps < 1:
        raise UserError("--max-steps must be at least 1")
    reference = copy.deepcopy(model)
    reference.eval()
    judge = MultiJudge.from_model(reference, tokenizer)
    train_prompts, heldout = split_prompts(seed=0)
    cai = constitutional_pairs(
        reference, tokenizer, train_prompts[:n_prompts], judge, rounds=rounds, seed=seed
    )
    if not cai.pairs:
        raise UserError("no revision improved on its original: no preference pairs")
    result = train_dpo(
        reference, tokenizer, cai.pairs, beta=beta, max_steps=max_steps, lr=lr, seed=seed
    )
    held = heldout[:n_eval_prompts]
    metrics = evaluate_policy(result.policy, reference, tokenizer, held, judge, seed=seed + 1234)
    kw = evaluate_policy(
        result.policy, reference, tokenizer, held, KeywordJudge(), seed=seed + 1234
    )
    samples = {
        name: [
            c
            for o in sample_continuations(
                m, tokenizer, held, n=2, max_new_tokens=24, seed=seed + 1234
            )
            for c in o
        ]
        for name, m in (("start", reference), ("cai_dpo", result.policy))
    }
    last = result.steps[-min(5, len(result.steps)) :]
    info = {
        **metrics,
        "judge": "multi",
        "keyword_win_rate": kw["win_rate"],
        "keyword_win_rate_stderr": kw["win_rate_stderr"],
        "constitution": [{"name": p.name, "text": p.text} for p in CONSTITUTION],
        "adherence_before": adherence(samples["start"], judge),
        "adherence_after": adherence(samples["cai_dpo"], judge),
        "train_prompts": n_prompts,
        "pairs": len(cai.pairs),
        "originals_violating": sum(
            c != "The response follows every principle." for c in cai.critiques
        ),
        "revision_adherence": adherence(
            [r or o for r, o in zip(cai.revisions, cai.originals, strict=True)], judge
        ),
        "original_adherence": adherence(cai.originals, judge),
        "example": {
            "prompt": cai.pairs[0].prompt,
            "original": cai.pairs[0].rejected,
            "critique": cai.critiques[cai.originals.index(cai.pairs[0].rejected)],
            "revision": cai.pairs[0].chosen,
        },
        "rounds": rounds,
        "beta": beta,
        "lr": lr,
        "steps": max_steps,
        "reward_accuracy": sum(s["reward_accuracy"] for s in last) / len(last),
        "reward_margin": sum(s["reward_margin"] for s in last) / len(last),
        "history": result.steps,
    }
    if out is not None:
        with atomic_dir(out) as d:
            result.policy.save_pretrained(d / "policy")
            tokenizer.save_pretrained(d / "policy")
            save_pairs(cai.pairs, d / "pairs.jsonl")
            (d / "metrics.json").write_text(json.dumps(info, indent=2))
    return info
