"""A programmatic judge: cheap to verify, so preference data and win rates need no human."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

POSITIVE = (
    "happy",
    "smiled",
    "smile",
    "laughed",
    "loved",
    "love",
    "kind",
    "friend",
    "friends",
    "fun",
    "glad",
    "hug",
    "best",
    "good",
    "nice",
    "great",
    "together",
    "shared",
)
BANNED = ("sad", "cried", "angry", "lost", "broke", "broken", "scared", "grumpy", "alone", "cross")


@dataclass(frozen=True)
class KeywordJudge:
    """Scores a text: +1 per target (positive-sentiment) word, -``banned_weight`` per banned word.

    ``prefer(a, b)`` is 1 when ``a`` scores higher, 0 when lower, 0.5 on a tie.
    """

    targets: tuple[str, ...] = POSITIVE
    banned: tuple[str, ...] = BANNED
    banned_weight: float = 1.0
    _words: re.Pattern = field(default=re.compile(r"[a-z]+"), repr=False, compare=False)

    def score(self, text: str) -> float:
        """The judge's score of ``text`` (higher is better)."""
        words = self._words.findall(text.lower())
        good = sum(w in self.targets for w in words)
        bad = sum(w in self.banned for w in words)
        return float(good - self.banned_weight * bad)

    def prefer(self, a: str, b: str) -> float:
        """1.0 if ``a`` is preferred to ``b``, 0.0 if ``b`` is, 0.5 on a tie."""
        sa, sb = self.score(a), self.score(b)
        return 1.0 if sa > sb else 0.0 if sa < sb else 0.5
