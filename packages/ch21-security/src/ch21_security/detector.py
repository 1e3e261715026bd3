"""Prompt-injection and jailbreak detection: heuristics, canary tokens and a trained classifier.

Three layers, cheapest first:

1. **Heuristics** -- regular expressions for the phrasing injections share ("ignore previous
   instructions", role-play escapes, fake system/turn delimiters, hidden-comment payloads,
   exfiltration URLs); each hit is also a feature for the classifier.
2. **Canary tokens** (as in Rebuff): a random token planted in the system prompt; if it appears in
   a model's output or in a later input, the prompt leaked -- no model needed to tell.
3. **A classifier** trained here on :mod:`ch21_security.injection_data`: logistic regression on
   hashed character 3-5-grams and word 1-2-grams (the hashing trick, 2^18 buckets) plus the
   heuristic flags, fitted by full-batch L-BFGS in float64 from a zero start, so the same data
   gives the same weights on every machine.
"""

from __future__ import annotations

import functools
import itertools
import re
import secrets
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

HEURISTICS: dict[str, str] = {
    "override": (
        r"\b(ignore|disregard|forget|override|bypass)\b[^.?!\n]{0,40}\b(previous|prior|above|earli"
        r"er|all|your|any)\b[^.?!\n]{0,30}\b(instructions?|rules?|directions?|guidelines?|prompt|t"
        r"ask|told|policy)"
    ),
    "new_instructions": r"\b(new|real|priority|updated)\s+(task|instructions?|instruction)\b",
    "system_delimiter": (
        r"(</?\s*(system|user|assistant|instructions)\s*>|###\s*(system|end)|\bsystem\s*(override|"
        r"note)\b)"
    ),
    "leak_request": (
        r"\b(reveal|print|show|output|repeat|tell me)\b[^.?!\n]{0,30}\b(system"
        r" prompt|secret|password|api key|hidden instructions|text above)"
    ),
    "roleplay_escape": (
        r"\b(DAN|do anything now|developer mode|unfiltered|uncensored|without (any"
        r" )?(filters?|restrictions|rules)|no restrictions|evil twin|broken free)\b"
    ),
    "authority": (
        r"\b(as your (admin|developer|creator)|full clearance|administrator says|rules are"
        r" lifted|ethics do not apply)\b"
    ),
    "ai_addressed": (
        r"\b(ai|assistant|language model|ai agent)\b\s*(reading this|processes"
        r" this|:|,)\s*[^.\n]{0,20}\b(ignore|disregard|override|reveal|send|call|say|write|print|t"
        r"ransfer|list|repeat|answer|tell|output)"
    ),
    "exfiltration": r"https?://[^\s'\"]*(evil|collect|exfil|attacker)",
    "hypothetical": (
        r"\b(hypothetically|for a novel|bedtime story|stay in character|no disclaimers)\b"
    ),
}
_COMPILED = {name: re.compile(p, re.IGNORECASE) for name, p in HEURISTICS.items()}
N_BUCKETS = 1 << 18


def heuristic_hits(text: str) -> list[str]:
    """Names of the heuristics that fire on ``text``."""
    return [name for name, rx in _COMPILED.items() if rx.search(text)]


def make_canary(prefix: str = "CANARY") -> str:
    """A fresh random canary token to plant in a system prompt."""
    return f"{prefix}-{secrets.token_hex(6)}"


def canary_leaked(text: str, canaries: Iterable[str]) -> bool:
    """True if any canary appears in ``text``."""
    return any(c and c in text for c in canaries)


def _hash(s: str) -> int:
    return zlib.crc32(s.encode("utf-8")) % N_BUCKETS


def featurize(text: str) -> dict[int, float]:
    """Hashed, L2-normalised binary n-gram features of ``text`` (heuristic flags added after)."""
    t = " " + re.sub(r"\s+", " ", text.lower()) + " "
    keys = {_hash("c" + t[i : i + n]) for n in (3, 4, 5) for i in range(len(t) - n + 1)}
    words = re.findall(r"[a-z0-9']+|[<>/#{}\[\]:]", t)
    keys |= {_hash("w" + w) for w in words}
    keys |= {_hash("b" + a + " " + b) for a, b in itertools.pairwise(words)}
    norm = 1.0 / np.sqrt(max(len(keys), 1))
    return dict.fromkeys(keys, norm)


def _matrix(texts: Sequence[str]):
    from scipy import sparse

    rows, cols, vals = [], [], []
    names = list(HEURISTICS)
    for r, text in enumerate(texts):
        for k, v in featurize(text).items():
            rows.append(r)
            cols.append(k)
            vals.append(v)
        for h in heuristic_hits(text):
            rows.append(r)
            cols.append(N_BUCKETS + names.index(h))
            vals.append(1.0)
    shape = (len(texts), N_BUCKETS + len(names))
    return sparse.csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float64)


