"""A generated, labelled PII set: template sentences with entities at known character spans.

Values are valid by construction (cards pass Luhn, IBANs carry correct check digits) and the
sentences include look-alikes that must *not* be flagged: order numbers, dates, version strings,
a card number with a broken checksum, an IBAN with wrong check digits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ch06_data.pii import luhn_ok

FIRST = ["jane", "omar", "li", "priya", "tomas", "ana", "kwame", "sofia", "noah", "mei"]
LAST = ["doe", "haddad", "wei", "patel", "novak", "silva", "mensah", "rossi", "berg", "tanaka"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.net", "uni.example.edu"]
IBAN_FORMATS = {"DE": 18, "GB": 18, "FR": 23, "NL": 14, "ES": 20}  # country: BBAN length

TEMPLATES = [
    "Please contact {EMAIL_ADDRESS} about order #{NOISE_ORDER} from {NOISE_DATE}.",
    "Call me on {PHONE_NUMBER} after 6pm, or write to {EMAIL_ADDRESS}.",
    "Charge card {CREDIT_CARD} for the deposit; the old card {NOISE_BADCARD} was declined.",
    "Wire the rent to {IBAN_CODE} (reference {NOISE_ORDER}).",
    "The server at {IP_ADDRESS} runs version {NOISE_VERSION} of the agent.",
    "Login attempts from {IP_ADDRESS} and {IP_ADDRESS} were blocked on {NOISE_DATE}.",
    "config: api_key = {API_KEY}",
    "export AWS_ACCESS_KEY_ID={API_KEY}",
    "Tenant phone {PHONE_NUMBER}; landlord phone {PHONE_NUMBER}; flat 3, floor {NOISE_SMALL}.",
    "Refund to IBAN {IBAN_CODE}, not {NOISE_BADIBAN}.",
    "Nothing personal here: {NOISE_SMALL} rooms, {NOISE_SMALL}0 m2, built {NOISE_YEAR}.",
]


def _card(rng: random.Random) -> str:
    prefix = rng.choice(["4", "51", "52", "55", "37", "6011"])
    length = 15 if prefix == "37" else 16
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    check = next(d for d in "0123456789" if luhn_ok(body + d))
    digits = body + check
    if rng.random() < 0.5 and length == 16:
        return " ".join(digits[i : i + 4] for i in range(0, 16, 4))
    return digits


def _bad_card(rng: random.Random) -> str:
    good = _card(rng).replace(" ", "")
    last = str((int(good[-1]) + 1) % 10)
    return good[:-1] + last


def _iban(rng: random.Random, valid: bool = True) -> str:
    country = rng.choice(sorted(IBAN_FORMATS))
    bban = "".join(rng.choice("0123456789") for _ in range(IBAN_FORMATS[country]))
    if country == "GB":
        bban = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)) + bban[4:]
    if country == "NL":
        bban = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)) + bban[4:]
    numeric = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    check = 98 - numeric % 97
    if not valid:
        check = (check + 1) % 97 + 2
    s = f"{country}{check:02d}{bban}"
    return " ".join(s[i : i + 4] for i in range(0, len(s), 4)) if rng.random() < 0.5 else s


def _phone(rng: random.Random) -> str:
    d = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    area = str(rng.randint(201, 989))
    return rng.choice(
        [
            f"+1 ({area}) {d(3)}-{d(4)}",
            f"({area}) {d(3)}-{d(4)}",
            f"{area}-{d(3)}-{d(4)}",
            f"+44 20 {d(4)} {d(4)}",
            f"+49 30 {d(8)}",
        ]
    )


def _ip(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    if rng.random() < 0.5:
        return ":".join(groups)
    return ":".join(groups[:3]) + "::" + ":".join(groups[6:])


def _api_key(rng: random.Random) -> str:
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    kind = rng.choice(["aws", "gh", "sk"])
    if kind == "aws":
        return "AKIA" + "".join(rng.choice(alnum[:26] + alnum[52:]) for _ in range(16))
    if kind == "gh":
        return "ghp_" + "".join(rng.choice(alnum) for _ in range(36))
    return "sk-" + "".join(rng.choice(alnum) for _ in range(40))


def _email(rng: random.Random) -> str:
    sep = rng.choice([".", "_", ""])
    return f"{rng.choice(FIRST)}{sep}{rng.choice(LAST)}{rng.randint(1, 99)}@{rng.choice(DOMAINS)}"


_MAKERS = {
    "EMAIL_ADDRESS": _email,
    "PHONE_NUMBER": _phone,
    "CREDIT_CARD": _card,
    "IBAN_CODE": _iban,
    "IP_ADDRESS": _ip,
    "API_KEY": _api_key,
    "NOISE_ORDER": lambda r: str(r.randint(100000, 99999999)),
    "NOISE_DATE": lambda r: (
        f"{r.randint(2019, 2026)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
    ),
    "NOISE_VERSION": lambda r: f"{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 99)}",
    "NOISE_BADCARD": _bad_card,
    "NOISE_BADIBAN": lambda r: _iban(r, valid=False),
    "NOISE_SMALL": lambda r: str(r.randint(1, 9)),
    "NOISE_YEAR": lambda r: str(r.randint(1900, 2024)),
}


@dataclass
class LabelledText:
    """One sentence and its gold spans ``(start, end, type)``."""

    text: str
    spans: list[tuple[int, int, str]]


def labelled_set(n: int = 300, seed: int = 0) -> list[LabelledText]:
    """``n`` template sentences with their gold PII spans."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        template = rng.choice(TEMPLATES)
        text, spans, pos = "", [], 0
        while True:
            i = template.find("{", pos)
            if i < 0:
                text += template[pos:]
                break
            j = template.index("}", i)
            text += template[pos:i]
            kind = template[i + 1 : j]
            value = _MAKERS[kind](rng)
            if not kind.startswith("NOISE_"):
                spans.append((len(text), len(text) + len(value), kind))
            text += value
            pos = j + 1
        out.append(LabelledText(text, spans))
    return out
