"""Byte-level BPE held to HF tokenizers (BpeTrainer merges, encodings) and tiktoken (encodings).

Tolerance: none — merge lists and id sequences must be identical.
"""

from __future__ import annotations

import json

import pytest
import tiktoken
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer as HFTokenizer

from ch03_tokenization import ByteBPETokenizer, load_tokenizer, naive_train, train_merges
from ch03_tokenization.byte_bpe import TIKTOKEN_FILE, bytes_to_unicode
from ch03_tokenization.hf_anchor import hf_byte_bpe, hf_merges


def hf_train(docs: list[str], vocab_size: int, pattern: str) -> list[list[str]]:
    return hf_merges(hf_byte_bpe(docs, vocab_size, pattern))


@pytest.fixture(scope="module")
def trained(pydoc_docs: list[str]) -> ByteBPETokenizer:
    return ByteBPETokenizer().train(pydoc_docs, 2048, special_tokens=["<|endoftext|>"])


@pytest.mark.parametrize(
    ("corpus", "vocab_size"), [("stories", 300), ("pydoc", 1000), ("pydoc", 4096)]
)
def test_merges_identical_to_hf_bpe_trainer(corpus, vocab_size, stories_docs, pydoc_docs):
    docs = stories_docs if corpus == "stories" else pydoc_docs
    ours = ByteBPETokenizer().train(docs, vocab_size)
    theirs = hf_train(docs, vocab_size, ours.pattern)
    mine = ours.to_hf_dict()["model"]["merges"]
    assert len(mine) == vocab_size - 256
    assert mine == theirs


def test_gpt2_pattern_merges_identical_too(stories_docs):
    from ch03_tokenization import GPT2_SPLIT_PATTERN

    ours = ByteBPETokenizer(GPT2_SPLIT_PATTERN).train(stories_docs, 600)
    mine = ours.to_hf_dict()["model"]["merges"]
    assert len(mine) > 300  # the small synthetic corpus runs out of pairs before 600
    assert mine == hf_train(stories_docs, 600, GPT2_SPLIT_PATTERN)


def test_incremental_trainer_equals_naive_recount(pydoc_docs):
    from collections import Counter

    from ch03_tokenization.pretokenizers import RegexSplit

    counter = Counter(w for doc in pydoc_docs[:3] for w in RegexSplit()(doc))
    words = [list(w.encode()) for w in counter]
    counts = list(counter.values())
    fast = train_merges([w[:] for w in words], counts, [bytes([b]) for b in range(256)], 456)
    slow = naive_train([w[:] for w in words], counts, [bytes([b]) for b in range(256)], 456)
    assert len(fast) == 200
    assert fast == slow


def test_encodings_equal_hf_and_tiktoken(trained, held_out, adversarial, tmp_path):
    trained.save(tmp_path / "tok")
    hf = HFTokenizer.from_file(str(tmp_path / "tok" / "tokenizer.json"))
    tk = trained.to_tiktoken()
    for text in [*held_out.values(), *adversarial]:
        ids = trained.encode(text)
        assert ids == hf.encode(text, add_special_tokens=False).ids
        assert ids == tk.encode_ordinary(text)
        assert trained.decode(ids) == text
        assert hf.decode(ids) == text


def test_tiktoken_file_and_reload(trained, held_out, tmp_path):
    from tiktoken.load import load_tiktoken_bpe

    folder = trained.save(tmp_path / "tok")
    ranks = load_tiktoken_bpe(str(folder / TIKTOKEN_FILE))
    assert ranks == trained.mergeable_ranks()
    again = load_tokenizer(folder)
    assert isinstance(again, ByteBPETokenizer)
    assert again.encode(held_out["pydoc"]) == trained.encode(held_out["pydoc"])
    assert again.special_tokens == {"<|endoftext|>": 2048}


def test_special_tokens_safe_default(trained, tmp_path):
    text = "hello <|endoftext|> world"
    eot = trained.special_tokens["<|endoftext|>"]
    assert eot not in trained.encode(text)  # default: special text is ordinary text
    allowed = trained.encode(text, allowed_special="all")
    assert allowed.count(eot) == 1
    assert allowed == trained.to_tiktoken().encode(text, allowed_special="all")
    hf = HFTokenizer.from_str(json.dumps(trained.to_hf_dict()))
    assert allowed == hf.encode(text).ids
    assert trained.decode(allowed) == text
    from llmpath_core import UserError

    with pytest.raises(UserError):
        trained.encode(text, allowed_special="none_raise")


@pytest.fixture(scope="session")
def small(pydoc_docs) -> tuple[ByteBPETokenizer, tiktoken.Encoding]:
    tok = ByteBPETokenizer().train(pydoc_docs[:15], 700)
    return tok, tok.to_tiktoken()


@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text(max_size=60))
def test_round_trip_and_tiktoken_on_any_unicode(small, text):
    tok, tk = small
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert ids == tk.encode_ordinary(text)


def test_byte_table_is_gpt2s():
    table = bytes_to_unicode()
    assert len(set(table.values())) == 256
    assert table[ord("A")] == "A" and table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ"


def test_vocab_smaller_than_alphabet_is_user_error():
    from llmpath_core import UserError

    with pytest.raises(UserError, match="smaller than the 256 byte alphabet"):
        ByteBPETokenizer().train(["some text"], 200)
    with pytest.raises(UserError, match="empty"):
        ByteBPETokenizer().train(["   ", ""], 300)
