"""``ch10-alignment``: reward-model, dpo, rl, frontier, trl-compare, constitutional, demo."""

from __future__ import annotations

from pathlib import Path

import typer

from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch10-alignment",
    "Alignment: DPO, IPO, KTO, ORPO and SLiC losses held to trl, a Bradley-Terry reward model, "
    "DPO on the default model with a programmatic judge.",
)

DATA_HELP = "JSONL of {prompt, chosen, rejected} (default: the default model's samples, judged)"


def _load(model: str | None, device):
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    if model is None:
        from llmpath_core import load_default_model

        return load_default_model(device)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmpath_core import UserError

    if not Path(model).is_dir():
        raise UserError(f"model folder not found: {model}")
    return AutoModelForCausalLM.from_pretrained(model).to(device), AutoTokenizer.from_pretrained(
        model
    )


def _check_data(data: Path | None) -> None:
    """Reject a bad pairs file before loading any model (fast, one clear line, exit 2)."""
    if data is not None:
        from ch10_alignment.data import load_pairs

        load_pairs(data)


@command(app, "reward-model")
def reward_model(
    run: Run,
    data: Path = typer.Option(None, "--data", help=DATA_HELP),
    model: str = typer.Option(None, "--model", help="HF causal LM folder (default: llmpath's)"),
) -> dict:
    """Train a Bradley-Terry reward head on the default model; report held-out pairwise accuracy."""
    from ch10_alignment.labs import reward_model_lab

    _check_data(data)
    m, tok = _load(model, run.device)
    info = reward_model_lab(m, tok, data, run.out, run.seed)
    run.table(
        [
            {
                k: info[k]
                for k in ("train_pairs", "heldout_pairs", "train_accuracy", "heldout_accuracy")
            }
        ],
        title="Bradley-Terry reward model",
    )
    return info


@command(app, "dpo")
def dpo(
    run: Run,
    data: Path = typer.Option(None, "--data", help=DATA_HELP),
    beta: float = typer.Option(0.1, "--beta", help="DPO temperature (IPO's tau)"),
    max_steps: int = typer.Option(20, "--max-steps", help="optimizer steps (batch of 8 pairs)"),
    loss: str = typer.Option("sigmoid", "--loss", help="sigmoid (DPO), ipo or hinge (SLiC)"),
    model: str = typer.Option(None, "--model", help="HF causal LM folder (default: llmpath's)"),
) -> dict:
    """DPO with a frozen reference; win rate vs the starting model (built-in judge) and KL to it."""
    from ch10_alignment.labs import dpo_lab
    from llmpath_core import UserError

    if loss not in ("sigmoid", "ipo", "hinge"):
        raise UserError("--loss must be sigmoid, ipo or hinge")
    _check_data(data)
    m, tok = _load(model, run.device)
    info = dpo_lab(
        m, tok, data, run.out, beta=beta, max_steps=max_steps, loss_type=loss, seed=run.seed
    )
    run.table(
        [{k: f"{info[k]:.3f}" for k in ("win_rate", "kl", "reward_accuracy", "reward_margin")}],
        title=f"DPO ({loss}, beta={beta}, {max_steps} steps) vs the starting model",
    )
    return info


