"""PII span F1, ours vs presidio-analyzer's pattern recognizers, on the generated labelled set.

    uv run python packages/ch06-data/benchmarks/bench_pii.py

Writes ``results/pii.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

from ch06_data.pii import detect, span_f1
from ch06_data.pii_data import labelled_set
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

RESULTS = Path(__file__).parent / "results"


def scores(detector, data, types):
    pred, gold = set(), set()
    for i, item in enumerate(data):
        pred |= {(i, *s) for s in detector(item.text) if s[2] in types}
        gold |= {(i, *s) for s in item.spans if s[2] in types}
    return {
        t: span_f1({p for p in pred if p[3] == t}, {g for g in gold if g[3] == t}) for t in types
    }


def main() -> None:
    data = labelled_set(500, seed=0)
    t0 = time.perf_counter()
    from ch06_data.presidio_ref import SHARED_TYPES, PresidioPatterns

    presidio = PresidioPatterns()
    load_s = time.perf_counter() - t0
    types = ("API_KEY", *SHARED_TYPES)
    t0 = time.perf_counter()
    ours = scores(lambda t: {(s.start, s.end, s.type) for s in detect(t)}, data, types)
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = scores(presidio.detect, data, SHARED_TYPES)
    theirs_s = time.perf_counter() - t0
    rows = []
    for t in types:
        row = {
            "type": t,
            "gold": ours[t]["gold"],
            "ours_P": round(ours[t]["precision"], 3),
            "ours_R": round(ours[t]["recall"], 3),
            "ours_F1": round(ours[t]["f1"], 3),
        }
        if t in theirs:
            row.update(
                presidio_P=round(theirs[t]["precision"], 3),
                presidio_R=round(theirs[t]["recall"], 3),
                presidio_F1=round(theirs[t]["f1"], 3),
            )
        rows.append(row)
        print(row, flush=True)
    write_json(
        RESULTS / "pii.json",
        {
            "rows": rows,
            "sentences": len(data),
            "ours_seconds": round(ours_s, 3),
            "presidio_seconds": round(theirs_s, 3),
            "presidio_import_and_load_seconds": round(load_s, 1),
            "machine": machine_info(),
            "note": "loaded shared 2-core CPU box (other jobs running)",
        },
    )


if __name__ == "__main__":
    main()
