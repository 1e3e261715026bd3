"""Our contrastive loss vs sentence-transformers' MultipleNegativesRankingLoss; the effects of
fine-tuning and compression."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ch04_embeddings.compression import compression_table
from ch04_embeddings.finetune import FinetuneConfig, finetune, mnrl_loss, recall_at_k


def test_mnrl_equals_sentence_transformers(st_model):
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    g = torch.Generator().manual_seed(0)
    a, p, n = (torch.randn(8, 384, generator=g, dtype=torch.float64) for _ in range(3))
    ref = MultipleNegativesRankingLoss(st_model)
    for cands in ([p], [p, n]):
        theirs = ref.compute_loss_from_embeddings([a, *cands], None)
        assert abs(float(mnrl_loss(a, cands)) - float(theirs)) <= 1e-6


def test_mnrl_on_a_real_batch_through_both_models(encoder, st_model):
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    anchors = ["did Norvex lose money", "is Quintek buying Velora"]
    positives = ["Norvex Holdings reported a net loss", "Quintek agreed to acquire Velora"]
    loss_fn = MultipleNegativesRankingLoss(st_model)
    feats = [st_model.tokenize(t) for t in (anchors, positives)]
    with torch.no_grad():
        theirs = float(loss_fn(feats, None))
        ours = float(mnrl_loss(encoder.embed(anchors), [encoder.embed(positives)]))
    assert ours == pytest.approx(theirs, abs=1e-5)


def test_finetuning_raises_held_out_recall():
    from ch04_embeddings.domain import domain_set
    from ch04_embeddings.encoder import SentenceEncoder

    data = domain_set(n_train=6, n_eval=4)
    enc = SentenceEncoder()

    def recall(k):
        q, d = enc.encode(data.eval_queries), enc.encode(data.eval_docs)
        return recall_at_k(q, d, data.eval_answers, k)

    before = recall(1), recall(5)
    losses = finetune(enc, data.train_pairs, FinetuneConfig(batch_size=12, lr=5e-5))
    after = recall(1), recall(5)
    assert after[0] >= before[0] + 0.1, (before, after)
    assert after[1] >= before[1], (before, after)
    assert len(losses) == 6  # 72 pairs in batches of 12


def test_compression_reports_recall_lost():
    rng = np.random.default_rng(0)
    docs = rng.normal(size=(300, 384)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    queries = docs[:40] + 0.05 * rng.normal(size=(40, 384)).astype(np.float32)
    rows = {r["scheme"]: r for r in compression_table(docs, queries, k=10)}
    assert rows["float32"]["recall"] == 1.0
    assert rows["int8"]["recall"] > 0.9 and rows["int8"]["bytes"] == 384
    assert rows["binary"]["recall"] < rows["int8"]["recall"] and rows["binary"]["bytes"] == 48
    assert rows["pca-64"]["recall"] < 0.9  # isotropic noise: PCA has nothing to exploit
