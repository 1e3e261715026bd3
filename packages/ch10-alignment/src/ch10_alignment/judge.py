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


def _nll_with(model, tokenizer, batch: int = 32):
    """``f(texts) -> mean per-token NLL`` (nats) of each text under ``model`` (frozen, no grad).

    Each text is scored on its own (after the tokenizer's BOS if it has one); a text of fewer
    than two tokens gets NLL 0 (nothing to predict). ``model`` is only read, never trained.
    """
    import torch

    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []

    def nll(texts: list[str]) -> list[float]:
        out: list[float] = []
        for start in range(0, len(texts), batch):
            ids = [
                bos + tokenizer(t, add_special_tokens=False)["input_ids"]
                for t in texts[start : start + batch]
            ]
            width = max(len(x) for x in ids)
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
            x = torch.tensor([s + [pad] * (width - len(s)) for s in ids])
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in ids])
            with torch.no_grad():
                logits = model(
                    input_ids=x.to(model.device), attention_mask=mask.to(model.device)
                ).logits.float()
            lp = torch.log_softmax(logits[:, :-1], -1)
            tok_lp = lp.gather(-1, x[:, 1:, None].to(lp.device)).squeeze(-1).cpu()
            m = mask[:, 1:].float()
            n = m.sum(-1)
            per = -(tok_lp * m).sum(-1) / n.clamp(min=1)
            out.extend(float(v) if k > 0 else 0.0 for v, k in zip(per, n, strict=True))
        return out

    return nll


@dataclass
class MultiJudge:
    """A harder programmatic judge: several dimensions, each cheap to verify, summed.

    - **keywords**: +1 per *distinct* target word, at most ``max_keywords`` (repeating a word or
      listing every target word earns nothing more);
    - **banned**: ``-banned_weight`` per banned word;
    - **repetition**: ``-repeat_weight`` x (1 - distinct words / words) (a text that repeats
      itself loses up to ``repeat_weight``);
    - **length**: ``-length_weight`` x the fraction of words missing below ``min_words``;
    - **fluency**: ``-fluency_weight`` x max(0, NLL - ``nll_threshold``), the text's mean
      per-token NLL under a frozen scorer (the default / starting model: its own perplexity),
      when ``nll_fn`` is given. Without it this dimension is 0.

    ``score(text)`` is the sum; ``dimensions(text)`` the parts. Scores are cached per text.
    """

    nll_fn: object = None  # Callable[[list[str]], list[float]] | None
    targets: tuple[str, ...] = POSITIVE
    banned: tuple[str, ...] = BANNED
    max_keywords: int = 2
    banned_weight: float = 1.0
    repeat_weight: float = 2.0
    min_words: int = 6
    length_weight: float = 1.0
    nll_threshold: float = 4.5
    fluency_weight: float = 1.0
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_model(cls, model, tokenizer, **kw) -> MultiJudge:
        """A judge whose fluency dimension is the perplexity under ``model`` (kept frozen)."""
        return cls(nll_fn=_nll_with(model, tokenizer), **kw)

    def _heuristics(self, text: str) -> dict[str, float]:
        words = re.findall(r"[a-z]+", text.lower())
        distinct_targets = {w for w in words if w in self.targets}
        n = len(words)
        return {
            "keywords": float(min(len(distinct_targets), self.max_keywords)),
            "banned": -self.banned_weight * sum(w in self.banned for w in words),
            "repetition": -self.repeat_weight * (1 - len(set(words)) / n) if n else 0.0,
            "length": -self.length_weight * max(0, self.min_words - n) / self.min_words,
        }

    def dimensions_many(self, texts: list[str]) -> list[dict[str, float]]:
        """``dimensions`` of each text, computing the fluency NLLs in batches."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            nlls = self.nll_fn(todo) if self.nll_fn is not None else [None] * len(todo)
            for t, v in zip(todo, nlls, strict=True):
                d = self._heuristics(t)
                d["nll"] = float("nan") if v is None else float(v)
                d["fluency"] = (
                    0.0 if v is None else -self.fluency_weight * max(0.0, v - self.nll_threshold)
                )
                d["total"] = (
                    d["keywords"] + d["banned"] + d["repetition"] + d["length"] + d["fluency"]
                )
                self._cache[t] = d
        return [dict(self._cache[t]) for t in texts]

    def dimensions(self, text: str) -> dict[str, float]:
        """Each dimension's contribution, the fluency NLL (``nll``) and their sum (``total``)."""
        return self.dimensions_many([text])[0]

    def score(self, text: str) -> float:
        """The judge's score of ``text`` (higher is better)."""
        return self.dimensions(text)["total"]

    def score_many(self, texts: list[str]) -> list[float]:
        """``score`` of each text (batched fluency)."""
        return [d["total"] for d in self.dimensions_many(texts)]

    def prefer(self, a: str, b: str) -> float:
        """1.0 if ``a`` is preferred to ``b``, 0.0 if ``b`` is, 0.5 on a tie."""
        sa, sb = self.score_many([a, b])
        return 1.0 if sa > sb else 0.0 if sa < sb else 0.5