@command(app, "rl")
def rl(
    run: Run,
    algo: str = typer.Option("grpo", "--algo", help="grpo, rloo or ppo"),
    steps: int = typer.Option(20, "--steps", help="rollout + update steps (8 prompts x 4 samples)"),
    beta: float = typer.Option(
        0.04, "--beta", help="KL weight (GRPO), KL penalty (RLOO), initial KL coefficient (PPO)"
    ),
    lr: float = typer.Option(1e-4, "--lr", help="AdamW learning rate"),
    reward: str = typer.Option(
        "judge", "--reward", help="judge (the programmatic judge) or rm (a Bradley-Terry head)"
    ),
    judge: str = typer.Option(
        "keyword",
        "--judge",
        help="keyword (target words) or multi (keywords + repetition + length + fluency)",
    ),
    model: str = typer.Option(None, "--model", help="HF causal LM folder (default: llmpath's)"),
) -> dict:
    """GRPO, RLOO or PPO (GAE, adaptive KL) against the judge or a reward model; win rate, KL."""
    from ch10_alignment.labs import rl_lab
    from llmpath_core import UserError

    # the same checks as rl_lab, before the model loads (fast exit 2)
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
    m, tok = _load(model, run.device)
    info = rl_lab(
        m,
        tok,
        run.out,
        algo=algo,
        steps=steps,
        beta=beta,
        lr=lr,
        reward=reward,
        seed=run.seed,
        judge=judge,
    )
    run.table(
        [
            {
                "algo": algo,
                "win_rate": f"{info['win_rate']:.3f}",
                "kl": f"{info['kl']:.2f}",
                "train_reward": f"{info['train_reward_first']:.2f} -> "
                f"{info['train_reward_last5']:.2f}",
                "ppl_ratio": f"{info['alignment_tax']['perplexity_ratio']:.3f}",
                "hacking": str(info["hacking"]["flag"]),
            }
        ],
        title=f"{algo} ({steps} steps, reward={reward}, judge={judge}) vs the starting model",
    )
    return info


@command(app, "frontier")
def frontier(
    run: Run,
    checkpoints: str = typer.Option("3,6,12", "--checkpoints", help="steps to evaluate at"),
    rl_algo: str = typer.Option("grpo", "--rl-algo", help="grpo, rloo or ppo"),
    best_of: str = typer.Option("2,4,8", "--best-of", help="n for best-of-n"),
) -> dict:
    """Judge score vs KL to the start for DPO, RL and best-of-n, plotted; the alignment tax."""
    from ch10_alignment.labs import frontier_lab
    from llmpath_core import UserError

    try:
        cps = [int(x) for x in checkpoints.split(",") if x.strip()]
        ns = [int(x) for x in best_of.split(",") if x.strip()]
    except ValueError:
        raise UserError("--checkpoints and --best-of are comma-separated integers") from None
    if rl_algo not in ("grpo", "rloo", "ppo"):
        raise UserError("--rl-algo must be grpo, rloo or ppo")
    if not ns or min(ns) < 1:
        raise UserError("--best-of must be positive integers")
    m, tok = _load(None, run.device)
    info = frontier_lab(
        m, tok, run.out, checkpoints=cps, rl_algo=rl_algo, best_of=ns, seed=run.seed
    )
    rows = [info["start"], *info["points"]]
    run.table(
        [
            {
                "method": p["method"],
                "strength": p["strength"],
                "kl": f"{p['kl']:.2f}",
                "judge_score": f"{p['judge_score']:.2f} +- {p['judge_score_stderr']:.2f}",
            }
            for p in rows
        ],
        title="judge score vs KL(pi || pi_ref) (strength: steps, or n for best-of-n)",
    )
    return info


@command(app, "trl-compare")
def trl_compare(
    run: Run,
    algo: str = typer.Option("dpo", "--algo", help="dpo, grpo or rloo"),
    steps: int = typer.Option(3, "--steps"),
) -> dict:
    """Our trainer beside trl's on the default model: same start, data, hyperparameters."""
    from ch10_alignment.anchors import dpo_vs_trl, grpo_vs_trl
    from ch10_alignment.data import Pair
    from ch10_alignment.judge import KeywordJudge
    from llmpath_core import UserError

    if algo not in ("dpo", "grpo", "rloo"):
        raise UserError("--algo must be dpo, grpo or rloo")
    if steps < 1:
        raise UserError("--steps must be at least 1")
    m, tok = _load(None, run.device)
    pairs = [
        Pair("Once upon a time there was a", " happy dog who smiled.", " sad cat who cried."),
        Pair("Tom went to the park", " with his friend and had fun.", " alone and was sad."),
        Pair("Lily had a red ball", " and she loved it.", " but it broke."),
    ]
    if algo == "dpo":
        info = dpo_vs_trl(m, tok, pairs, steps=steps, seed=run.seed)
    else:
        info = grpo_vs_trl(
            m,
            tok,
            [p.prompt for p in pairs[:2]],
            KeywordJudge().score,
            algo=algo,
            steps=steps,
            seed=run.seed,
        )
    run.table(
        [
            {"step": i + 1, "ours_loss": f"{a:.6f}", "trl_loss": f"{b:.6f}"}
            for i, (a, b) in enumerate(zip(info["ours_loss"], info["trl_loss"], strict=False))
        ],
        title=f"{algo}: ours vs trl, step by step",
    )
    return info


