"""`train()` computes exactly what a plain, few-line training loop computes: bit for bit.

The reference below is the textbook loop with nothing factored out (seed, build, AdamW with decay
on matrices, warm-up + cosine, micro-batches, clip, step). `train()` spreads the same work over
`distributed`, `precision` and `checkpoint`, and adds evaluation, sampling, checkpoints and
logging, none of which may change a weight: the final weights must be *equal*, not close. This is
the guard that a refactor of the loop leaves training results unchanged.
"""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file

from ch07_pretraining import TokenData, train
from ch07_pretraining.model import build_model, llama_config, lr_for_depth
from llmpath_core import seed_everything


def reference_loop(config) -> dict[str, torch.Tensor]:
    """The same training, written out in one piece with no checkpoints, eval or logging."""
    data = TokenData.open(config.data)
    tokenizer = data.tokenizer()
    seed_everything(config.seed)
    model = build_model(
        llama_config(config.depth, data.vocab_size, config.seq_len, tokenizer.eos_token_id)
    )
    params = list({id(p): p for p in model.parameters()}.values())
    lr = config.lr if config.lr is not None else lr_for_depth(config.depth)
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=lr,
        betas=(0.9, 0.95),
        eps=1e-8,
    )

    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        span = max(1, config.max_steps - config.warmup_steps)
        progress = min(1.0, (step - config.warmup_steps) / span)
        floor = config.min_lr_ratio
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    micro = config.batch_size // config.grad_accum
    model.train()
    for step in range(config.max_steps):
        inputs, targets = data.batch(step, config.batch_size, config.seq_len, config.seed)
        for k in range(config.grad_accum):
            x, y = inputs[k * micro : (k + 1) * micro], targets[k * micro : (k + 1) * micro]
            logits = model(input_ids=x).logits
            loss = torch.nn.functional.cross_entropy(
                logits.float().reshape(-1, logits.size(-1)), y.reshape(-1)
            )
            (loss / config.grad_accum).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same_weights(run_dir, expected: dict[str, torch.Tensor]) -> None:
    saved = load_file(run_dir / "model.safetensors")
    for name, tensor in saved.items():
        assert torch.equal(tensor, expected[name]), f"{name} differs from the reference loop"
    # the tied output projection is not stored twice; everything else must be there
    assert set(expected) - set(saved) <= {"lm_head.weight"}


@pytest.mark.parametrize("grad_accum", [1, 2])
def test_train_equals_the_plain_loop(tiny_config, tmp_path, grad_accum):
    # eval, samples and checkpoints on: they must leave the weights and the RNG stream alone
    config = tiny_config(max_steps=8, eval_every=3, checkpoint_every=4, grad_accum=grad_accum)
    train(config, tmp_path / "run")
    _assert_same_weights(tmp_path / "run", reference_loop(config))


def test_stop_and_resume_equals_the_plain_loop(tiny_config, tmp_path):
    config = tiny_config(max_steps=8, eval_every=3, checkpoint_every=2)
    train(config, tmp_path / "run", stop_at=5)  # stops after the checkpoint at step 4
    train(config, tmp_path / "run", resume=True)
    _assert_same_weights(tmp_path / "run", reference_loop(config))
