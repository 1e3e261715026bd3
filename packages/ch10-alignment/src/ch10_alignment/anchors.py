"""Our trainers side by side with trl's on CPU: same model, same data, same hyperparameters.

``dpo_vs_trl`` runs trl's ``DPOTrainer`` and our ``train_dpo`` for N full-batch steps (AdamW,
constant learning rate, no clipping, no weight decay) and returns both loss / reward-margin
curves and step times. ``grpo_vs_trl`` runs trl's ``GRPOTrainer`` (or ``RLOOTrainer``) with a
reward function that records each generation batch, then replays the same prompts, completions
and rewards through our GRPO / RLOO math from the same starting weights and returns both loss
curves: trl samples, both sides optimise.
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Callable

import torch

from ch10_alignment.data import Pair


def _common_args(out: str, *, steps: int, lr: float, batch: int, seed: int, optimizer: str) -> dict:
    return {
        "optim": {"adamw": "adamw_torch", "sgd": "sgd"}[optimizer],
        "output_dir": out,
        "per_device_train_batch_size": batch,
        "max_steps": steps,
        "learning_rate": lr,
        "lr_scheduler_type": "constant",
        "warmup_steps": 0,
        "max_grad_norm": 1e9,
        "weight_decay": 0.0,
        "logging_steps": 1,
        "report_to": [],
        "use_cpu": True,
        "save_strategy": "no",
        "seed": seed,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "bf16": False,
        "fp16": False,
    }


class _Timer:
    """A trainer callback that records each optimizer step's wall time."""

    def __init__(self):
        from transformers import TrainerCallback

        timer = self

        class CB(TrainerCallback):
            def on_step_begin(self, *a, **k):
                timer.t0 = time.perf_counter()

            def on_step_end(self, *a, **k):
                timer.times.append(time.perf_counter() - timer.t0)

        self.times: list[float] = []
        self.t0 = 0.0
        self.callback = CB()


def dpo_vs_trl(
    model,
    tokenizer,
    pairs: list[Pair],
    *,
    steps: int = 3,
    beta: float = 0.1,
    lr: float = 1e-4,
    loss_type: str = "sigmoid",
    seed: int = 0,
    optimizer: str = "adamw",
) -> dict:
    """trl's ``DPOTrainer`` and our ``train_dpo`` from the same weights on the same pairs.

    Every step sees all ``pairs`` (one full batch), so the data order cannot differ. trl appends
    the EOS token to chosen and rejected; ours is given the same texts. ``tokens_match`` says
    whether both tokenised every prompt / completion identically (a precondition of the test).
    """
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from ch10_alignment.train import _batch, train_dpo

    eos = tokenizer.eos_token
    pairs = [Pair(p.prompt, p.chosen + eos, p.rejected + eos) for p in pairs]
    with tempfile.TemporaryDirectory() as out:
        cfg = DPOConfig(
            **_common_args(
                out, steps=steps, lr=lr, batch=len(pairs), seed=seed, optimizer=optimizer
            ),
            beta=beta,
            loss_type=[loss_type],
        )
        timer = _Timer()
        trainer = DPOTrainer(
            model=copy.deepcopy(model),
            ref_model=copy.deepcopy(model),
            args=cfg,
            train_dataset=Dataset.from_list([vars(p) for p in pairs]),
            processing_class=tokenizer,
            callbacks=[timer.callback],
        )
        trl_rows = trainer.train_dataset
        tokens_match = True
        for row in trl_rows:
            ids, _, comp = _batch(tokenizer, [row["prompt"]], [row["chosen"]], "cpu")
            tokens_match &= ids[0].tolist() == row["prompt_ids"] + row["chosen_ids"]
            tokens_match &= int(comp.sum()) == len(row["chosen_ids"])
        trainer.train()
        logs = [h for h in trainer.state.log_history if "loss" in h and "rewards/margins" in h]
    ours = train_dpo(
        copy.deepcopy(model),
        tokenizer,
        pairs,
        beta=beta,
        loss_type=loss_type,
        max_steps=steps,
        batch_size=len(pairs),
        lr=lr,
        seed=seed,
        optimizer=optimizer,
    )
    return {
        "optimizer": optimizer,
        "steps": steps,
        "pairs": len(pairs),
        "beta": beta,
        "lr": lr,
        "loss_type": loss_type,
        "tokens_match": bool(tokens_match),
        "ours_loss": [s["loss"] for s in ours.steps],
        "trl_loss": [float(h["loss"]) for h in logs],
        "ours_margin": [s["reward_margin"] for s in ours.steps],
        "trl_margin": [float(h["rewards/margins"]) for h in logs],
        "ours_accuracy": [s["reward_accuracy"] for s in ours.steps],
        "trl_accuracy": [float(h["rewards/accuracies"]) for h in logs],
        "ours_step_seconds": [s["seconds"] for s in ours.steps],
        "trl_step_seconds": timer.times,
    }


