"""Continual learning: naive fine-tuning, EWC and replay on a sequence of tasks.

Elastic weight consolidation (Kirkpatrick et al. 2017) keeps the weights that mattered for an
old task near their old values, with the diagonal of the Fisher information as the stiffness:

``F_i = E_x[(d log p(y|x) / d theta_i)^2]``  (the empirical Fisher: squared per-sample gradients
of the loss, averaged over samples), and the new task's loss gets
``(lambda / 2) * sum_i F_i (theta_i - theta*_i)^2``.

Replay mixes a few stored samples of the old task into every new-task batch. Forgetting is the
rise of the old task's loss after training on the new one.

The tasks here are the bundled corpus' two genres: task A = stories, task B = Python
documentation prose. The lab starts from the draft model (pretrained on both, good at stories)
and fine-tunes it on prose only, which is where a deployed model forgets.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def lm_loss(model, ids: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Next-token cross-entropy of ``ids [batch, seq]``; ``reduction='none'`` gives one per row."""
    logits = model(input_ids=ids).logits[:, :-1]
    nll = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1), reduction="none"
    )
    nll = nll.view(ids.size(0), -1).mean(dim=1)
    return nll.mean() if reduction == "mean" else nll


def fisher_diagonal(
    model, samples: torch.Tensor, loss_fn: Callable = lm_loss
) -> dict[str, torch.Tensor]:
    """Diagonal empirical Fisher: the mean over samples of each squared per-sample gradient.

    ``samples`` is ``[n, seq]``; each row is one sample (its mean token loss), back-propagated
    alone so that the squares are of per-sample gradients, not of the batch gradient.
    """
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    was_training = model.training
    model.eval()
    for row in samples:
        model.zero_grad(set_to_none=True)
        loss_fn(model, row[None]).backward()
        for n, p in params.items():
            if p.grad is not None:
                fisher[n] += p.grad.detach() ** 2
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return {n: f / len(samples) for n, f in fisher.items()}


@dataclass
class EWC:
    """The EWC penalty around ``anchor`` weights with Fisher ``fisher`` and strength ``lam``."""

    fisher: dict[str, torch.Tensor]
    anchor: dict[str, torch.Tensor]
    lam: float

    @classmethod
    def from_model(cls, model, samples: torch.Tensor, lam: float) -> EWC:
        fisher = fisher_diagonal(model, samples)
        anchor = {n: p.detach().clone() for n, p in model.named_parameters() if n in fisher}
        return cls(fisher, anchor, lam)

    def penalty(self, model) -> torch.Tensor:
        """``(lam / 2) * sum F (theta - theta*)^2``."""
        total = torch.zeros(())
        for n, p in model.named_parameters():
            if n in self.fisher:
                total = total + (self.fisher[n] * (p - self.anchor[n]) ** 2).sum()
        return 0.5 * self.lam * total


@dataclass
class ContinualConfig:
    """Sizes of the continual-learning lab."""

    seq_len: int = 64
    steps_a: int = 0
    steps_b: int = 60
    batch_size: int = 8
    lr: float = 1e-3
    ewc_lambda: float = 1000.0
    fisher_samples: int = 32
    replay_per_batch: int = 2
    eval_rows: int = 32
    hidden: int = 64
    layers: int = 2
    eval_every: int = 20
    seed: int = 0


def task_windows(tokenizer, source: str, seq_len: int, max_chars: int = 400_000) -> torch.Tensor:
    """Non-overlapping ``[n, seq_len]`` windows of a bundled source, tokenized."""
    from llmpath_core.data import load_documents
    from llmpath_core.models import encode_documents

    ids = torch.tensor(encode_documents(tokenizer, load_documents(source, max_chars=max_chars)))
    n = len(ids) // seq_len
    return ids[: n * seq_len].view(n, seq_len)


