"""Detection numbers: the injection detector on held-out templates (over 3 data seeds), and our PII
recognizers against presidio-analyzer's pattern recognizers on the labelled set.

Writes ``results/detection.json``. Run: ``OMP_NUM_THREADS=1 nice -n 10 uv run python
packages/ch21-security/benchmarks/bench_detection.py``.
"""

from __future__ import annotations

import importlib.util
import statistics
import time
from pathlib import Path

from ch21_security.detector import evaluate_detector
from ch21_security.pii import agreement, find_pii, labelled_set, span_scores
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

OUT = Path(__file__).parent / "results" / "detection.json"
REF = Path(__file__).parents[1] / "tests" / "presidio_ref.py"


def presidio():
    spec = importlib.util.spec_from_file_location("ch21_presidio_ref", REF)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PresidioPatterns()


def main() -> None:
    start = time.perf_counter()
    runs = {seed: evaluate_detector(seed) for seed in (0, 1, 2)}
    f1 = [r["detector"]["f1"] for r in runs.values()]
    data = labelled_set(500, seed=7)
    theirs = presidio()
    result = {
        "injection": {
            "seeds": runs,
            "f1_mean": statistics.mean(f1),
            "f1_se": statistics.stdev(f1) / len(f1) ** 0.5,
        },
        "pii": {
            "n": len(data),
            "ours": span_scores(find_pii, data),
            "presidio_patterns": span_scores(theirs, data),
            "exact_span_agreement": agreement(data, theirs),
        },
        "wall_s": time.perf_counter() - start,
        "machine": machine_info(),
        "date": time.strftime("%Y-%m-%d"),
    }
    write_json(OUT, result)
    print(result["injection"]["f1_mean"], result["pii"]["exact_span_agreement"])


if __name__ == "__main__":
    main()
