"""Encoding throughput (MB/s): our byte-level BPE vs tiktoken and HF tokenizers on the same ranks.

Run: ``uv run python packages/ch03-tokenization/benchmarks/bench_encode.py [--json]``

One tokenizer is trained (vocab 4096) on the bundled training text; tiktoken gets our ranks and
pattern, HF loads our tokenizer.json. All three encode the same ~1 MB of held-out text,
single-threaded, and must give identical ids. "ours (cold)" clears our per-word cache each run.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("RAYON_NUM_THREADS", "1")

from tokenizers import Tokenizer as HFTokenizer

from ch03_tokenization import ByteBPETokenizer
from llmpath_core import compare, load_documents, load_text, machine_info, print_table


def main() -> None:
    docs = load_documents("stories", max_chars=600_000) + load_documents("pydoc")
    tok = ByteBPETokenizer().train(docs, 4096)
    text = load_text("stories:validation", max_chars=700_000) + load_text("pydoc:validation")
    megabytes = len(text.encode("utf-8")) / 1e6
    tk = tok.to_tiktoken()
    hf = HFTokenizer.from_str(json.dumps(tok.to_hf_dict()))
    assert tok.encode(text) == tk.encode_ordinary(text) == hf.encode(text).ids

    def ours_cold() -> list[int]:
        tok._cache.clear()
        return tok.encode(text)

    results = [
        compare(
            "encode vs tiktoken",
            lambda: tok.encode(text),
            lambda: tk.encode_ordinary(text),
            names=("ours (cached)", "tiktoken"),
            repeats=3,
        ),
        compare(
            "encode vs tiktoken",
            ours_cold,
            lambda: tk.encode_ordinary(text),
            names=("ours (cold)", "tiktoken"),
            repeats=3,
        ),
        compare(
            "encode vs HF tokenizers",
            lambda: tok.encode(text),
            lambda: hf.encode(text),
            names=("ours (cached)", "hf-tokenizers"),
            repeats=3,
        ),
    ]
    rows = []
    for r in results:
        row = r.to_dict()
        row["ours_MB_s"] = round(megabytes / r.ours.median, 2)
        row["anchor_MB_s"] = round(megabytes / r.anchor.median, 2)
        rows.append(row)
    if "--json" in sys.argv:
        print(json.dumps({"megabytes": megabytes, "machine": machine_info(), "results": rows}))
    else:
        print(f"text: {megabytes:.2f} MB; machine: {machine_info()}")
        print_table(rows, title="byte-level BPE encoding (speedup = anchor time / ours)")


if __name__ == "__main__":
    main()
