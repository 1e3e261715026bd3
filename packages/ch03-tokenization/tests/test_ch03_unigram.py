"""Unigram held to SentencePiece: Viterbi segmentation with SentencePiece's own pieces and scores
(identical pieces), and our EM training's compression (tolerance: at most 2% more tokens than
SentencePiece at the same vocabulary size on held-out text)."""

from __future__ import annotations

import io
import random

import pytest
import sentencepiece as spm

from ch03_tokenization import UnigramTokenizer, load_tokenizer


def _lines(docs: list[str]) -> list[str]:
    return [" ".join(line.split()) for doc in docs for line in doc.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def sp_model(pydoc_docs) -> spm.SentencePieceProcessor:
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_lines(pydoc_docs[:40])),
        model_writer=buf,
        vocab_size=800,
        model_type="unigram",
        normalization_rule_name="identity",
        character_coverage=1.0,
        remove_extra_whitespaces=False,
        num_threads=1,
        minloglevel=2,
    )
    return spm.SentencePieceProcessor(model_proto=buf.getvalue())


def test_viterbi_equals_sentencepiece(sp_model, held_out, pydoc_docs):
    ours = UnigramTokenizer.from_sentencepiece(sp_model)
    lines = _lines([held_out["pydoc"]]) + _lines(pydoc_docs[40:45])
    lines += ["héllo wörld 日本語 🤖 unknown ß", "a  b   c", "*" * 40]
    checked = 0
    for line in lines:
        theirs = [sp_model.id_to_piece(i) for i in sp_model.encode(line)]
        assert [ours.vocab[i] for i in ours.encode(line)] == theirs, line
        checked += 1
    assert checked > 500


def test_training_compression_within_2_percent_of_sentencepiece(stories_docs, pydoc_docs, held_out):
    lines = _lines(pydoc_docs[:12]) + _lines(stories_docs[:60])
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=buf,
        vocab_size=600,
        model_type="unigram",
        normalization_rule_name="identity",
        character_coverage=1.0,
        num_threads=1,
        remove_extra_whitespaces=False,
        minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
    ours = UnigramTokenizer(byte_fallback=False).train(lines, 600 - 2)  # sp also has <s>, </s>
    test = _lines([held_out["pydoc"][:40_000], held_out["stories"][:20_000]])
    sp_tokens = sum(len(sp.encode(line)) for line in test)
    our_tokens = sum(len(ours.encode(line)) for line in test)
    assert our_tokens <= 1.02 * sp_tokens, (our_tokens, sp_tokens)


def test_byte_fallback_sampling_and_hf_export(stories_docs, tmp_path):
    from tokenizers import Tokenizer as HFTokenizer

    tok = UnigramTokenizer().train(stories_docs[:40], 500)
    assert tok.vocab_size == 500
    text = "Lily found a shiny key 🔑 in the garden."
    ids = tok.encode(text)
    assert tok.decode(ids) == text  # the emoji survives as four byte pieces
    assert [tok.vocab[i] for i in tok.encode("🔑")] == ["▁", "<0xF0>", "<0x9F>", "<0x94>", "<0x91>"]
    # sampling: sharp alpha gives the Viterbi path; every sample spells the same text
    assert tok.sample(text, alpha=50.0) == ids
    rng = random.Random(0)
    samples = {tuple(tok.sample(text, alpha=0.2, rng=rng)) for _ in range(30)}
    assert len(samples) > 1
    assert all(tok.decode(list(s)) == text for s in samples)
    folder = tok.save(tmp_path / "uni")
    again = load_tokenizer(folder)
    assert again.encode(text) == ids
    hf = HFTokenizer.from_file(str(folder / "tokenizer.json"))
    story = " ".join(stories_docs[40:60])
    assert hf.encode(story, add_special_tokens=False).ids == tok.encode(story)
