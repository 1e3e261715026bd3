"""PII recognizers: the labelled set, checksums, redaction, and presidio's pattern recognizers."""

from __future__ import annotations

from ch21_security.pii import TYPES, agreement, find_pii, labelled_set, luhn_ok, redact, span_scores


def test_labelled_set_scores():
    scores = span_scores(find_pii, labelled_set(300, seed=1))
    for t in TYPES:
        assert scores[t]["gold"] > 20
        assert scores[t]["f1"] == 1.0, (t, scores[t])


def test_checksums_and_redaction():
    assert luhn_ok("4539 1488 0343 6467") and not luhn_ok("4539 1488 0343 6468")
    assert find_pii("Order 4539148803436468 shipped") == []  # fails Luhn
    assert find_pii("SSN 000-12-3456 is never issued") == []
    text, spans = redact("Mail ana@example.com or call (212) 555-0187 from 10.0.0.7.")
    assert text == "Mail <EMAIL_ADDRESS> or call <PHONE_NUMBER> from <IP_ADDRESS>."
    assert [s.type for s in spans] == ["EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS"]


def test_agrees_with_presidio_patterns(presidio):
    data = labelled_set(150, seed=2)
    agree = agreement(data, presidio)
    for t in ("EMAIL_ADDRESS", "CREDIT_CARD", "US_SSN", "IP_ADDRESS"):
        assert agree[t] == 1.0, (t, agree)  # the very same spans
    ours, theirs = span_scores(find_pii, data), span_scores(presidio, data)
    # presidio's phone recognizer (libphonenumber) also fires inside card numbers and IPs
    assert ours["PHONE_NUMBER"]["f1"] >= theirs["PHONE_NUMBER"]["f1"]
