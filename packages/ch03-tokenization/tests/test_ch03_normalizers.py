"""Normalizers equal unicodedata and HF tokenizers' normalizers (tolerance: none)."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import normalizers as hfn

from ch03_tokenization.normalizers import (
    Sequence,
    Unicode,
    bert_normalizer,
    lowercase,
    strip_accents,
)
from ch03_tokenization.pretokenizers import GPT4_SPLIT_PATTERN, RegexSplit, metaspace_split

# Python 3.11 knows Unicode 14; the Rust tables inside tokenizers are older, so characters added
# since (e.g. U+0AFA, Unicode 10) get different categories. The property test draws from blocks
# that have been stable for long: ASCII/Latin (with controls), combining marks, Greek, Cyrillic,
# Arabic, Devanagari, general punctuation, CJK punctuation and kana, CJK ideographs, emoji.
_BLOCKS = [
    (0x0000, 0x024F),
    (0x0300, 0x036F),
    (0x0370, 0x03FF),
    (0x0400, 0x04FF),
    (0x0600, 0x06FF),
    (0x0900, 0x0970),
    (0x2000, 0x206F),
    (0x3000, 0x30FF),
    (0x4E00, 0x4FFF),
    (0x1F600, 0x1F64F),
]
TEXT = st.text(
    st.one_of(
        [
            st.characters(min_codepoint=a, max_codepoint=b, exclude_categories=("Cs", "Cn"))
            for a, b in _BLOCKS
        ]
    ),
    max_size=40,
)


def test_unicode_forms_and_pieces(adversarial):
    for text in adversarial:
        for form in ("NFC", "NFD", "NFKC", "NFKD"):
            assert Unicode(form)(text) == unicodedata.normalize(form, text)
            assert Unicode(form)(text) == getattr(hfn, form)().normalize_str(text)
        assert lowercase(text) == hfn.Lowercase().normalize_str(text)
        nfd_strip = Sequence([Unicode("NFD"), strip_accents])
        assert nfd_strip(text) == hfn.Sequence([hfn.NFD(), hfn.StripAccents()]).normalize_str(text)
        assert bert_normalizer()(text) == hfn.BertNormalizer(lowercase=True).normalize_str(text)


@settings(max_examples=60, deadline=None, database=None)
@given(TEXT)
def test_bert_normalizer_equals_hf_on_any_text(text):
    assert bert_normalizer()(text) == hfn.BertNormalizer(lowercase=True).normalize_str(text)
    assert bert_normalizer(False)(text) == hfn.BertNormalizer(
        lowercase=False, strip_accents=False
    ).normalize_str(text)


def test_pre_tokenizers_match_hf(adversarial):
    from tokenizers import Regex
    from tokenizers import pre_tokenizers as hfp

    split = hfp.Split(Regex(GPT4_SPLIT_PATTERN), behavior="isolated")
    meta = hfp.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    for text in adversarial:
        assert RegexSplit()(text) == [p for p, _ in split.pre_tokenize_str(text)]
        if text and not text.startswith(" "):
            assert metaspace_split(text) == [p for p, _ in meta.pre_tokenize_str(text)]
