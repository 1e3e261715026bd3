"""Tokenizer training and packing: lossless round trip, exact byte counts, deterministic batches."""

from __future__ import annotations

import json

import numpy as np
import pytest
from transformers import AutoTokenizer

from ch07_pretraining import TokenData, prepare_corpus, token_byte_lengths
from llmpath_core import UserError, load_documents


def test_prepare_writes_packed_uint16_files(tiny_data):
    meta = json.loads((tiny_data / "meta.json").read_text())
    assert meta["dtype"] == "uint16" and meta["vocab_size"] == 300
    data = TokenData.open(tiny_data)
    assert data.train.size == meta["train_tokens"] == (tiny_data / "train.bin").stat().st_size // 2
    assert int(data.train.max()) < 300
    # one <|endoftext|> after every document
    eos = data.tokenizer().eos_token_id
    assert int((np.asarray(data.val) == eos).sum()) == meta["val_docs"]


def test_tokenizer_round_trips_and_byte_lengths_are_exact(tiny_data):
    tokenizer = AutoTokenizer.from_pretrained(tiny_data)  # the standard HF loader
    docs = load_documents("stories", split="validation", max_chars=10_000)
    for doc in docs[:20]:
        assert tokenizer.decode(tokenizer(doc)["input_ids"]) == doc
    # bits per byte needs the bytes behind every token: they must add up to the corpus exactly
    data = TokenData.open(tiny_data)
    lengths = token_byte_lengths(data.tokenizer())
    assert int(lengths[np.asarray(data.val)].sum()) == data.meta["val_bytes"]


def test_batches_depend_only_on_their_position(tiny_data):
    data = TokenData.open(tiny_data)
    x1, y1 = data.batch(7, 4, 16, seed=0)
    x2, y2 = data.batch(7, 4, 16, seed=0)
    x3, _ = data.batch(8, 4, 16, seed=0)
    assert x1.equal(x2) and y1.equal(y2) and not x1.equal(x3)
    assert x1[:, 1:].equal(y1[:, :-1])  # targets are the inputs shifted by one


def test_bad_corpus_is_a_user_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n")
    with pytest.raises(UserError, match="no text"):
        prepare_corpus(empty, tmp_path / "out", vocab_size=300)
    with pytest.raises(UserError, match="too small"):
        prepare_corpus("stories", tmp_path / "out", vocab_size=100, max_chars=5_000)
    with pytest.raises(UserError, match="not a prepared data folder"):
        TokenData.open(tmp_path)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_prepare_cached_prepares_once_per_distinct_corpus(tmp_path):
    from ch07_pretraining.data import prepare_cached

    folder, meta, cached = prepare_cached("stories", tmp_path, vocab_size=300, max_chars=20_000)
    assert not cached and (folder / "train.bin").is_file() and meta["vocab_size"] == 300
    stamp = (folder / "train.bin").stat().st_mtime_ns
    again, meta_again, cached = prepare_cached(
        "stories", tmp_path, vocab_size=300, max_chars=20_000
    )
    assert cached and again == folder and meta_again == meta
    assert (folder / "train.bin").stat().st_mtime_ns == stamp  # read, not rewritten
    other, _, cached = prepare_cached("stories", tmp_path, vocab_size=300, max_chars=30_000)
    assert not cached and other != folder  # other text, other folder: never stale tokens


def test_prepare_packs_with_a_given_tokenizer_json(tmp_path, tiny_data):
    """--tokenizer: a tokenizer trained elsewhere (ch03 writes the same tokenizer.json format)."""
    from tokenizers import Tokenizer

    given = tmp_path / "given"
    given.mkdir()
    Tokenizer.from_file(str(tiny_data / "tokenizer.json")).save(str(given / "tokenizer.json"))
    meta = prepare_corpus("stories", tmp_path / "out", max_chars=60_000, tokenizer=given)
    assert meta == {**json.loads((tiny_data / "meta.json").read_text()), "source": "stories"}
    packed = TokenData.open(tmp_path / "out")
    assert np.array_equal(np.asarray(packed.val), np.asarray(TokenData.open(tiny_data).val))
    vocab = json.loads((given / "tokenizer.json").read_text())
    vocab["added_tokens"] = []
    vocab["model"]["vocab"].pop("<|endoftext|>")
    (tmp_path / "bad.json").write_text(json.dumps(vocab))
    with pytest.raises(UserError, match="no <\\|endoftext\\|> token"):
        prepare_corpus(
            "stories", tmp_path / "out2", max_chars=60_000, tokenizer=tmp_path / "bad.json"
        )
    with pytest.raises(UserError, match=r"no tokenizer\.json"):
        prepare_corpus("stories", tmp_path / "out3", tokenizer=tmp_path / "missing")
    assert not (tmp_path / "out2").exists() and not (tmp_path / "out3").exists()