@dataclass
class InjectionClassifier:
    """Logistic regression over :func:`featurize` features plus the heuristic flags."""

    weights: np.ndarray
    bias: float
    threshold: float = 0.5

    @classmethod
    def fit(
        cls, texts: Sequence[str], labels: Sequence[int], l2: float = 1e-3
    ) -> InjectionClassifier:
        """Fit by L-BFGS on the mean log loss plus ``l2 * |w|^2 / 2`` (deterministic)."""
        from scipy.optimize import minimize

        x = _matrix(texts)
        y = np.asarray(labels, dtype=np.float64)
        n, d = x.shape

        def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = theta[:d], theta[d]
            z = x @ w + b
            p = 1.0 / (1.0 + np.exp(-z))
            loss = np.mean(np.logaddexp(0, z) - y * z) + 0.5 * l2 * w @ w
            r = (p - y) / n
            return loss, np.concatenate([x.T @ r + l2 * w, [r.sum()]])

        res = minimize(
            loss_grad, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500}
        )
        return cls(weights=res.x[:d], bias=float(res.x[d]))

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of injection for each text."""
        if not texts:
            return np.zeros(0)
        z = _matrix(texts) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))


@dataclass
class Detection:
    """The verdict on one text."""

    injection: bool
    score: float
    heuristics: list[str]
    canary: bool = False

    def to_dict(self) -> dict:
        return {
            "injection": self.injection,
            "score": self.score,
            "heuristics": self.heuristics,
            "canary": self.canary,
        }


class InjectionDetector:
    """Heuristics + canaries + classifier: ``detect(texts) -> [Detection]``."""

    def __init__(self, classifier: InjectionClassifier, canaries: Sequence[str] = ()) -> None:
        self.classifier = classifier
        self.canaries = list(canaries)

    def detect(self, texts: Sequence[str]) -> list[Detection]:
        """One :class:`Detection` per text; a canary hit forces ``injection=True, score=1``."""
        out = []
        for text, score in zip(texts, self.classifier.scores(list(texts)), strict=True):
            leaked = canary_leaked(text, self.canaries)
            s = 1.0 if leaked else float(score)
            out.append(Detection(s >= self.classifier.threshold, s, heuristic_hits(text), leaked))
        return out


def choose_threshold(examples: Sequence, folds: int = 3, seed: int = 0) -> float:
    """The threshold with the best mean F1 over template-grouped folds of ``examples``.

    Held-out phrasings score lower than memorised ones, so 0.5 (right for the training texts)
    is too strict for new ones; grouping the folds by template reproduces that shift.
    """
    import random

    groups = sorted({(e.family, e.template) for e in examples})
    random.Random(seed).shuffle(groups)
    grid = np.arange(0.05, 0.96, 0.05)
    f1 = np.zeros(len(grid))
    for k in range(folds):
        held = set(groups[k::folds])
        fit_on = [e for e in examples if (e.family, e.template) not in held]
        check = [e for e in examples if (e.family, e.template) in held]
        clf = InjectionClassifier.fit([e.text for e in fit_on], [e.label for e in fit_on])
        s = clf.scores([e.text for e in check])
        y = [e.label for e in check]
        f1 += [prf(y, s >= t)["f1"] for t in grid]
    return float(np.round(grid[int(np.argmax(f1))], 2))


@functools.lru_cache(maxsize=4)
def trained_classifier(seed: int = 0, split: str = "train") -> InjectionClassifier:
    """The classifier fitted on the generated set (``split="train"`` or ``"all"``).

    The fitted weights are cached under ``$LLMPATH_HOME/ch21-security/`` keyed by a digest of the
    training texts, so a second process loads instead of refitting.
    """
    import hashlib

    from ch21_security.injection_data import generate_examples, train_test_split
    from llmpath_core.io import atomic_write
    from llmpath_core.paths import artefact_path

    examples = generate_examples(seed=seed)
    if split == "train":
        examples, _ = train_test_split(examples, seed=seed)
    texts, labels = [e.text for e in examples], [e.label for e in examples]
    key = hashlib.sha256(("\n".join(texts) + str(labels) + str(HEURISTICS)).encode()).hexdigest()[
        :16
    ]
    cache = artefact_path("ch21-security") / f"detector-{key}.npz"
    if cache.is_file():
        data = np.load(cache)
        return InjectionClassifier(data["weights"], float(data["bias"]), float(data["threshold"]))
    clf = InjectionClassifier.fit(texts, labels)
    clf.threshold = choose_threshold(examples, seed=seed)
    with atomic_write(cache, "wb") as f:
        np.savez(f, weights=clf.weights, bias=clf.bias, threshold=clf.threshold)
    return clf


def default_detector(canaries: Sequence[str] = ()) -> InjectionDetector:
    """The detector the CLI and the proxy use: trained on the training templates."""
    return InjectionDetector(trained_classifier(0, "train"), canaries)


def prf(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, float]:
    """Precision, recall, F1 and accuracy for binary labels."""
    t = np.asarray(y_true, dtype=bool)
    p = np.asarray(y_pred, dtype=bool)
    tp, fp, fn = int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": float((t == p).mean()),
        "n": len(t),
    }


def evaluate_detector(seed: int = 0) -> dict:
    """P/R/F1 on the held-out templates: classifier alone, heuristics alone, and per family."""
    from ch21_security.injection_data import generate_examples, train_test_split

    _, test = train_test_split(generate_examples(seed=seed), seed=seed)
    detector = InjectionDetector(trained_classifier(seed, "train"))
    found = detector.detect([e.text for e in test])
    y = [e.label for e in test]
    families = {}
    for fam in sorted({e.family for e in test}):
        idx = [i for i, e in enumerate(test) if e.family == fam]
        families[fam] = {
            "n": len(idx),
            "flagged": sum(found[i].injection for i in idx) / len(idx),
        }
    return {
        "threshold": detector.classifier.threshold,
        "detector": prf(y, [d.injection for d in found]),
        "heuristics_only": prf(y, [bool(d.heuristics) for d in found]),
        "families_flagged": families,
        "test_templates": len({(e.family, e.template) for e in test}),
        "n_train_test": [len(generate_examples(seed=seed)) - len(test), len(test)],
    }
