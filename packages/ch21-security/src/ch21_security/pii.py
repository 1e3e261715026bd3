"""PII recognizers (regex + checksums) and redaction, compared with presidio-analyzer's patterns.

Entity names follow presidio's (``EMAIL_ADDRESS``, ``PHONE_NUMBER``, ``CREDIT_CARD``,
``US_SSN``, ``IP_ADDRESS``) so spans can be compared one for one. Checksums cut false positives:
card numbers must pass Luhn, SSNs must avoid the never-issued area/group/serial numbers, IPv4
octets must be at most 255. :func:`labelled_set` generates sentences with gold spans, benign
numbers that look like PII (order numbers, dates, versions) included.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IP_ADDRESS")

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_SSN = re.compile(r"\b(\d{3})[- ](\d{2})[- ](\d{4})\b")
_IP = re.compile(
    r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b"
)
_PHONE = re.compile(r"(?<![\d-])(?:\+1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\d-])")


@dataclass(frozen=True, order=True)
class Span:
    """An entity found in a text: ``text[start:end]`` is of ``type``."""

    start: int
    end: int
    type: str


def luhn_ok(number: str) -> bool:
    """The Luhn checksum of a card number (digits only)."""
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def _ssn_ok(area: str, group: str, serial: str) -> bool:
    return (
        area not in ("000", "666")
        and not area.startswith("9")
        and group != "00"
        and serial != "0000"
    )


def find_pii(text: str) -> list[Span]:
    """Every PII span in ``text``, sorted; overlapping matches keep the longer one."""
    found: list[Span] = [Span(m.start(), m.end(), "EMAIL_ADDRESS") for m in _EMAIL.finditer(text)]
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            found.append(Span(m.start(), m.end(), "CREDIT_CARD"))
    found += [
        Span(m.start(), m.end(), "US_SSN") for m in _SSN.finditer(text) if _ssn_ok(*m.groups())
    ]
    found += [Span(m.start(), m.end(), "IP_ADDRESS") for m in _IP.finditer(text)]
    found += [Span(m.start(), m.end(), "PHONE_NUMBER") for m in _PHONE.finditer(text)]
    found.sort(key=lambda s: (s.start, -(s.end - s.start)))
    kept: list[Span] = []
    for s in found:
        if kept and s.start < kept[-1].end:
            continue
        kept.append(s)
    return kept


def redact(text: str, spans: Iterable[Span] | None = None) -> tuple[str, list[Span]]:
    """``text`` with each PII span replaced by ``<TYPE>``, and the spans replaced."""
    spans = sorted(find_pii(text) if spans is None else spans)
    out, last = [], 0
    for s in spans:
        out.append(text[last : s.start])
        out.append(f"<{s.type}>")
        last = s.end
    out.append(text[last:])
    return "".join(out), list(spans)


# ---------------------------------------------------------------------------- labelled set
_NAMES = ["Ana", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana"]
_DOMAINS = ["example.com", "mail.example.org", "corp.example.net", "uni.example.edu"]


def _card(rng: random.Random) -> str:
    body = [4] + [rng.randrange(10) for _ in range(14)]
    for check in range(10):
        if luhn_ok("".join(map(str, [*body, check]))):
            break
    digits = "".join(map(str, [*body, check]))
    sep = rng.choice(["", " ", "-"])
    return sep.join(digits[i : i + 4] for i in range(0, 16, 4))


def _value(kind: str, rng: random.Random) -> str:
    if kind == "EMAIL_ADDRESS":
        return f"{rng.choice(_NAMES).lower()}.{rng.randrange(100)}@{rng.choice(_DOMAINS)}"
    if kind == "PHONE_NUMBER":
        a, b, c = rng.randrange(201, 990), rng.randrange(200, 999), rng.randrange(10000)
        return rng.choice([f"({a}) {b}-{c:04d}", f"{a}-{b}-{c:04d}", f"+1 {a} {b} {c:04d}"])
    if kind == "CREDIT_CARD":
        return _card(rng)
    if kind == "US_SSN":
        return f"{rng.randrange(101, 899)}-{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}"
    return ".".join(str(rng.randrange(1, 255)) for _ in range(4))


_TEMPLATES = {
    "EMAIL_ADDRESS": ["Write to {v} for details.", "My e-mail is {v}, thanks."],
    "PHONE_NUMBER": ["Call me at {v} tomorrow.", "The office number is {v}."],
    "CREDIT_CARD": ["Charge card {v} please.", "My card number is {v}."],
    "US_SSN": ["My social security number is {v}.", "SSN on file: {v}."],
    "IP_ADDRESS": ["The server at {v} is down.", "Login from IP {v} was blocked."],
}
_DECOYS = [
    "Order 12345678 shipped on 2024-05-17.",
    "Version 3.11.4 fixed the bug in build 20240517.",
    "The meeting is in room 404 at 10:30.",
    "Chapter 12, page 345, line 6789.",
    "Invoice total: 1,234.56 dollars.",
    "Our team grew 12% in 2023.",
]


def labelled_set(n: int = 200, seed: int = 0) -> list[tuple[str, list[Span]]]:
    """``n`` sentences with gold spans: one or two entities each, or a decoy with none."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.2:
            out.append((rng.choice(_DECOYS), []))
            continue
        parts, gold, pos = [], [], 0
        for kind in rng.sample(TYPES, rng.choice([1, 2])):
            template = rng.choice(_TEMPLATES[kind])
            value = _value(kind, rng)
            prefix, suffix = template.split("{v}")
            sentence = prefix + value + suffix
            start = pos + len(prefix)
            gold.append(Span(start, start + len(value), kind))
            parts.append(sentence)
            pos += len(sentence) + 1
        out.append((" ".join(parts), gold))
    return out


def span_scores(
    detect: Callable[[str], Iterable[Span]],
    data: list[tuple[str, list[Span]]],
    types: Iterable[str] = TYPES,
) -> dict[str, dict[str, float]]:
    """Exact-span precision/recall/F1 of ``detect`` per entity type."""
    out = {}
    for t in types:
        tp = fp = fn = 0
        for text, gold in data:
            g = {s for s in gold if s.type == t}
            p = {s for s in detect(text) if s.type == t}
            tp, fp, fn = tp + len(g & p), fp + len(p - g), fn + len(g - p)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[t] = {"precision": precision, "recall": recall, "f1": f1, "gold": tp + fn}
    return out


def agreement(
    data: list[tuple[str, list[Span]]], theirs: Callable[[str], Iterable[Span]]
) -> dict[str, float]:
    """Per type, the fraction of spans found by either detector that both found exactly."""
    out = {}
    for t in TYPES:
        both = either = 0
        for text, _ in data:
            a = {s for s in find_pii(text) if s.type == t}
            b = {s for s in theirs(text) if s.type == t}
            both, either = both + len(a & b), either + len(a | b)
        out[t] = both / either if either else 1.0
    return out
