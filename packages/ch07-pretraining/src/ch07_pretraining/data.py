"""Tokenize and pack a corpus into memory-mapped token files, then cut training batches from them.

``prepare_corpus`` trains a byte-level BPE tokenizer (HF ``tokenizers``, GPT-2 style) on the
corpus, encodes every document followed by ``<|endoftext|>`` and writes one flat array of token ids
per split (``train.bin``, ``val.bin``; uint16 when the vocabulary fits, else uint32) plus
``meta.json`` and the tokenizer, the layout nanoGPT's ``prepare.py`` popularised.

``TokenData.batch(position, ...)`` returns the global batch for one *data position*: its window
offsets come from a generator seeded with ``(seed, position)``, so a batch depends only on its
position. That makes the data position the whole state of the data loader, which is what exact
resume and "skip the offending batch" need.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from llmpath_core import UserError, atomic_dir, load_documents
from llmpath_core.data import BUNDLED

EOS = "<|endoftext|>"


def train_tokenizer(docs: list[str], vocab_size: int):
    """Train a byte-level BPE tokenizer on ``docs``; returns a ``PreTrainedTokenizerFast``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 257 + 1:
        raise UserError(f"vocab_size {vocab_size} is too small: byte-level BPE needs at least 258")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(docs, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=EOS, eos_token=EOS, pad_token=EOS, unk_token=None
    )


def load_tokenizer_file(path: str | os.PathLike):
    """Load a trained ``tokenizer.json`` (a file or a folder holding one) for packing a corpus."""
    from transformers import PreTrainedTokenizerFast

    path = Path(path)
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        raise UserError(f"{path}: no tokenizer.json there (train one with ch03-tokenization train)")
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(file))
    if raw.token_to_id(EOS) is None:  # checked before the wrapper would add it as a new token
        raise UserError(f"{file}: the tokenizer has no {EOS} token (train it with --special {EOS})")
    return PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token=EOS, eos_token=EOS, pad_token=EOS, unk_token=None
    )


def token_byte_lengths(tokenizer) -> np.ndarray:
    """Bytes each token id stands for (0 for special tokens): the denominator of bits per byte.

    The same count ``llmpath_core.evaluate_lm`` uses (GPT-2's bytes-to-unicode map makes every
    character of a byte-level token string one byte), as an array for fancy indexing.
    """
    from llmpath_core.models import token_byte_lengths as byte_lengths

    return np.asarray(byte_lengths(tokenizer), dtype=np.int64)


def _split_documents(source: str, max_chars: int | None, val_fraction: float):
    name = source.partition(":")[0]
    if name in BUNDLED:
        train = load_documents(name, split="train", max_chars=max_chars)
        val_chars = max(10_000, int((max_chars or 1_000_000) * val_fraction))
        val = load_documents(name, split="validation", max_chars=val_chars)
        return train, val
    docs = [d for d in load_documents(source, max_chars=max_chars) if d.strip()]
    if not docs:
        raise UserError(f"{source}: the corpus is empty")
    if len(docs) >= 20:
        cut = len(docs) - max(1, int(len(docs) * val_fraction))
        return docs[:cut], docs[cut:]
    text = "\n\n".join(docs)  # a few big files: hold out the tail characters
    cut = int(len(text) * (1 - val_fraction))
    return [text[:cut]], [text[cut:]]


def _encode(tokenizer, docs: list[str], dtype) -> np.ndarray:
    eos = tokenizer.eos_token_id
    ids: list[int] = []
    for start in range(0, len(docs), 512):
        for row in tokenizer(docs[start : start + 512])["input_ids"]:
            ids.extend(row)
            ids.append(eos)
    return np.asarray(ids, dtype=dtype)


def prepare_corpus(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    vocab_size: int = 4096,
    max_chars: int | None = 2_000_000,
    val_fraction: float = 0.05,
    tokenizer: str | os.PathLike | None = None,
) -> dict:
    """Train a tokenizer on ``source`` and pack it into ``out`` (written atomically).

    ``out`` then holds ``tokenizer.json`` (+ ``tokenizer_config.json``), ``train.bin``, ``val.bin``
    and ``meta.json``. Returns the metadata. With ``tokenizer`` (a ``tokenizer.json`` file or a
    folder holding one, e.g. from ``ch03-tokenization train --special '<|endoftext|>'``) that
    tokenizer is used instead of training one; it must know the ``<|endoftext|>`` token.
    """
    source = os.fspath(source)
    if not 0 < val_fraction < 0.5:
        raise UserError("val_fraction must be between 0 and 0.5")
    train_docs, val_docs = _split_documents(source, max_chars, val_fraction)
    if not any(d.strip() for d in train_docs) or not any(d.strip() for d in val_docs):
        raise UserError(f"{source}: the corpus is empty (no text to train on)")
    tokenizer = (
        train_tokenizer(train_docs, vocab_size)
        if tokenizer is None
        else load_tokenizer_file(tokenizer)
    )
    dtype = np.uint16 if len(tokenizer) <= 65536 else np.uint32
    train_ids = _encode(tokenizer, train_docs, dtype)
    val_ids = _encode(tokenizer, val_docs, dtype)
    meta = {
        "source": source,
        "vocab_size": len(tokenizer),
        "dtype": np.dtype(dtype).name,
        "train_tokens": int(train_ids.size),
        "val_tokens": int(val_ids.size),
        "train_bytes": int(sum(len(d.encode("utf-8")) for d in train_docs)),
        "val_bytes": int(sum(len(d.encode("utf-8")) for d in val_docs)),
        "train_docs": len(train_docs),
        "val_docs": len(val_docs),
    }
    meta["bytes_per_token"] = round(meta["train_bytes"] / max(1, meta["train_tokens"]), 4)
    with atomic_dir(out) as tmp:
        tokenizer.save_pretrained(tmp)
        train_ids.tofile(tmp / "train.bin")
        val_ids.tofile(tmp / "val.bin")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


