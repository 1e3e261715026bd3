"""presidio-analyzer's pattern recognizers: the reference for our PII recognizers."""

from __future__ import annotations

from ch21_security.pii import TYPES, Span


class PresidioPatterns:
    """presidio-analyzer's pattern recognizers for :data:`TYPES`, called without an NLP engine.

    ``AnalyzerEngine`` needs a spaCy model, which is not on PyPI; the predefined pattern
    recognizers accept ``nlp_artifacts=None``, so they run offline when called directly.
    """

    def __init__(self, score_threshold: float = 0.0) -> None:
        import logging

        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
        logging.getLogger("tldextract").setLevel(logging.CRITICAL)
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            EmailRecognizer,
            IpRecognizer,
            PhoneRecognizer,
            UsSsnRecognizer,
        )

        self.recognizers = [
            EmailRecognizer(),
            PhoneRecognizer(),
            CreditCardRecognizer(),
            UsSsnRecognizer(),
            IpRecognizer(),
        ]
        self.score_threshold = score_threshold

    def __call__(self, text: str) -> list[Span]:
        found = set()
        for rec in self.recognizers:
            for r in rec.analyze(text, entities=rec.supported_entities, nlp_artifacts=None):
                if r.score >= self.score_threshold and r.entity_type in TYPES:
                    found.add(Span(r.start, r.end, r.entity_type))
        return sorted(found)
