"""PII detection and redaction: regular expressions checked by checksums and parsers.

Each recognizer proposes candidate spans with a regular expression and keeps only those that
validate: card numbers by the Luhn checksum and issuer prefix, IBANs by ISO 13616's mod-97 check,
IP addresses by :mod:`ipaddress`, phone numbers by digit count. Overlapping detections are
resolved by a fixed priority (a secret or a card beats a phone number inside it). Entity names
follow presidio-analyzer's (``EMAIL_ADDRESS``, ``CREDIT_CARD``...) so the two can be compared span
by span. NER for names and places needs a spaCy or transformer model, which is not bundled here.

Redaction replaces each span with ``<TYPE>``; ``pseudonymize`` gives each distinct value a
consistent placeholder (``<EMAIL_ADDRESS_1>``), so a document keeps "who is who" without the values.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import dataclass

ENTITY_TYPES = (
    "API_KEY",
    "IBAN_CODE",
    "CREDIT_CARD",
    "EMAIL_ADDRESS",
    "IP_ADDRESS",
    "PHONE_NUMBER",
)


@dataclass(frozen=True, order=True)
class Span:
    """One detected entity: ``text[start:end]`` is a ``type``."""

    start: int
    end: int
    type: str
    value: str


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a digit string (card numbers)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to 10..35, mod 97 == 1."""
    s = iban.replace(" ", "").upper()
    if not (15 <= len(s) <= 34) or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"
)
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_IPV4 = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])"
)
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Fa-f:])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,8}){1,4}(?!\w)"
)
_SECRETS = [
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),  # GitHub token
    re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}"),  # OpenAI-style secret key
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),  # Slack token
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}"),  # Google API key
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----"),
]
_ASSIGNED_SECRET = re.compile(
    r"(?i)\b(?:api[_-]?key|secret|token|passwd|password)\b\s*[:=]\s*['\"]?([A-Za-z0-9_\-/+=.]{12,})"
)


def _emails(text: str):
    for m in _EMAIL.finditer(text):
        yield m.start(), m.end(), "EMAIL_ADDRESS"


def _cards(text: str):
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits):
            yield m.start(), m.end(), "CREDIT_CARD"


def _ibans(text: str):
    for m in _IBAN.finditer(text):
        if iban_ok(m.group()):
            yield m.start(), m.end(), "IBAN_CODE"


def _ips(text: str):
    for m in _IPV4.finditer(text):
        yield m.start(), m.end(), "IP_ADDRESS"
    for m in _IPV6.finditer(text):
        try:
            ipaddress.IPv6Address(m.group())
        except ValueError:
            continue
        yield m.start(), m.end(), "IP_ADDRESS"


def _phones(text: str):
    for m in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        grouped = re.search(r"[ .()-]", m.group()) is not None
        if 10 <= len(digits) <= 15 and (grouped or m.group().startswith("+")):
            yield m.start(), m.end(), "PHONE_NUMBER"


def _secrets(text: str):
    for pattern in _SECRETS:
        for m in pattern.finditer(text):
            yield m.start(), m.end(), "API_KEY"
    for m in _ASSIGNED_SECRET.finditer(text):
        yield m.start(1), m.end(1), "API_KEY"


_RECOGNIZERS = {
    "API_KEY": _secrets,
    "CREDIT_CARD": _cards,
    "IBAN_CODE": _ibans,
    "EMAIL_ADDRESS": _emails,
    "IP_ADDRESS": _ips,
    "PHONE_NUMBER": _phones,
}


def detect(text: str, types: tuple[str, ...] = ENTITY_TYPES) -> list[Span]:
    """Non-overlapping PII spans of ``text``, sorted; earlier ``ENTITY_TYPES`` win overlaps."""
    unknown = set(types) - set(_RECOGNIZERS)
    if unknown:
        raise ValueError(f"unknown entity types: {sorted(unknown)}")
    # digits inside an IBAN-shaped token (even one failing its checksum) are not phones or cards
    taken: list[tuple[int, int]] = [
        m.span() for m in _IBAN.finditer(text) if not iban_ok(m.group())
    ]
    spans: list[Span] = []
    for t in ENTITY_TYPES:
        if t not in types:
            continue
        for start, end, kind in sorted(set(_RECOGNIZERS[t](text))):
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            spans.append(Span(start, end, kind, text[start:end]))
    return sorted(spans)


def redact(text: str, spans: list[Span] | None = None, *, pseudonyms: bool = False) -> str:
    """Replace every span by ``<TYPE>`` (or a consistent ``<TYPE_n>`` per distinct value)."""
    spans = detect(text) if spans is None else sorted(spans)
    names: dict[tuple[str, str], str] = {}
    counts: Counter[str] = Counter()
    out, pos = [], 0
    for s in spans:
        if pseudonyms:
            key = (s.type, s.value)
            if key not in names:
                counts[s.type] += 1
                names[key] = f"<{s.type}_{counts[s.type]}>"
            tag = names[key]
        else:
            tag = f"<{s.type}>"
        out += [text[pos : s.start], tag]
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


def entity_counts(spans: list[Span]) -> dict[str, int]:
    """``{TYPE: count}`` over ``spans``."""
    return dict(sorted(Counter(s.type for s in spans).items()))


def span_f1(
    predicted: set[tuple[int, int, str]], gold: set[tuple[int, int, str]]
) -> dict[str, float]:
    """Exact-match span precision, recall and F1 (start, end and type must all agree)."""
    tp = len(predicted & gold)
    p = tp / len(predicted) if predicted else 1.0
    r = tp / len(gold) if gold else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "gold": len(gold), "predicted": len(predicted)}
