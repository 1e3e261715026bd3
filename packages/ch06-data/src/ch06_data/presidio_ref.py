"""presidio-analyzer's pattern recognizers, run offline (no spaCy model), as the PII reference.

``AnalyzerEngine`` wants an NLP engine (a spaCy model, not on PyPI); the predefined pattern
recognizers themselves take ``nlp_artifacts=None``, so we call them directly. Importing presidio
pulls in torch and transformers, so this module is imported only when the comparison runs.
"""

from __future__ import annotations

import logging

SHARED_TYPES = ("CREDIT_CARD", "IBAN_CODE", "EMAIL_ADDRESS", "IP_ADDRESS", "PHONE_NUMBER")


class PresidioPatterns:
    """presidio's email, card, IBAN, IP and phone recognizers; ``detect(text)`` -> spans."""

    def __init__(self, score_threshold: float = 0.0) -> None:
        logging.getLogger("tldextract").setLevel(logging.CRITICAL)
        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            EmailRecognizer,
            IbanRecognizer,
            IpRecognizer,
            PhoneRecognizer,
        )

        self.recognizers = [
            EmailRecognizer(),
            CreditCardRecognizer(),
            IbanRecognizer(),
            IpRecognizer(),
            PhoneRecognizer(),
        ]
        self.score_threshold = score_threshold

    def detect(self, text: str) -> set[tuple[int, int, str]]:
        """``{(start, end, type)}`` that presidio's recognizers return above the threshold."""
        found = set()
        for rec in self.recognizers:
            for r in rec.analyze(text, entities=rec.supported_entities, nlp_artifacts=None):
                if r.score >= self.score_threshold and r.entity_type in SHARED_TYPES:
                    found.add((r.start, r.end, r.entity_type))
        return found
