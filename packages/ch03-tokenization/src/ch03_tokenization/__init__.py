"""Chapter 3, tokenization: four tokenizers from scratch, held to the production libraries.

>>> from ch03_tokenization import ByteBPETokenizer
>>> tok = ByteBPETokenizer().train(["low lower lowest " * 50], vocab_size=260)
>>> tok.decode(tok.encode("lowest")) == "lowest"
True
"""

from ch03_tokenization.base import Tokenizer
from ch03_tokenization.bpe import naive_train, train_merges
from ch03_tokenization.byte_bpe import ByteBPETokenizer, bytes_to_unicode
from ch03_tokenization.char_bpe import CharBPETokenizer
from ch03_tokenization.compare import MULTILINGUAL, compare_tokenizers, fertility
from ch03_tokenization.html_view import render_html
from ch03_tokenization.loading import ALGORITHMS, bert_vocab_path, load_tokenizer
from ch03_tokenization.normalizers import bert_normalizer
from ch03_tokenization.pretokenizers import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN
from ch03_tokenization.unigram import UnigramTokenizer
from ch03_tokenization.wordpiece import WordPieceTokenizer

__all__ = [
    "ALGORITHMS",
    "GPT2_SPLIT_PATTERN",
    "GPT4_SPLIT_PATTERN",
    "MULTILINGUAL",
    "ByteBPETokenizer",
    "CharBPETokenizer",
    "Tokenizer",
    "UnigramTokenizer",
    "WordPieceTokenizer",
    "bert_normalizer",
    "bert_vocab_path",
    "bytes_to_unicode",
    "compare_tokenizers",
    "fertility",
    "load_tokenizer",
    "naive_train",
    "render_html",
    "train_merges",
]
