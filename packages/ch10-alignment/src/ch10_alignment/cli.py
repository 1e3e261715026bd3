"""``ch10-alignment``: reward-model, dpo, demo."""

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
