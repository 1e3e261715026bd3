"""BPE training speed: ours (incremental counts + heap) vs a naive full recount vs HF tokenizers.

Run: ``uv run python packages/ch03-tokenization/benchmarks/bench_train.py [--json]
[--naive-merges N]`` (default 500; 3840 = the full vocab 4096, several minutes for the naive loop)

On ~2 MB of bundled text (stories + pydoc prose): ours vs Hugging Face ``BpeTrainer`` (Rust) at
vocab 4096, checking the merge lists are identical; ours vs the naive recount at a vocab the naive
loop can finish in reasonable time (both measured on the same words).
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


from ch03_tokenization import ByteBPETokenizer, naive_train, train_merges
from ch03_tokenization.byte_bpe import hf_byte_order
from ch03_tokenization.hf_anchor import hf_byte_bpe, hf_merges
from ch03_tokenization.pretokenizers import RegexSplit
from llmpath_core import compare, load_documents, machine_info, print_table


def main() -> None:
    docs = load_documents("stories", max_chars=1_600_000) + load_documents("pydoc")
    chars = sum(map(len, docs))
    results = []

    ours_tok = ByteBPETokenizer()
    pattern = ours_tok.pattern
    cmp = compare(
        "byte-bpe train, vocab 4096, ~2 MB",
        lambda: ours_tok.train(docs, 4096),
        lambda: hf_byte_bpe(docs, 4096, pattern),
        names=("ours", "hf-tokenizers"),
        warmup=0,
        repeats=3,
    )
    theirs = hf_merges(hf_byte_bpe(docs, 4096, pattern))
    cmp.extra["merges_identical"] = ours_tok.to_hf_dict()["model"]["merges"] == theirs
    results.append(cmp)

    # naive vs incremental on the same unique words (pre-tokenization excluded from both)
    counter = Counter(w for doc in docs for w in RegexSplit(pattern)(doc))
    words = [list(w.encode()) for w in counter]
    counts = list(counter.values())
    naive_merges = 500
    if "--naive-merges" in sys.argv:
        naive_merges = int(sys.argv[sys.argv.index("--naive-merges") + 1])
    target = 256 + naive_merges

    def fresh_vocab() -> list[bytes]:
        return [bytes([b]) for b in range(256)]

    learned: dict[str, list] = {}

    def fast() -> None:
        learned["fast"] = train_merges(
            [w[:] for w in words], counts, fresh_vocab(), target, order=hf_byte_order()
        )

    def slow() -> None:
        learned["slow"] = naive_train(
            [w[:] for w in words], counts, fresh_vocab(), target, order=hf_byte_order()
        )

    naive = compare(
        f"merge loop, {target - 256} merges, {len(words):,} unique words",
        fast,
        slow,
        names=("incremental", "naive-recount"),
        warmup=0,
        repeats=1,
    )
    naive.extra["merges_identical"] = learned["fast"] == learned["slow"]
    results.append(naive)

    rows = [r.to_dict() for r in results]
    if "--json" in sys.argv:
        print(json.dumps({"chars": chars, "machine": machine_info(), "results": rows}))
    else:
        print(f"corpus: {chars:,} characters; machine: {machine_info()}")
        print_table(rows, title="BPE training (speedup = anchor time / ours)")


if __name__ == "__main__":
    main()
