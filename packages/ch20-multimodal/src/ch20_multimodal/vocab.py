"""A closed word-level vocabulary for the scene language (captions, questions, answers).

The scene world has a few dozen words, so the tiny CLIP text tower and the tiny language model
share one word-level tokenizer: one id per word, plus ``<pad>``, ``<bos>``, ``<eos>`` and the
``<image>`` placeholder that a LLaVA-style model replaces with projected image features.
"""

from __future__ import annotations

import re

from ch20_multimodal.scenes import COLOURS, SHAPES, SIZES
from llmpath_core import UserError

SPECIALS = ("<pad>", "<bos>", "<image>", "<eos>")
WORDS = (
    [str(i) for i in range(6)]
    + list(COLOURS)
    + list(SHAPES)
    + [s + "s" for s in SHAPES]
    + list(SIZES)
    + ["how", "many", "what", "colour", "shape", "is", "the", "there", "a", "an", "of"]
    + ["left", "right", "objects", "object", "and", "nothing"]
    + ["yes", "no", "?"]
)


class WordTokenizer:
    """Word-level tokenizer over :data:`WORDS`; unknown words raise :class:`UserError`."""

    def __init__(self) -> None:
        self.itos = list(SPECIALS) + WORDS
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.pad_id, self.bos_id, self.image_id, self.eos_id = (self.stoi[s] for s in SPECIALS)

    def __len__(self) -> int:
        return len(self.itos)

    @staticmethod
    def split(text: str) -> list[str]:
        """Lower-case words, with ``?`` as its own token and other punctuation dropped."""
        text = text.lower().replace("color", "colour").replace("?", " ? ")
        return re.sub(r"[^a-z0-9? ]", " ", text).split()

    def encode(self, text: str) -> list[int]:
        """Ids of the words of ``text`` (no specials added)."""
        words = self.split(text)
        unknown = sorted({w for w in words if w not in self.stoi})
        if unknown:
            raise UserError(
                f"word(s) outside the scene vocabulary: {', '.join(unknown)} "
                "(ask about counts, colours red/green/blue/yellow, shapes circle/square/triangle)"
            )
        return [self.stoi[w] for w in words]

    def decode(self, ids: list[int]) -> str:
        """Words for ``ids``, specials dropped."""
        return " ".join(self.itos[i] for i in ids if i >= len(SPECIALS))