def small_model(vocab: int, cfg: ContinualConfig):
    """A small random Llama for the lab (seeded)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(cfg.seed)
    return LlamaForCausalLM(
        LlamaConfig(
            vocab_size=vocab,
            hidden_size=cfg.hidden,
            intermediate_size=2 * cfg.hidden,
            num_hidden_layers=cfg.layers,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=cfg.seq_len,
            tie_word_embeddings=True,
            use_cache=False,
        )
    )


@torch.no_grad()
def eval_loss(model, rows: torch.Tensor) -> float:
    """Mean token loss on ``rows``."""
    model.eval()
    loss = float(lm_loss(model, rows))
    model.train()
    return loss


def train_task(
    model,
    windows: torch.Tensor,
    steps: int,
    cfg: ContinualConfig,
    *,
    ewc: EWC | None = None,
    replay: torch.Tensor | None = None,
    watch: dict[str, torch.Tensor] | None = None,
) -> dict[str, list[float]]:
    """Train on ``windows`` for ``steps``; with EWC's penalty and/or replayed rows; returns the
    loss curves of the ``watch`` sets every ``cfg.eval_every`` steps (a forgetting curve)."""
    rng = random.Random(cfg.seed + steps)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    curves: dict[str, list[float]] = {k: [eval_loss(model, v)] for k, v in (watch or {}).items()}
    model.train()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        rows = [rng.randrange(len(windows)) for _ in range(cfg.batch_size)]
        batch = windows[rows]
        if replay is not None and cfg.replay_per_batch:
            old = [rng.randrange(len(replay)) for _ in range(cfg.replay_per_batch)]
            batch = torch.cat([batch, replay[old]])
        loss = lm_loss(model, batch)
        if ewc is not None:
            loss = loss + ewc.penalty(model)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if watch and (step + 1) % cfg.eval_every == 0:
            for k, v in watch.items():
                curves[k].append(eval_loss(model, v))
    model.eval()
    return curves


def continual_experiment(
    tokenizer,
    cfg: ContinualConfig,
    strategies: Sequence[str] = ("naive", "ewc", "replay"),
    model=None,
) -> dict:
    """Task A (stories) then task B (prose) for each strategy, from the same task-A model.

    ``model`` (e.g. the draft model) is the starting point; it is trained on task A for
    ``cfg.steps_a`` steps first (0 keeps it as it is). Without it a small random Llama starts.

    Returns per strategy the loss on A and B after A and after B, the forgetting (rise of A's
    loss) and the forgetting curve.
    """
    import copy

    a_train = task_windows(tokenizer, "stories:train", cfg.seq_len)
    b_train = task_windows(tokenizer, "prose:train", cfg.seq_len)
    a_val = task_windows(tokenizer, "stories:validation", cfg.seq_len, 100_000)[: cfg.eval_rows]
    b_val = task_windows(tokenizer, "prose:validation", cfg.seq_len, 100_000)[: cfg.eval_rows]
    model = small_model(len(tokenizer), cfg) if model is None else copy.deepcopy(model)
    if cfg.steps_a:
        train_task(model, a_train, cfg.steps_a, cfg)
    after_a = {"A": eval_loss(model, a_val), "B": eval_loss(model, b_val)}
    generator = torch.Generator().manual_seed(cfg.seed)
    fisher_rows = a_train[torch.randperm(len(a_train), generator=generator)[: cfg.fisher_samples]]
    replay_rows = a_train[torch.randperm(len(a_train), generator=generator)[:256]]
    rows = {}
    for strategy in strategies:
        m = copy.deepcopy(model)
        ewc = EWC.from_model(m, fisher_rows, cfg.ewc_lambda) if strategy == "ewc" else None
        replay = replay_rows if strategy == "replay" else None
        curves = train_task(
            m, b_train, cfg.steps_b, cfg, ewc=ewc, replay=replay, watch={"A": a_val, "B": b_val}
        )
        a_loss, b_loss = curves["A"][-1], curves["B"][-1]
        rows[strategy] = {
            "loss_A_after_B": a_loss,
            "loss_B_after_B": b_loss,
            "forgetting": a_loss - after_a["A"],
            "learned_B": after_a["B"] - b_loss,
            "curve_A": curves["A"],
            "curve_B": curves["B"],
        }
    return {"after_A": after_a, "strategies": rows, "eval_every": cfg.eval_every}


__all__ = [
    "EWC",
    "ContinualConfig",
    "continual_experiment",
    "eval_loss",
    "fisher_diagonal",
    "lm_loss",
    "small_model",
    "task_windows",
    "train_task",
]
