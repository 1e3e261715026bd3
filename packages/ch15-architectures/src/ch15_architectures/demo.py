"""The chapter in about two minutes: dense vs MoE vs Mamba on the stories, then scaling."""

from __future__ import annotations

from typing import Any

import torch

MODELS = {
    "dense (attention + MLP)": ["attn", "attn"],
    "MoE (attention + 4 experts, top-2)": ["moe", "moe"],
    "Mamba (selective SSM)": ["ssm", "ssm"],
}


def run_demo(
    steps: int = 80,
    seed: int = 0,
    lengths: list[int] | None = None,
    batch: int = 16,
    eval_chars: int = 20_000,
    log=print,
) -> dict[str, Any]:
    """Train each model ``steps`` steps on the same batches; held-out loss, tokens/s, and
    forward time of a Mamba block vs full attention at growing lengths."""
    from ch15_architectures.scaling import time_vs_length
    from ch15_architectures.stack import StackConfig, StackLM, active_parameters
    from ch15_architectures.train import held_out, story_tokens, train_lm
    from llmpath_core import UserError

    if steps < 1:
        raise UserError("steps must be at least 1")
    tokens = story_tokens()
    rows = []
    for name, layers in MODELS.items():
        log(f"training {name} for {steps} steps")
        torch.manual_seed(seed)
        model = StackLM(StackConfig(layers=layers))
        trained = train_lm(model, tokens, steps=steps, batch=batch, seq_len=64, seed=seed)
        evaluation = held_out(model, seq_len=64, max_chars=eval_chars)
        rows.append(
            {
                "model": name,
                "active_params": active_parameters(model),
                "held_out_loss": evaluation["loss"],
                "loss_stderr": evaluation["loss_stderr"],
                "tokens_per_s": trained.tokens_per_s,
            }
        )
    log("timing a Mamba block and full attention at growing lengths")
    scaling = time_vs_length(lengths or [256, 512, 1024, 2048, 4096], repeats=1, seed=seed)
    best = min(rows, key=lambda r: r["held_out_loss"])
    last = scaling["lengths"][-1]
    ratio = scaling["attention_s"][-1] / scaling["mamba_s"][-1]
    return {
        "showed": (
            f"dense, MoE and Mamba language models trained {steps} steps on the bundled stories, "
            "then forward time of Mamba vs full attention as the sequence grows"
        ),
        "headline": (
            f"after {steps} steps {best['model']} has the lowest held-out loss "
            f"({best['held_out_loss']:.3f} nats/token); at {last} tokens full attention takes "
            f"{ratio:.1f}x the time of a Mamba block (time exponents "
            f"{scaling['attention_exponent']:.2f} vs {scaling['mamba_exponent']:.2f})"
        ),
        "models": rows,
        "scaling": scaling,
    }