@dataclass
class TokenData:
    """A prepared data folder: memory-mapped token arrays, the tokenizer and its metadata."""

    path: Path
    meta: dict
    train: np.memmap
    val: np.memmap

    @classmethod
    def open(cls, path: str | os.PathLike) -> TokenData:
        path = Path(path)
        meta_file = path / "meta.json"
        if not meta_file.is_file():
            raise UserError(
                f"{path} is not a prepared data folder (no meta.json): run "
                "`ch07-pretraining prepare --out DIR` first"
            )
        meta = json.loads(meta_file.read_text())
        arrays = {}
        for split in ("train", "val"):
            file = path / f"{split}.bin"
            if not file.is_file() or file.stat().st_size == 0:
                raise UserError(f"{file} is missing or empty: prepare the data again")
            arrays[split] = np.memmap(file, dtype=np.dtype(meta["dtype"]), mode="r")
        return cls(path, meta, arrays["train"], arrays["val"])

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    def tokenizer(self):
        from transformers import PreTrainedTokenizerFast

        return PreTrainedTokenizerFast.from_pretrained(self.path)

    def check_seq_len(self, seq_len: int) -> None:
        for name, arr in (("train", self.train), ("val", self.val)):
            if arr.size < seq_len + 2:
                raise UserError(
                    f"the {name} split has {arr.size} tokens, fewer than one sequence of "
                    f"{seq_len}: use a shorter --seq-len or more data"
                )

    def batch(self, position: int, batch_size: int, seq_len: int, seed: int):
        """The global batch for data ``position``: ``(inputs, targets)`` of shape (B, T)."""
        gen = torch.Generator().manual_seed(seed * 1_000_003 + position)
        starts = torch.randint(0, self.train.size - seq_len - 1, (batch_size,), generator=gen)
        rows = np.stack([self.train[s : s + seq_len + 1] for s in starts.tolist()])
        block = torch.from_numpy(rows.astype(np.int64))
        return block[:, :-1], block[:, 1:]

    def val_windows(self, n_batches: int, batch_size: int, seq_len: int):
        """Fixed validation batches: non-overlapping windows spread evenly over the split."""
        n_windows = min(n_batches * batch_size, (self.val.size - 1) // seq_len)
        stride = max(seq_len, (self.val.size - 1 - seq_len) // max(1, n_windows))
        starts = [i * stride for i in range(n_windows)]
        for i in range(0, len(starts), batch_size):
            rows = np.stack([self.val[s : s + seq_len + 1] for s in starts[i : i + batch_size]])
            block = torch.from_numpy(rows.astype(np.int64))
            yield block[:, :-1], block[:, 1:]


def prepare_cached(
    source: str,
    cache_root: str | os.PathLike,
    *,
    vocab_size: int = 4096,
    max_chars: int | None = 2_000_000,
    val_fraction: float = 0.05,
) -> tuple[Path, dict, bool]:
    """:func:`prepare_corpus` once per distinct input: ``(folder, meta, was_cached)``.

    Preparing is deterministic, so the folder under ``cache_root`` is named after a hash of the
    documents themselves and the settings: a changed corpus gets a new folder, never stale tokens.
    """
    import hashlib

    train_docs, val_docs = _split_documents(source, max_chars, val_fraction)
    digest = hashlib.sha256(json.dumps([vocab_size, train_docs, val_docs]).encode()).hexdigest()
    name = Path(source.partition(":")[0]).name or "corpus"
    folder = Path(cache_root) / f"{name}-{vocab_size}-{digest[:12]}"
    if (folder / "meta.json").is_file():
        return folder, json.loads((folder / "meta.json").read_text()), True
    meta = prepare_corpus(
        source, folder, vocab_size=vocab_size, max_chars=max_chars, val_fraction=val_fraction
    )
    return folder, meta, False


def nats_to_bits_per_byte(total_nats: float, total_bytes: int) -> float:
    """Convert a summed cross-entropy (nats) over ``total_bytes`` bytes to bits per byte."""
    return total_nats / (math.log(2) * max(1, total_bytes))


__all__ = [
    "EOS",
    "TokenData",
    "nats_to_bits_per_byte",
    "prepare_cached",
    "prepare_corpus",
    "token_byte_lengths",
    "train_tokenizer",
]
