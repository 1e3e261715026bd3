"""The code and research assistant: doc lookup over local docs, code runs in the sandbox, and
iterative repair until the tests pass.

- :class:`DocIndex`: BM25 over paragraphs of local documentation (by default the standard
  library's module docstrings bundled with llmpath-core); ``search_docs`` is a tool.
- ``run_tests``: runs candidate code plus its tests in :mod:`ch19_agents.sandbox` and returns
  pass/fail with the failing assertion, which goes back to the model.
- :func:`repair_loop`: ask for code, test it, feed the failure back, repeat until the tests pass
  or the attempt budget is spent. The model is any ``propose(task, feedback) -> code``; the lab
  uses an :class:`~ch19_agents.agent.ScriptedModel`-style list of attempts offline.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ch19_agents.sandbox import Limits, run_code

_WORD = re.compile(r"[a-z_][a-z0-9_]+")


@dataclass
class DocIndex:
    """BM25 (k1=1.5, b=0.75) over ``(source, paragraph)`` pairs."""

    passages: list[tuple[str, str]]
    k1: float = 1.5
    b: float = 0.75
    _tf: list[Counter] = field(default_factory=list, init=False)
    _df: Counter = field(default_factory=Counter, init=False)

    def __post_init__(self) -> None:
        for _, text in self.passages:
            tf = Counter(_WORD.findall(text.lower()))
            self._tf.append(tf)
            self._df.update(tf.keys())
        self._avg = sum(sum(t.values()) for t in self._tf) / max(1, len(self._tf))

    @classmethod
    def stdlib(cls, modules: list[str] | None = None) -> DocIndex:
        from llmpath_core.data.prose import stdlib_docstrings

        docs = stdlib_docstrings()
        passages = []
        for name, text in docs.items():
            if modules and name not in modules:
                continue
            for para in re.split(r"\n\s*\n", text):
                if len(para.strip()) > 40:
                    passages.append((name, para.strip()))
        return cls(passages)

    def search(self, query: str, k: int = 3) -> list[dict[str, Any]]:
        n = len(self.passages)
        terms = _WORD.findall(query.lower())
        scores = []
        for tf in self._tf:
            length = sum(tf.values())
            s = 0.0
            for t in terms:
                if t in tf:
                    idf = math.log(1 + (n - self._df[t] + 0.5) / (self._df[t] + 0.5))
                    s += (
                        idf
                        * tf[t]
                        * (self.k1 + 1)
                        / (tf[t] + self.k1 * (1 - self.b + self.b * length / self._avg))
                    )
            scores.append(s)
        best = sorted(range(n), key=lambda i: -scores[i])[:k]
        return [
            {
                "source": self.passages[i][0],
                "text": self.passages[i][1][:400],
                "score": round(scores[i], 3),
            }
            for i in best
            if scores[i] > 0
        ]


def run_tests(code: str, tests: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """Run ``code`` then ``tests`` (plain asserts) in the sandbox: passed, and the failure."""
    checks = [ln.strip() for ln in tests.splitlines() if ln.strip()]
    runner = "\n".join(
        f"try:\n    {ln}\nexcept AssertionError:\n    raise AssertionError({ln!r}) from None"
        for ln in checks
    )
    source = code + "\n\n" + runner + "\nprint('ALL TESTS PASSED')\n"
    result = run_code(source, Limits(timeout_s=timeout_s))
    passed = result.ok and "ALL TESTS PASSED" in result.stdout
    return {"passed": passed, "error": None if passed else result.error, "status": result.status}


@dataclass
class RepairResult:
    passed: bool
    attempts: int
    history: list[dict[str, Any]]
    code: str


def repair_loop(
    propose: Callable[[str, str | None], str], task: str, tests: str, max_attempts: int = 4
) -> RepairResult:
    """Propose code, run the tests in the sandbox, feed back the failure; stop when they pass."""
    feedback: str | None = None
    history = []
    code = ""
    for attempt in range(1, max_attempts + 1):
        code = propose(task, feedback)
        outcome = run_tests(code, tests)
        history.append({"attempt": attempt, **outcome})
        if outcome["passed"]:
            return RepairResult(True, attempt, history, code)
        feedback = f"The tests failed: {outcome['error']}"
    return RepairResult(False, max_attempts, history, code)


MEDIAN_TASK = "Write median(xs) returning the median of a non-empty list of numbers."
MEDIAN_TESTS = """
assert median([3, 1, 2]) == 2
assert median([4, 1, 3, 2]) == 2.5
assert median([7]) == 7
"""
MEDIAN_ATTEMPTS = [
    # 1: forgets to sort
    "def median(xs):\n    return xs[len(xs) // 2]\n",
    # 2: sorts, but even lengths are wrong
    "def median(xs):\n    s = sorted(xs)\n    return s[len(s) // 2]\n",
    # 3: after reading statistics.median's docs: the mean of the two middle values
    "def median(xs):\n    s = sorted(xs)\n    n = len(s)\n    mid = n // 2\n"
    "    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2\n",
]


def scripted_proposer(attempts: list[str]) -> Callable[[str, str | None], str]:
    """A proposer that returns the next prepared attempt each time (offline stand-in model)."""
    queue = list(attempts)

    def propose(task: str, feedback: str | None) -> str:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return propose