def grpo_vs_trl(
    model,
    tokenizer,
    prompts: list[str],
    reward: Callable[[str], float],
    *,
    algo: str = "grpo",
    steps: int = 3,
    group_size: int = 4,
    max_new_tokens: int = 12,
    beta: float = 0.04,
    lr: float = 1e-4,
    seed: int = 0,
    optimizer: str = "adamw",
) -> dict:
    """trl's GRPO / RLOO trainer samples and trains; ours replays its samples and trains too.

    One generation batch per step: all ``prompts`` x ``group_size`` completions, one optimizer
    step on them (trl's ``num_iterations=1``), so both losses are on-policy at step k with the
    same weights if the updates agree. Returns both loss curves and our advantages next to trl's.
    """
    from datasets import Dataset

    from ch10_alignment.rl import (
        Rollout,
        group_advantages,
        grpo_loss,
        k3_kl,
        rloo_advantages,
        rloo_loss,
        rloo_rewards,
        token_logps,
    )
    from ch10_alignment.train import make_optimizer

    batches: list[dict] = []

    def reward_func(prompts, completions, completion_ids=None, **_):
        scores = [float(reward(c)) for c in completions]
        batches.append({"scores": scores})
        return scores

    reward_func.__name__ = "judge"
    n = len(prompts) * group_size
    with tempfile.TemporaryDirectory() as out:
        common = _common_args(out, steps=steps, lr=lr, batch=n, seed=seed, optimizer=optimizer)
        gen = {
            "num_generations": group_size,
            "max_completion_length": max_new_tokens,
            "temperature": 1.0,
            "top_k": 0,
            "beta": beta,
            "epsilon": 0.2,
        }
        if algo == "grpo":
            from trl import GRPOConfig, GRPOTrainer

            cfg = GRPOConfig(**common, **gen, loss_type="grpo", scale_rewards="group")
            cls = GRPOTrainer
        else:
            from trl import RLOOConfig, RLOOTrainer

            cfg = RLOOConfig(**common, **gen, normalize_advantages=False)
            cls = RLOOTrainer

        class Recording(cls):
            def _generate_and_score_completions(self, inputs):
                o = super()._generate_and_score_completions(inputs)
                batches[-1].update(
                    {k: o[k].clone() for k in ("prompt_ids", "prompt_mask", "completion_ids")}
                )
                batches[-1]["completion_mask"] = o["completion_mask"].clone()
                batches[-1]["advantages"] = o["advantages"].clone()
                return o

        timer = _Timer()
        trainer = Recording(
            model=copy.deepcopy(model),
            reward_funcs=reward_func,
            args=cfg,
            train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
            processing_class=tokenizer,
            callbacks=[timer.callback],
        )
        trainer.train()
        logs = [h for h in trainer.state.log_history if "loss" in h and "reward" in h]

    torch.manual_seed(seed)
    reference = copy.deepcopy(model).eval()
    policy = copy.deepcopy(model)
    opt = make_optimizer(policy.parameters(), optimizer, lr)
    ours_loss, ours_kl, adv_err = [], [], []
    for b in batches:
        ro = Rollout(
            b["prompt_ids"], b["prompt_mask"], b["completion_ids"], b["completion_mask"], [], []
        )
        mask = ro.completion_mask.float()
        scores = torch.tensor(b["scores"])
        policy.eval()
        with torch.no_grad():
            old, _, _ = token_logps(policy, ro)
            ref, _, _ = token_logps(reference, ro)
        policy.train()
        logps, _, _ = token_logps(policy, ro)
        if algo == "grpo":
            adv = group_advantages(scores, group_size)
            loss = grpo_loss(logps, old, ref, adv, mask, eps=0.2, beta=beta)
        else:
            adv = rloo_advantages(rloo_rewards(scores, old, ref, mask, beta), group_size)
            loss = rloo_loss(logps, old, adv, mask, eps=0.2)
        adv_err.append((adv - b["advantages"].view(-1)).abs().max().item())
        opt.zero_grad()
        loss.backward()
        opt.step()
        ours_loss.append(loss.item())
        # trl's logged "kl": the mean k3 estimate over completion tokens (GRPO), or the mean
        # first-order log-ratio per token (RLOO)
        with torch.no_grad():
            per_tok = k3_kl(logps, ref) if algo == "grpo" else logps - ref
            ours_kl.append(((per_tok * mask).sum() / mask.sum().clamp(min=1.0)).item())
    return {
        "optimizer": optimizer,
        "algo": algo,
        "steps": steps,
        "prompts": len(prompts),
        "group_size": group_size,
        "beta": beta,
        "lr": lr,
        "ours_loss": ours_loss,
        "trl_loss": [float(h["loss"]) for h in logs],
        "trl_reward": [float(h["reward"]) for h in logs],
        "ours_kl": ours_kl,
        "trl_kl": [float(h.get("kl", float("nan"))) for h in logs],
        "max_advantage_diff": max(adv_err) if adv_err else float("nan"),
        "trl_step_seconds": timer.times,
    }
