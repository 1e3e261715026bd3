"""Contrastive fine-tuning of a sentence encoder: in-batch negatives plus mined hard negatives.

The loss is sentence-transformers' ``MultipleNegativesRankingLoss`` (InfoNCE, van den Oord et
al. 2018; Henderson et al. 2017): for a batch of ``(anchor_i, positive_i[, hard_negative_i])``,

    loss = mean_i  CE( scale * cos(anchor_i, [positives; hard negatives]), target = i )

so every other pair's positive is a free negative for anchor ``i``. Hard negatives are mined
with the model itself before training: for each anchor, the highest-scoring positive of another
pair (a near miss: same company, other event, or same event, other company).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


def mnrl_loss(
    anchors: torch.Tensor, candidates: list[torch.Tensor], scale: float = 20.0
) -> torch.Tensor:
    """Multiple-negatives ranking loss over ``anchors`` and ``[positives, *negatives]``."""
    docs = torch.cat(candidates, dim=0)
    scores = scale * F.normalize(anchors, dim=-1) @ F.normalize(docs, dim=-1).T
    return F.cross_entropy(scores, torch.arange(len(anchors), device=anchors.device))


def mine_hard_negatives(encoder, pairs: list[tuple[str, str]], skip_top: int = 0) -> list[str]:
    """For each ``(anchor, positive)``: the most similar *other* positive under ``encoder``."""
    a = encoder.encode([p[0] for p in pairs])
    d = encoder.encode([p[1] for p in pairs])
    sims = a @ d.T
    np.fill_diagonal(sims, -np.inf)
    for _ in range(skip_top):  # skip the top few (they may be unlabelled positives)
        sims[np.arange(len(pairs)), sims.argmax(1)] = -np.inf
    return [pairs[j][1] for j in sims.argmax(1)]


@dataclass
class FinetuneConfig:
    """Training settings."""

    epochs: int = 1
    batch_size: int = 16
    lr: float = 3e-5
    scale: float = 20.0
    hard_negatives: bool = True
    seed: int = 0


def finetune(
    encoder, pairs: list[tuple[str, str]], config: FinetuneConfig | None = None
) -> list[float]:
    """Train ``encoder`` (a :class:`~ch04_embeddings.encoder.SentenceEncoder`) in place.

    Returns the loss of every step.
    """
    config = config or FinetuneConfig()
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    negatives = mine_hard_negatives(encoder, pairs) if config.hard_negatives else None
    opt = torch.optim.AdamW(encoder.parameters(), lr=config.lr)
    losses = []
    encoder.train()
    for _ in range(config.epochs):
        order = list(range(len(pairs)))
        rng.shuffle(order)
        for start in range(0, len(order) - 1, config.batch_size):
            idx = order[start : start + config.batch_size]
            if len(idx) < 2:
                continue
            anchors = encoder.embed([pairs[i][0] for i in idx])
            cands = [encoder.embed([pairs[i][1] for i in idx])]
            if negatives is not None:
                cands.append(encoder.embed([negatives[i] for i in idx]))
            loss = mnrl_loss(anchors, cands, config.scale)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
    encoder.eval()
    return losses


def recall_at_k(query_vecs: np.ndarray, doc_vecs: np.ndarray, answers: list[int], k: int) -> float:
    """Fraction of queries whose answer document is among the ``k`` most similar."""
    sims = query_vecs @ doc_vecs.T
    top = np.argsort(-sims, axis=1)[:, :k]
    return float(np.mean([a in row for a, row in zip(answers, top, strict=True)]))


__all__ = ["FinetuneConfig", "finetune", "mine_hard_negatives", "mnrl_loss", "recall_at_k"]
