"""Fusion, reranking, the extractive reader, metrics, and what retrieval adds to QA."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from ch18_rag.evalsets import pydoc_eval_set
from ch18_rag.evaluation import (
    closed_book_answer_fn,
    evaluate_answers,
    evaluate_retrieval,
    rag_answer_fn,
)
from ch18_rag.metrics import (
    exact_match,
    mrr,
    ndcg_at_k,
    recall_at_k,
    rouge_l,
    rouge_n,
    token_f1,
)
from ch18_rag.reader import ExtractiveReader, extract_span
from ch18_rag.rerank import maxsim
from ch18_rag.retrieval import Retriever, rrf, weighted
from llmpath_core import UserError


def test_rrf_and_weighted_fusion():
    fused = rrf([[1, 2, 3], [3, 1]], k=60)
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62)
    w = weighted([{1: 10.0, 2: 5.0, 3: 0.0}, {1: 0.2, 3: 0.9}], [0.7, 0.3])
    assert w == pytest.approx({1: 0.7, 2: 0.35, 3: 0.3})


def test_maxsim():
    q = np.eye(3)[:2]  # two query tokens
    d = np.array([[1.0, 0, 0], [0, 0.6, 0.8]])
    assert maxsim(q, d) == pytest.approx((1.0 + 0.6) / 2)


def test_metrics_by_hand():
    ranked = ["a", "b", "c", "d"]
    assert recall_at_k(ranked, {"b", "z"}, 2) == 0.5
    assert mrr(ranked, {"c"}) == pytest.approx(1 / 3)
    assert ndcg_at_k(ranked, {"b", "d"}, 4) == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    )
    assert exact_match("The Quo!", "quo") == 1.0
    assert token_f1("silver grey heron", "the silver heron") == pytest.approx(0.8)


def test_rouge_equals_rouge_score():
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    pairs = [
        ("the cat sat on the mat", "a cat sat on a mat today"),
        (
            "Assert statements insert debugging assertions.",
            "a convenient way to insert debugging assertions into a program",
        ),
        ("1432", "founded in 1432"),
        ("x y z", "q r"),
    ]
    for pred, ref in pairs:
        s = scorer.score(ref, pred)
        assert rouge_n(pred, ref, 1) == pytest.approx(s["rouge1"].fmeasure, abs=1e-12)
        assert rouge_n(pred, ref, 2) == pytest.approx(s["rouge2"].fmeasure, abs=1e-12)
        assert rouge_l(pred, ref) == pytest.approx(s["rougeL"].fmeasure, abs=1e-12)


def test_extract_span():
    assert extract_span("What is the capital of Zed?", "The capital of Zed is Quo.") == "Quo"
    assert extract_span("When was Zed founded?", "Zed was founded in 1432.") == "1432"
    assert (
        extract_span("Who founded Quo?", "Quo was founded by Ilsa Varn, a weaver.") == "Ilsa Varn"
    )
    assert extract_span(
        "What are assert statements?",
        "Assert statements are a convenient way to insert assertions:",
    ) == ("convenient way to insert assertions")


def test_encyclopedia_rag_beats_the_same_reader_without_retrieval(enc_index, encyclopedia):
    sources = {
        s.rsplit("/", 1)[-1][:-3]: s
        for (s,) in enc_index.table.con.execute("SELECT DISTINCT source FROM chunks")
    }
    items = [
        dataclasses.replace(q, source=sources[q.source.split(":")[1]])
        for q in encyclopedia.questions
        if q.kind != "two-hop"
    ]
    rag = evaluate_answers(rag_answer_fn(Retriever(enc_index)), items)
    closed = evaluate_answers(closed_book_answer_fn(enc_index), items)
    # template questions over template articles: a ceiling for the reader (see the paraphrased
    # sets in test_ch18_heldout.py); the same reader on random chunks mostly answers wrongly
    assert rag["EM"] >= 0.8 and rag["F1"] >= 0.8
    assert closed["EM"] <= 0.35 and closed["n"] == rag["n"] == len(items)
    assert rag["EM"] - rag["EM 95% CI"][0] >= 0 and closed["EM SE"] > 0
    rows = {
        r["mode"]: r for r in evaluate_retrieval(Retriever(enc_index), items, ["bm25", "hybrid"])
    }
    assert rows["hybrid"]["recall@5"] >= 0.9


def test_reader_cites_the_chunk_it_read(enc_index, encyclopedia):
    question = encyclopedia.questions[0]
    hits = Retriever(enc_index).search(question.question, 5)
    answer = ExtractiveReader().answer(question.question, hits)
    assert answer.answer == question.answer
    cited = next(h for h in hits if h.chunk_id == answer.citations[0])
    assert question.gold in " ".join(cited.text.split())


def test_rerank_and_modes(enc_index, encyclopedia):
    retriever = Retriever(enc_index)
    q = encyclopedia.questions[4]  # "Who founded <capital>?"
    for mode in ("bm25", "dense", "hybrid", "hybrid-rerank"):
        hits = retriever.search(q.question, 3, mode)
        assert len(hits) == 3
        assert q.answer in hits[0].text or q.answer in " ".join(h.text for h in hits)
    with pytest.raises(UserError, match="empty"):
        retriever.search("  ", 3)
    with pytest.raises(UserError, match="unknown mode"):
        retriever.search("x", 3, "magic")


def test_pydoc_eval_set_is_deterministic():
    items = pydoc_eval_set()
    assert len(items) == 36
    assert items[0].question == "What are assert statements?"
    assert items[0].answer == "a convenient way to insert debugging assertions into a program"
    assert items == pydoc_eval_set()


def test_query_expansion_with_a_generator(enc_index, encyclopedia):
    """HyDE embeds the generator's passage instead of the question; multi-query fuses variants."""
    from ch18_rag.retrieval import hyde_passage, multi_query

    retriever = Retriever(enc_index)
    target = encyclopedia.documents[3]
    fake_passage = (
        f"The currency of {target.title} is the {encyclopedia.candidates['currency'][3]}."
    )
    prompts = []

    def generate(prompt: str) -> str:
        prompts.append(prompt)
        return fake_passage if "passage" in prompt else "1. national money\n2. coins used\n"

    question = "Which money do they use there?"  # names no country: only HyDE can find it
    passage = hyde_passage(generate, question)
    hits = retriever.search(question, 3, "dense", hyde=passage)
    assert hits[0].source.endswith(f"{target.title}.md") and question in prompts[0]
    variants = multi_query(generate, question)
    assert variants == ["national money", "coins used"]
    fused = retriever.search(question, 3, "hybrid", queries=variants, fusion="rrf")
    assert len(fused) == 3


def test_cross_encoder_reranker_folder(tmp_path):
    """Any cross-encoder folder: a tiny random BERT classifier, scores ordered like its logits."""
    import shutil

    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from ch18_rag.embeddings import default_model_path
    from ch18_rag.rerank import CrossEncoderReranker

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(tmp_path / "ce")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(default_model_path() / name, tmp_path / "ce" / name)
    texts = ["The capital of Zed is Quo.", "Bonds rose.", "Zed was founded in 1432.", "Cats nap."]
    scores = CrossEncoderReranker(tmp_path / "ce").score("capital of Zed", texts)
    tok = AutoTokenizer.from_pretrained(tmp_path / "ce")
    batch = tok(["capital of Zed"] * 4, texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits[:, 0].numpy()
    assert list(np.argsort(scores)) == list(np.argsort(logits))
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-logits)), atol=1e-5)
