"""The chapter's labs on bundled data: the text-cleaning pipeline and the demo's funnel.

:func:`demo_corpus` builds a small web-like corpus from llmpath's bundled stories with known
problems planted in it (exact copies, near copies, junk, other languages, PII);
:func:`clean_documents` runs the stages in the order a real pipeline does (exact dedup, near dedup,
language, quality, PII redaction) and reports how many documents each stage removed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ch06_data.dedup import DedupConfig, keep_mask
from ch06_data.pii import detect, entity_counts, redact
from ch06_data.quality import QualityConfig, gopher_c4_reasons, language

JUNK = [
    "lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 6,
    "# # # ### buy now ### # # click here # # # ... ... ... " * 5,
    "- item one\n- item two\n- item three\n- item four\n- item five\n- item six",
    "function f(x) { return x * 2; } var y = f(3); if (y) { console.log(y); }" * 3,
    "Home | About | Contact | Login | Register | Cart | Help | Terms | Privacy",
    "12 34 56 78 90 12 34 56 78 90 12 34 56 78 90 12 34 56 78 90 12 34 56 78 90",
]
FOREIGN = [
    "Il était une fois un petit chat qui habitait dans une maison au bord de la mer. "
    "Chaque matin, il regardait les bateaux partir et rêvait de voyages lointains. "
    "Un jour, il décida de monter à bord avec son ami le chien.",
    "Es war einmal ein kleiner Hund, der in einem Haus am Waldrand wohnte. "
    "Jeden Morgen lief er durch den Garten und suchte nach seinem Ball. "
    "Eines Tages fand er im Gebüsch einen alten Schlüssel und ging damit zum Nachbarn.",
    "Había una vez una niña que vivía en un pueblo junto al río. Todas las tardes "
    "caminaba hasta el puente para mirar los peces. Un día encontró una caja de madera "
    "llena de cartas antiguas y decidió leerlas con su abuela.",
]
PII_LINES = [
    "Write to {e} or call {p} if you want to hear more.",
    "Send the money to {i} before Friday, the card {c} expired.",
    "The story was uploaded from {ip} by {e}.",
]


@dataclass
class DemoCorpus:
    """Documents and what was planted (counts per kind)."""

    documents: list[str]
    planted: dict[str, int] = field(default_factory=dict)


def demo_corpus(n_stories: int = 240, seed: int = 0) -> DemoCorpus:
    """Bundled stories plus planted exact copies, near copies, junk, foreign text and PII."""
    from ch06_data.pii_data import _MAKERS
    from llmpath_core.data import load_documents

    rng = random.Random(seed)
    stories = load_documents("stories", split="train")[:n_stories]
    docs = list(stories)
    n_pii = n_stories // 10
    for i in rng.sample(range(len(docs)), n_pii):
        line = rng.choice(PII_LINES).format(
            e=_MAKERS["EMAIL_ADDRESS"](rng),
            p=_MAKERS["PHONE_NUMBER"](rng),
            i=_MAKERS["IBAN_CODE"](rng),
            c=_MAKERS["CREDIT_CARD"](rng),
            ip=_MAKERS["IP_ADDRESS"](rng),
        )
        docs[i] = docs[i] + "\n\n" + line
    exact = [docs[i] for i in rng.sample(range(n_stories), n_stories // 12)]
    near = []
    for i in rng.sample(range(n_stories), n_stories // 8):
        w = docs[i].split(" ")
        for _ in range(max(1, len(w) // 100)):  # ~1% of the words changed
            w[rng.randrange(len(w))] = rng.choice(["little", "big", "happy", "old", "red"])
        near.append(" ".join(w))
    docs += exact + near + JUNK + FOREIGN
    rng.shuffle(docs)
    planted = {
        "stories": n_stories,
        "exact_copies": len(exact),
        "near_copies": len(near),
        "junk": len(JUNK),
        "foreign": len(FOREIGN),
        "with_pii": n_pii,
    }
    return DemoCorpus(docs, planted)


def clean_documents(
    docs: list[str],
    *,
    threshold: float = 0.8,
    lang: str = "en",
    quality: QualityConfig | None = None,
    pseudonyms: bool = False,
) -> tuple[list[str], list[dict], dict[str, int]]:
    """Exact + near dedup, language ID, quality, PII redaction: ``(kept, funnel, entities)``."""
    funnel = [{"stage": "in", "removed": 0, "remaining": len(docs)}]
    keep, exact_removed, near_removed, _ = keep_mask(docs, DedupConfig(threshold=threshold))
    docs = [d for d, k in zip(docs, keep, strict=True) if k]
    remaining = funnel[0]["remaining"]
    for stage, n in (("exact duplicates", exact_removed), ("near duplicates", near_removed)):
        remaining -= n
        funnel.append({"stage": stage, "removed": n, "remaining": remaining})
    kept = [d for d in docs if language(d)[0] == lang] if lang else docs
    funnel.append(
        {"stage": f"language != {lang}", "removed": len(docs) - len(kept), "remaining": len(kept)}
    )
    docs = kept
    kept = [d for d in docs if not gopher_c4_reasons(d, quality)]
    funnel.append(
        {"stage": "quality rules", "removed": len(docs) - len(kept), "remaining": len(kept)}
    )
    entities: dict[str, int] = {}
    out = []
    for d in kept:
        spans = detect(d)
        for k, v in entity_counts(spans).items():
            entities[k] = entities.get(k, 0) + v
        out.append(redact(d, spans, pseudonyms=pseudonyms))
    funnel.append({"stage": "PII redacted (documents kept)", "removed": 0, "remaining": len(out)})
    return out, funnel, dict(sorted(entities.items()))
