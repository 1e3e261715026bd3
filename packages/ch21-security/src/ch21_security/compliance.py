"""Governance records: a model card, data lineage, an audit-log summary and a compliance checklist.

The records are built from facts this package can check, not typed in: the shipped model's card
and weight digest (``llmpath_core.model_card``, ``weights_sha256``), the guardrail's
configuration and its safety log (JSON lines written by :mod:`ch21_security.proxy`), and the
scanner's report. Each checklist item names the regulation it serves (GDPR, CCPA, the EU AI Act)
and the evidence that decides it; an item without evidence is ``"open"``, never ``"met"``.
``export_compliance`` writes ``model_card.json``, ``lineage.json``, ``audit_summary.json``,
``checklist.md`` and copies of the safety log and review queue into one folder atomically.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ch21_security.proxy import GuardrailConfig


def lineage_record() -> dict[str, Any]:
    """Where the default model came from: data, training run and weight digest (from its card)."""
    from llmpath_core.models import model_card, weights_sha256

    card = model_card("default")
    digest = weights_sha256("default")
    return {
        "model": card["name"],
        "weights_sha256": digest,
        "card_sha256": card["sha256"],
        "weights_match_card": digest == card["sha256"],
        "data": card["data"],
        "training": {k: card["training"][k] for k in ("steps", "seed", "tokens_seen", "machine")},
    }


def audit_summary(
    log_path: Path | None, events: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Counts of the safety log's decisions by layer and action."""
    rows = list(events or [])
    if log_path is not None and Path(log_path).is_file():
        rows += [
            json.loads(line) for line in Path(log_path).read_text().splitlines() if line.strip()
        ]
    return {
        "events": len(rows),
        "by_action": dict(Counter(str(r.get("action")) for r in rows)),
        "by_layer": dict(Counter(str(r.get("layer", "request")) for r in rows)),
    }


def checklist(
    config: GuardrailConfig,
    audit: dict[str, Any],
    scan: dict[str, Any] | None,
    lineage: dict[str, Any],
) -> list[dict[str, str]]:
    """The compliance items with their status (met/open) and the evidence."""

    def item(ref: str, requirement: str, ok: bool, evidence: str) -> dict[str, str]:
        return {
            "ref": ref,
            "requirement": requirement,
            "status": "met" if ok else "open",
            "evidence": evidence,
        }

    asr = None if scan is None else scan.get("attack_success_rate")
    return [
        item(
            "GDPR Art. 25 / CCPA 1798.100",
            "personal data minimised before it reaches the model",
            config.redact_pii,
            f"PII redaction on input and output: {config.redact_pii}",
        ),
        item(
            "GDPR Art. 30",
            "records of processing kept",
            audit["events"] > 0,
            f"{audit['events']} safety-log events",
        ),
        item(
            "GDPR Art. 32",
            "security of processing tested",
            asr is not None,
            "no scan" if asr is None else f"scanner attack success rate {asr:.1%}",
        ),
        item(
            "EU AI Act Art. 10",
            "data governance: training data and provenance documented",
            lineage["weights_match_card"],
            f"weights sha256 matches the card: {lineage['weights_match_card']}",
        ),
        item(
            "EU AI Act Art. 12",
            "automatic logging of events",
            config.log_path is not None or audit["events"] > 0,
            f"log file: {config.log_path}",
        ),
        item(
            "EU AI Act Art. 14",
            "human oversight of blocked requests",
            config.review_path is not None,
            f"review queue: {config.review_path}",
        ),
        item(
            "EU AI Act Art. 15",
            "robustness and cybersecurity measures",
            config.detect_injection and asr is not None,
            f"injection detector: {config.detect_injection}; "
            f"size limit {config.max_body_bytes} bytes",
        ),
    ]


def export_compliance(
    folder: Path,
    config: GuardrailConfig,
    scan: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write the four records into ``folder`` atomically; return the checklist and paths."""
    from llmpath_core.io import atomic_dir, write_json
    from llmpath_core.models import model_card

    lineage = lineage_record()
    audit = audit_summary(config.log_path, events)
    items = checklist(config, audit, scan, lineage)
    table = "| ref | requirement | status | evidence |\n|---|---|---|---|\n" + "".join(
        f"| {i['ref']} | {i['requirement']} | {i['status']} | {i['evidence']} |\n" for i in items
    )
    with atomic_dir(folder) as tmp:
        write_json(tmp / "model_card.json", model_card("default"))
        write_json(tmp / "lineage.json", lineage)
        write_json(tmp / "audit_summary.json", audit)
        (tmp / "checklist.md").write_text("# Compliance checklist\n\n" + table, encoding="utf-8")
        for name, path in (
            ("safety_log.jsonl", config.log_path),
            ("review_queue.jsonl", config.review_path),
        ):
            if (
                path is not None and Path(path).is_file()
            ):  # the raw audit trail travels with the records
                (tmp / name).write_bytes(Path(path).read_bytes())
    return {
        "checklist": items,
        "met": sum(i["status"] == "met" for i in items),
        "folder": str(folder),
    }
