"""Compression (UTF-8 bytes per token) at equal vocabulary sizes, on each bundled corpus.

Run: ``uv run python packages/ch03-tokenization/benchmarks/bench_compression.py [--sizes 1000 2048]
[--json]`` (the committed ``results-compression-cpu-2core.json`` is ``--sizes 1000 --json``:
our pure-Python Unigram EM alone takes about a minute at 2048).

Ours (byte-bpe, char-bpe, wordpiece, unigram), HF ``BpeTrainer`` (byte-level, same split pattern),
SentencePiece (unigram and BPE, identity normalization), all trained on the same text, plus the
real BERT uncased vocabulary (30,522 tokens, trained on far more text). Measured on held-out
(validation) text; higher is better compression. SentencePiece keeps runs of spaces
(``remove_extra_whitespaces=False``) but encodes line by line, so newlines cost it nothing.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import sentencepiece as spm

from ch03_tokenization import ALGORITHMS, GPT4_SPLIT_PATTERN
from ch03_tokenization.hf_anchor import hf_byte_bpe
from ch03_tokenization.labs import bert_tokenizer
from llmpath_core import load_documents, load_text, machine_info, print_table


def lines_of(docs: list[str]) -> list[str]:
    return [line for doc in docs for line in doc.splitlines() if line.strip()]


def main() -> None:
    sizes = [1000, 2048]
    if "--sizes" in sys.argv:
        at = sys.argv.index("--sizes") + 1
        sizes = []
        while at < len(sys.argv) and sys.argv[at].isdigit():
            sizes.append(int(sys.argv[at]))
            at += 1
    docs = load_documents("stories", max_chars=250_000) + load_documents("pydoc")
    held = {
        "stories": load_text("stories:validation", max_chars=100_000),
        "pydoc": load_text("pydoc:validation"),
    }
    encoders: dict[str, object] = {}
    train_s: dict[str, float] = {}
    for size in sizes:
        for algo, cls in ALGORITHMS.items():
            start = time.perf_counter()
            tok = cls().train(docs, size)
            train_s[f"ours {algo} {size}"] = time.perf_counter() - start
            encoders[f"ours {algo} {size}"] = tok.encode
        hf = hf_byte_bpe(docs, size, GPT4_SPLIT_PATTERN)
        encoders[f"hf byte-bpe {size}"] = lambda t, hf=hf: hf.encode(t).ids
        for kind in ("unigram", "bpe"):
            buf = io.BytesIO()
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines_of(docs)),
                model_writer=buf,
                vocab_size=size,
                model_type=kind,
                normalization_rule_name="identity",
                character_coverage=1.0,
                byte_fallback=True,
                num_threads=2,
                minloglevel=2,
            )
            sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
            encoders[f"sentencepiece {kind} {size}"] = lambda t, sp=sp: [
                i for line in t.split("\n") for i in sp.encode(line)
            ]
    encoders["bert wordpiece 30522"] = bert_tokenizer().encode
    rows = []
    for name, encode in encoders.items():
        row = {"tokenizer": name}
        for corpus, text in held.items():
            row[f"{corpus} bytes/token"] = round(len(text.encode()) / len(encode(text)), 3)
        rows.append(row)
    if "--json" in sys.argv:
        out = {"sizes": sizes, "machine": machine_info(), "rows": rows, "train_s": train_s}
        print(json.dumps(out))
    else:
        print_table(rows, title="held-out compression (bytes per token; higher is better)")


if __name__ == "__main__":
    main()
