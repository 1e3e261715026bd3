"""Self-consistency's majority vote and the unbiased pass@k estimator.

- Majority vote (Wang et al. 2022): sample N chains, answer with the most frequent final answer;
  chains without an answer do not vote; ties go to the answer seen first.
- Adaptive vote (a deliberation budget, in the spirit of Aggarwal et al. 2023,
  "Adaptive-Consistency"): draw chains a few at a time and stop as soon as the leading answer is
  ``lead`` votes ahead of the runner-up, or at ``max_n``; easy problems stop early, disputed ones
  get more samples.
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


def adaptive_vote(
    answers: Sequence[Hashable | None], *, start: int = 2, step: int = 1, lead: int = 2
) -> tuple[Hashable | None, int]:
    """Vote over a prefix of ``answers`` (the chains in sampling order; ``len`` = the cap).

    Takes ``start`` chains, then ``step`` more at a time, until the most frequent answer leads
    the second by at least ``lead`` votes or all are used. Returns (answer, chains used); the
    answer is :func:`majority_vote` of the chains used.
    """
    if start < 1 or step < 1 or lead < 1:
        raise ValueError("start, step and lead must be >= 1")
    used = min(start, len(answers))
    while True:
        votes = [a for a in answers[:used] if a is not None]
        counts = [*sorted((votes.count(a) for a in set(votes)), reverse=True), 0, 0]
        if counts[0] - counts[1] >= lead or used >= len(answers):
            return majority_vote(answers[:used]), used
        used = min(used + step, len(answers))


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
