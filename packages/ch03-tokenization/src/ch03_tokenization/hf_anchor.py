"""The anchor for byte-level BPE: the same training done by Hugging Face ``tokenizers``.

``BpeTrainer`` behind a ``Split(pattern, "isolated")`` + ``ByteLevel`` pre-tokenizer with the
full byte alphabet is exactly the configuration our :class:`ByteBPETokenizer` trains under, so
the two merge lists can be compared item by item (tests, labs and benchmarks all use this one).
"""

from __future__ import annotations

import json

from tokenizers import Regex, models, pre_tokenizers, trainers
from tokenizers import Tokenizer as HFTokenizer


def hf_byte_bpe(docs: list[str], vocab_size: int, pattern: str) -> HFTokenizer:
    """Train HF's byte-level BPE on ``docs`` with the split ``pattern`` to ``vocab_size``."""
    hf = HFTokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    hf.train_from_iterator(
        docs,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    return hf


def hf_merges(hf: HFTokenizer) -> list[list[str]]:
    """The merge list of a trained HF BPE, as ``[left, right]`` pairs (either JSON layout)."""
    merges = json.loads(hf.to_str())["model"]["merges"]
    return [m.split(" ") if isinstance(m, str) else list(m) for m in merges]


__all__ = ["hf_byte_bpe", "hf_merges"]
