"""A source with a known entropy rate: a random k-th order Markov chain over a small alphabet.

The entropy rate of a stationary Markov chain is ``H = sum_s pi(s) H(P(. | s))`` bits per symbol,
with ``pi`` the stationary distribution over the ``A^k`` states. No model trained on samples can do
better on average, so the gap between a smoothed n-gram model's held-out cross-entropy and ``H``
measures what the smoothing loses, and it should shrink as the training sample grows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MarkovSource:
    """``alphabet`` symbols, ``order`` symbols of memory, rows from Dirichlet(``concentration``).

    A small concentration gives peaked rows (low entropy, many transitions rare or unseen), which
    is where smoothing matters.
    """

    alphabet: str = "abcdefghij"
    order: int = 2
    concentration: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        a = len(self.alphabet)
        self.transitions = rng.dirichlet(np.full(a, self.concentration), size=a**self.order)

    def _next_state(self, state: int, symbol: int) -> int:
        return (state * len(self.alphabet) + symbol) % len(self.transitions)

    def stationary(self) -> np.ndarray:
        """Stationary distribution over states by power iteration."""
        a = len(self.alphabet)
        n = len(self.transitions)
        pi = np.full(n, 1.0 / n)
        states = np.arange(n)
        for _ in range(5000):
            new = np.zeros(n)
            for sym in range(a):
                np.add.at(new, (states * a + sym) % n, pi * self.transitions[:, sym])
            if np.abs(new - pi).max() < 1e-14:
                return new
            pi = new
        return pi

    def entropy_rate(self) -> float:
        """Bits per symbol."""
        p = self.transitions
        row = -np.sum(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0), axis=1)
        return float(self.stationary() @ row)

    def sample(self, n: int, seed: int) -> str:
        """``n`` symbols, started from a state drawn from the stationary distribution."""
        rng = np.random.default_rng(seed)
        a = len(self.alphabet)
        state = int(rng.choice(len(self.transitions), p=self.stationary()))
        cumulative = np.cumsum(self.transitions, axis=1)
        u = rng.random(n)
        out = np.empty(n, dtype=np.int64)
        for i in range(n):
            sym = min(int(np.searchsorted(cumulative[state], u[i], side="right")), a - 1)
            out[i] = sym
            state = self._next_state(state, sym)
        return "".join(self.alphabet[i] for i in out)

    def lines(self, n: int, seed: int, width: int = 500) -> list[list[str]]:
        """A sample cut into lines of ``width`` symbols (the n-gram models' sentences)."""
        text = self.sample(n, seed)
        return [list(text[i : i + width]) for i in range(0, n, width)]
