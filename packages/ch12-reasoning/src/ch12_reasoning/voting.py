"""Self-consistency's majority vote and the unbiased pass@k estimator.

- Majority vote (Wang et al. 2022): sample N chains, answer with the most frequent final answer;
  chains without an answer do not vote; ties go to the answer seen first.
- pass@k (Chen et al. 2021, Codex): from ``n`` samples of which ``c`` are correct,
  ``1 - C(n-c, k) / C(n, k)`` is the unbiased estimate of "at least one of k samples is
  correct", computed as a stable product.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def majority_vote(answers: Sequence[Hashable | None]) -> Hashable | None:
    """The most frequent non-``None`` answer (first seen wins a tie), or ``None``."""
    counts: dict[Hashable, int] = {}
    for a in answers:
        if a is not None:
            counts[a] = counts.get(a, 0) + 1
    if not counts:
        return None
    best = max(counts.values())
    return next(a for a in counts if counts[a] == best)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples with ``c`` correct (``k <= n``)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    prob_all_wrong = 1.0
    for i in range(n - c + 1, n + 1):
        prob_all_wrong *= 1.0 - k / i
    return 1.0 - prob_all_wrong