@command(app, "constitutional")
def constitutional(
    run: Run,
    rounds: int = typer.Option(2, "--rounds", help="critique -> revision rounds"),
    beta: float = typer.Option(0.1, "--beta", help="DPO temperature"),
    max_steps: int = typer.Option(6, "--max-steps", help="DPO steps (batch of 8 pairs)"),
    lr: float = typer.Option(1e-4, "--lr", help="AdamW learning rate"),
    model: str = typer.Option(None, "--model", help="HF causal LM folder (default: llmpath's)"),
) -> dict:
    """Constitutional AI: critique and revise samples by written principles, then DPO on them."""
    from ch10_alignment.labs import constitutional_lab
    from llmpath_core import UserError

    if rounds < 1:
        raise UserError("--rounds must be at least 1")
    if beta <= 0 or lr <= 0:
        raise UserError("--beta and --lr must be positive")
    if max_steps < 1:
        raise UserError("--max-steps must be at least 1")
    m, tok = _load(model, run.device)
    info = constitutional_lab(
        m, tok, run.out, rounds=rounds, beta=beta, max_steps=max_steps, lr=lr, seed=run.seed
    )
    run.table(
        [
            {
                "win_rate": f"{info['win_rate']:.3f} +- {info['win_rate_stderr']:.3f}",
                "kl": f"{info['kl']:.2f}",
                "adherence": f"{info['adherence_before']['all']:.2f} -> "
                f"{info['adherence_after']['all']:.2f}",
                "pairs": info["pairs"],
            }
        ],
        title="CAI-DPO vs the starting model (multi-dimension judge; adherence to all principles)",
    )
    return info


@command(app, "demo")
def demo(run: Run, max_steps: int = typer.Option(20, "--max-steps")) -> dict:
    """Reward model + DPO on the default model's judged samples: the win-rate / KL table."""
    from ch10_alignment.labs import dpo_lab, reward_model_lab
    from llmpath_core import load_default_model

    m, tok = _load(None, run.device)
    rm = reward_model_lab(m, tok, None, None, run.seed)
    m, tok = load_default_model(run.device)
    d = dpo_lab(
        m, tok, None, None, beta=0.1, max_steps=max_steps, loss_type="sigmoid", seed=run.seed
    )
    run.table(
        [
            {"model": "starting (reference)", "win_rate": "0.500", "kl": "0.000"},
            {
                "model": f"DPO beta=0.1, {max_steps} steps",
                "win_rate": f"{d['win_rate']:.3f}",
                "kl": f"{d['kl']:.2f}",
            },
        ],
        title="win rate by the keyword judge; reward model held-out accuracy "
        f"{rm['heldout_accuracy']:.3f}",
    )
    return {
        "showed": "a Bradley-Terry reward model and DPO trained on the default model's samples "
        "judged by a keyword judge, with win rate and KL against the starting model",
        "headline": f"DPO wins {d['win_rate']:.0%} of held-out comparisons against the starting "
        f"model at KL {d['kl']:.1f} nats; the reward model ranks "
        f"{rm['heldout_accuracy']:.0%} of held-out pairs correctly",
        "reward_model": rm,
        "dpo": {k: v for k, v in d.items() if k != "history"},
    }


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
