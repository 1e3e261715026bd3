"""The shipped default and draft models: offline loading, the card's numbers, the tokenizer."""

from __future__ import annotations

import pytest

from llmpath_core import (
    UserError,
    evaluate_lm,
    load_default_model,
    load_documents,
    load_draft_model,
    model_card,
)
from llmpath_core.models import model_path, weights_sha256


@pytest.fixture(scope="module")
def default():
    return load_default_model()


def test_default_model_loads_offline_and_matches_its_card(default):
    from transformers import LlamaForCausalLM, PreTrainedTokenizerBase

    model, tokenizer = default
    card = model_card("default")
    assert isinstance(model, LlamaForCausalLM) and not model.training
    assert isinstance(tokenizer, PreTrainedTokenizerBase)
    assert card["parameters"] <= 10_000_000  # issue 12: the default model has at most 10 M
    assert weights_sha256("default") == card["sha256"]
    assert (
        sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
        == (card["parameters"])
    )


def test_default_model_validation_loss_matches_the_card_within_1_percent(default):
    model, tokenizer = default
    card = model_card("default")["eval"]
    measured = evaluate_lm(model, tokenizer)
    assert card["source"] == "mix:validation"
    assert measured["tokens"] == card["tokens"]
    assert measured["loss"] == pytest.approx(card["loss"], rel=0.01)
    assert measured["bits_per_byte"] == pytest.approx(card["bits_per_byte"], rel=0.01)
    assert measured["loss_stderr"] == pytest.approx(card["loss_stderr"], rel=0.05)
    # far below a uniform guess over the vocabulary: the model learned its corpus
    assert measured["loss"] < 0.5 * card_ln_vocab(tokenizer)


def test_capacity_matters_the_draft_is_at_least_10_percent_worse(default):
    """Issue 12: on the new corpus the 10x smaller draft no longer reaches the default's loss."""
    from llmpath_core import paired_difference

    model, tokenizer = default
    draft, _ = load_draft_model()
    a = evaluate_lm(model, tokenizer, max_chars=60_000)
    b = evaluate_lm(draft, tokenizer, max_chars=60_000)
    diff = paired_difference(a, b)
    assert diff["loss_diff_rel"] >= 0.10
    assert diff["loss_diff"] > 10 * diff["loss_diff_stderr"]  # far above the noise


def card_ln_vocab(tokenizer) -> float:
    import math

    return math.log(len(tokenizer))


def test_tokenizer_round_trips_the_corpus_and_any_text(default):
    _, tokenizer = default
    texts = [
        *load_documents("stories", split="validation", max_chars=50_000),
        *load_documents("pydoc", max_chars=50_000),
        "emoji 🤖, CJK 日本語, combining é, tabs\tand\n\nnewlines, <|endoftext|> as text? no: ",
    ]
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text


def test_draft_model_is_about_10x_smaller_with_the_same_tokenizer(default):
    model, tokenizer = default
    draft, draft_tokenizer = load_draft_model()
    count = lambda m: sum(p.numel() for p in {id(p): p for p in m.parameters()}.values())  # noqa: E731
    assert count(draft) * 8 <= count(model)
    assert (model_path("draft") / "tokenizer.json").read_bytes() == (
        model_path("default") / "tokenizer.json"
    ).read_bytes()
    assert draft_tokenizer.get_vocab() == tokenizer.get_vocab()
    assert draft.config.vocab_size == model.config.vocab_size
    card = model_card("draft")
    assert weights_sha256("draft") == card["sha256"]
    # a cheap model that still learned the corpus (what speculative decoding wants)
    assert card["eval"]["loss"] < 0.6 * card_ln_vocab(draft_tokenizer)


def test_default_model_writes_a_story(default):
    import torch

    model, tokenizer = default
    ids = tokenizer("Once upon a time", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=30, do_sample=False, pad_token_id=0)
    text = tokenizer.decode(out[0], skip_special_tokens=True)
    words = text.split()
    assert len(words) >= 12
    # every generated word is a word of its corpus (the model does not babble)
    vocabulary = set(" ".join(load_documents("mix", max_chars=2_000_000)).split())
    assert sum(w in vocabulary for w in words) >= 0.9 * len(words)


def test_unknown_model_name_is_a_user_error():
    with pytest.raises(UserError, match="unknown shipped model"):
        model_path("huge")
