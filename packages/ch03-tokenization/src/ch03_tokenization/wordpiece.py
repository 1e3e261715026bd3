"""WordPiece, BERT style (Schuster & Nakajima, 2012; Devlin et al., 2019).

Encoding: BERT's normalizer (clean text, pad CJK ideographs, strip accents, lowercase), split on
whitespace and punctuation, then each word greedily takes the longest vocabulary entry from the
left; pieces after the first carry the ``##`` prefix. A word with no full segmentation, or longer
than ``max_input_chars_per_word`` characters, becomes ``[UNK]``. This reproduces
``BertTokenizerFast`` id for id on the real BERT uncased vocabulary (the tests check it).

Training (likelihood, as in the original WordPiece): start from characters (``##`` marking
non-initial ones) and repeatedly merge the pair with the highest
``count(ab) / (count(a) * count(b))`` — the merge that most increases the corpus likelihood
under a unigram model of the pieces — until the vocabulary is full.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from ch03_tokenization.base import Tokenizer, as_texts, hf_skeleton
from ch03_tokenization.normalizers import bert_normalizer
from ch03_tokenization.pretokenizers import bert_pre_tokenize
from llmpath_core import UserError

PREFIX = "##"
BERT_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


class WordPieceTokenizer(Tokenizer):
    """BERT's WordPiece: greedy longest-match-first encoding over a fixed vocabulary."""

    algo: ClassVar[str] = "wordpiece"

    def __init__(
        self,
        vocab: list[str] | None = None,
        lowercase: bool = True,
        unk_token: str = "[UNK]",
        max_input_chars_per_word: int = 100,
    ) -> None:
        super().__init__()
        self.lowercase = lowercase
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word
        self.normalize = bert_normalizer(lowercase)
        self._set_vocab(vocab if vocab is not None else list(BERT_SPECIAL))

    def _set_vocab(self, vocab: list[str]) -> None:
        self.vocab = vocab
        self.token_to_id = {t: i for i, t in enumerate(vocab)}
        self.special_tokens = {
            t: self.token_to_id[t] for t in BERT_SPECIAL if t in self.token_to_id
        }

    def base_vocab_size(self) -> int:
        return len(self.vocab)

    @classmethod
    def from_vocab_file(cls, path: str | Path, lowercase: bool = True) -> WordPieceTokenizer:
        """Load a BERT ``vocab.txt`` (one token a line, the line number is the id)."""
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        if not lines:
            raise UserError(f"{path}: empty vocabulary file")
        tok = cls([line.rstrip("\n") for line in lines], lowercase=lowercase)
        if tok.unk_token not in tok.token_to_id:
            raise UserError(f"{path}: no {tok.unk_token} token: not a WordPiece vocab.txt")
        return tok

    # -- encoding ------------------------------------------------------------------------------
    def word_pieces(self, word: str) -> list[str]:
        """Greedy longest-match-first segmentation of one word (``[UNK]`` if impossible)."""
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_token]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                candidate = word[start:end] if start == 0 else PREFIX + word[start:end]
                if candidate in self.token_to_id:
                    found = candidate
                    break
                end -= 1
            if found is None:
                return [self.unk_token]
            pieces.append(found)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        pieces: list[str] = []
        for word in bert_pre_tokenize(self.normalize(text)):
            pieces.extend(self.word_pieces(word))
        return pieces

    def encode_ordinary(self, text: str) -> list[int]:
        return [self.token_to_id[p] for p in self.tokenize(text)]

    def encode(
        self, text: str, allowed_special: str | set[str] = "none", add_special_tokens: bool = False
    ) -> list[int]:
        ids = super().encode(text, allowed_special)
        if add_special_tokens:
            ids = [self.token_to_id["[CLS]"], *ids, self.token_to_id["[SEP]"]]
        return ids

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        """Join pieces (``##`` glues to the previous one). Lossy: case, accents, spacing."""
        words: list[str] = []
        for i in ids:
            if not 0 <= i < len(self.vocab):
                raise UserError(f"token id {i} is outside the vocabulary (size {len(self.vocab)})")
            token = self.vocab[i]
            if skip_special_tokens and token in self.special_tokens:
                continue
            if token.startswith(PREFIX) and words:
                words[-1] += token[len(PREFIX) :]
            else:
                words.append(token)
        return " ".join(words)

    def id_to_token(self, token_id: int) -> str:
        return self.vocab[token_id]

    # -- training ------------------------------------------------------------------------------
    def train(
        self,
        texts: str | Iterable[str],
        vocab_size: int,
        special_tokens: Iterable[str] = BERT_SPECIAL,
        min_frequency: int = 2,
        progress: Any = None,
    ) -> WordPieceTokenizer:
        """Likelihood-driven WordPiece training on the normalized, pre-tokenized words.

        Pairs seen fewer than ``min_frequency`` times are not merged (the likelihood score
        ``count(ab) / (count(a) count(b))`` otherwise favours pairs of one-off characters).
        """
        docs = as_texts(texts)
        words: Counter[str] = Counter()
        for doc in docs:
            words.update(bert_pre_tokenize(self.normalize(doc)))
        specials = list(dict.fromkeys([*special_tokens, self.unk_token]))
        splits = {w: [w[0]] + [PREFIX + ch for ch in w[1:]] for w in words}
        alphabet = sorted({p for s in splits.values() for p in s})
        if vocab_size < len(specials) + len(alphabet):
            raise UserError(
                f"vocab size {vocab_size} is smaller than the base alphabet "
                f"({len(specials)} special tokens + {len(alphabet)} characters)"
            )
        vocab = specials + alphabet
        piece_counts: Counter[str] = Counter()
        pair_counts: Counter[tuple[str, str]] = Counter()
        where: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
        for w, split in splits.items():
            c = words[w]
            for p in split:
                piece_counts[p] += c
            for pair in itertools.pairwise(split):
                pair_counts[pair] += c
                where[pair].add(w)
        known = set(vocab)
        while len(vocab) < vocab_size:
            live = [(p, c) for p, c in pair_counts.items() if c >= max(1, min_frequency)]
            if not live:
                break
            (a, b), _ = max(
                live,
                key=lambda pc: (
                    pc[1] / (piece_counts[pc[0][0]] * piece_counts[pc[0][1]]),
                    pc[1],
                    pc[0],
                ),
            )
            merged = a + b[len(PREFIX) :] if b.startswith(PREFIX) else a + b
            for w in where.pop((a, b)):
                split, c = splits[w], words[w]
                if not any(x == a and y == b for x, y in itertools.pairwise(split)):
                    continue
                for pair in itertools.pairwise(split):
                    pair_counts[pair] -= c
                for p in split:
                    piece_counts[p] -= c
                new, i = [], 0
                while i < len(split):
                    if i < len(split) - 1 and split[i] == a and split[i + 1] == b:
                        new.append(merged)
                        i += 2
                    else:
                        new.append(split[i])
                        i += 1
                splits[w] = new
                for p in new:
                    piece_counts[p] += c
                for pair in itertools.pairwise(new):
                    pair_counts[pair] += c
                    where[pair].add(w)
            pair_counts.pop((a, b), None)
            if merged not in known:
                known.add(merged)
                vocab.append(merged)
            if progress is not None:
                progress(len(vocab))
        self._set_vocab(vocab)
        return self

    # -- files ---------------------------------------------------------------------------------
    def save_extras(self, directory: Path) -> None:
        (directory / "vocab.txt").write_text("\n".join(self.vocab) + "\n", encoding="utf-8")

    def to_hf_dict(self) -> dict[str, Any]:
        model = {
            "type": "WordPiece",
            "unk_token": self.unk_token,
            "continuing_subword_prefix": PREFIX,
            "max_input_chars_per_word": self.max_input_chars_per_word,
            "vocab": self.token_to_id,
        }
        normalizer = {
            "type": "BertNormalizer",
            "clean_text": True,
            "handle_chinese_chars": True,
            "strip_accents": None,
            "lowercase": self.lowercase,
        }
        decoder = {"type": "WordPiece", "prefix": PREFIX, "cleanup": True}
        return hf_skeleton(
            model,
            added_tokens=self._added_tokens_json(),
            normalizer=normalizer,
            pre_tokenizer={"type": "BertPreTokenizer"},
            decoder=decoder,
        )

    @classmethod
    def from_hf_dict(cls, obj: dict[str, Any]) -> WordPieceTokenizer:
        model = obj["model"]
        items = sorted(model["vocab"].items(), key=lambda kv: kv[1])
        normalizer = obj.get("normalizer") or {}
        tok = cls(
            [t for t, _ in items],
            lowercase=bool(normalizer.get("lowercase", True)),
            unk_token=model.get("unk_token", "[UNK]"),
            max_input_chars_per_word=model.get("max_input_chars_per_word", 100),
        )
        return tok


__all__ = ["BERT_SPECIAL", "PREFIX", "WordPieceTokenizer"]
