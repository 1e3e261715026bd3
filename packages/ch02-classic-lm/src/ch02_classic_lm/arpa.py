"""ARPA back-off files: write an :class:`~ch02_classic_lm.ngram.NgramLM`, read one back, score.

An ARPA file lists, for every n-gram ``g`` seen in training, ``log10 P(g[-1] | g[:-1])`` and,
for n-grams that are contexts, the back-off weight ``log10 gamma(g)``. A reader scores
``P(w | c)`` with the longest listed ``c' w`` (``c'`` a suffix of ``c``) times the back-off weights
of the longer suffixes of ``c``. Interpolated models (Kneser-Ney, Witten-Bell) fit this form
exactly, because an unseen ``c w`` gets ``alpha = 0`` and so ``P(w | c) = gamma(c) P(w | c')``;
Katz backoff is the form itself. Laplace (which skips the lower orders) and stupid backoff
(not normalised) have no ARPA form. KenLM and SRILM read what :func:`write_arpa` writes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ch02_classic_lm.ngram import BOS, NgramLM
from llmpath_core import UserError, atomic_write

NO_PROB = -99.0  # what KenLM and SRILM write for log10 P(<s>)


def _log10(p: float) -> float:
    return math.log10(p) if p > 0 else NO_PROB


def write_arpa(model: NgramLM, path: str | os.PathLike) -> Path:
    """Write ``model`` as an ARPA file (atomically); returns the path."""
    if model.smoothing in ("laplace", "lidstone", "stupid-backoff"):
        raise UserError(
            f"{model.smoothing} has no ARPA back-off form: export kneser-ney, "
            "modified-kneser-ney, witten-bell or good-turing"
        )
    tokens = model.vocab.tokens
    sections: list[list[str]] = []
    for k in range(1, model.order + 1):
        grams = model.raw[k - 1][0] if k > 1 else [[i] for i in range(len(tokens))]
        lines = []
        for row in grams:
            gram = tuple(int(i) for i in row)
            ctx, word = gram[:-1], gram[-1]
            logp = NO_PROB if word == 0 else _log10(model._prob_upto(word, ctx, k))
            text = f"{logp:.9g}\t{' '.join(tokens[i] for i in gram)}"
            if k < model.order:
                text += f"\t{_log10(model.backoff_weight(gram)):.9g}"
            lines.append(text)
        sections.append(lines)
    path = Path(path)
    with atomic_write(path) as f:
        f.write("\\data\\\n")
        for k, lines in enumerate(sections, 1):
            f.write(f"ngram {k}={len(lines)}\n")
        for k, lines in enumerate(sections, 1):
            f.write(f"\n\\{k}-grams:\n")
            f.write("\n".join(lines) + "\n")
        f.write("\n\\end\\\n")
    return path


class ArpaModel:
    """An ARPA file in memory: ``logprob(word, context)`` in log10, as KenLM computes it."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.entries: dict[tuple[str, ...], tuple[float, float]] = {}
        self.order = 0
        section = 0
        with open(path, encoding="utf-8") as f:
            for number, raw in enumerate(f, 1):
                line = raw.strip()
                if not line or line.startswith("ngram ") or line == "\\data\\":
                    continue
                if line == "\\end\\":
                    break
                if line.startswith("\\") and line.endswith("-grams:"):
                    section = int(line[1:].split("-")[0])
                    self.order = max(self.order, section)
                    continue
                parts = line.split("\t") if "\t" in line else line.split()
                if section == 0 or len(parts) < 2:
                    raise UserError(f"{path}:{number}: not an ARPA line")
                words = tuple(parts[1].split()) if "\t" in line else tuple(parts[1 : 1 + section])
                backoff = (
                    float(parts[-1]) if len(parts) > (2 if "\t" in line else 1 + section) else 0.0
                )
                self.entries[words] = (float(parts[0]), backoff)
        if self.order == 0:
            raise UserError(f"{path}: no n-gram sections found (not an ARPA file)")

    def logprob(self, word: str, context: tuple[str, ...]) -> float:
        """``log10 P(word | context)`` by back-off; unknown words score as ``<unk>``."""
        if (word,) not in self.entries:
            word = "<unk>"
        context = tuple(context[-(self.order - 1) :]) if self.order > 1 else ()
        backoff = 0.0
        for start in range(len(context) + 1):
            ctx = context[start:]
            entry = self.entries.get((*ctx, word))
            if entry is not None:
                return entry[0] + backoff
            bo = self.entries.get(ctx)
            if bo is not None:
                backoff += bo[1]
        raise UserError(f"{word!r} is not in the ARPA vocabulary and there is no <unk>")

    def sentence_logprob(self, words: list[str]) -> float:
        """log10 probability of ``<s> words </s>`` (KenLM's ``score(sentence)``)."""
        history: list[str] = [BOS]
        total = 0.0
        for w in [*words, "</s>"]:
            total += self.logprob(w, tuple(history))
            history.append(w if (w,) in self.entries else "<unk>")
        return total
