"""N-gram lab numbers: counting speed vs a Counter over tuples, the smoothing tables, KenLM.

Run: ``uv run python packages/ch02-classic-lm/benchmarks/bench_ngram.py [--kenlm PYTHON]``.
``--kenlm`` names a Python interpreter that has the ``kenlm`` module (it compiles for minutes,
so it is not in the workspace lock); our ARPA file is then scored by KenLM in that interpreter
and compared with our own ARPA reader. Writes ``benchmarks/results/ngram.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent / "results"

KENLM_SCRIPT = """
import json, sys, kenlm
model = kenlm.Model(sys.argv[1])
sentences = json.load(open(sys.argv[2]))
print(json.dumps([model.score(" ".join(s), bos=True, eos=True) for s in sentences]))
"""


def counting_speed(tokens: list[str], order: int = 3) -> dict:
    from ch02_classic_lm.ngram import Vocabulary, count_ngrams, encode

    sentences = [tokens]
    vocab = Vocabulary.build(sentences)
    ids, sent = encode(sentences, vocab)

    def ours():
        count_ngrams(ids, sent, order, len(vocab))

    def naive():
        Counter(zip(*(tokens[i:] for i in range(order)), strict=False))

    from llmpath_core import compare

    def ours_from_strings():
        v = Vocabulary.build(sentences)
        i, s = encode(sentences, v)
        count_ngrams(i, s, order, len(v))

    c = compare("trigram counting", ours, naive, warmup=1, repeats=5)
    e = compare("vocabulary + encoding + counting", ours_from_strings, naive, warmup=1, repeats=5)
    n = len(tokens)
    return {
        "tokens": n,
        "order": order,
        "ours_tokens_per_s": n / c.ours.median,
        "counter_tokens_per_s": n / c.anchor.median,
        "speedup": c.anchor.median / c.ours.median,
        "ours_from_strings_tokens_per_s": n / e.ours.median,
        "speedup_from_strings": e.anchor.median / e.ours.median,
        "note": "ours: counting over encoded ids; ours_from_strings adds building the vocabulary "
        "and encoding (a dict lookup per token), the same input as the Counter baseline",
    }


def kenlm_check(python: str) -> dict:
    from ch02_classic_lm.arpa import ArpaModel, write_arpa
    from ch02_classic_lm.ngram import NgramLM, tokenize
    from llmpath_core import load_text

    train = tokenize(load_text("pydoc", split="train"), "word")
    val = tokenize(load_text("pydoc", split="validation"), "word")[:500]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sents = Path(tmp) / "s.json"
        sents.write_text(json.dumps(val))
        script = Path(tmp) / "k.py"
        script.write_text(KENLM_SCRIPT)
        for smoothing in ("modified-kneser-ney", "kneser-ney", "witten-bell", "good-turing"):
            model = NgramLM(3, smoothing).fit(train)
            path = write_arpa(model, Path(tmp) / "m.arpa")
            reader = ArpaModel(path)
            ours = []
            for s in val:
                history, total = [0], 0.0
                for w in [*model.vocab.ids(s), 1]:
                    total += math.log10(model.prob(w, history))
                    history.append(w)
                ours.append(total)
            out = subprocess.run(
                [python, str(script), str(path), str(sents)],
                capture_output=True,
                text=True,
                check=True,
            )
            theirs = json.loads(out.stdout)
            rows.append(
                {
                    "smoothing": smoothing,
                    "sentences": len(val),
                    "max |ours - kenlm| log10/sentence": max(
                        abs(a - b) for a, b in zip(ours, theirs, strict=False)
                    ),
                    "max |ours - our ARPA reader|": max(
                        abs(a - reader.sentence_logprob(s)) for a, s in zip(ours, val, strict=False)
                    ),
                }
            )
    return {"rows": rows, "python": python}


def main() -> None:
    from ch02_classic_lm.labs import heldout_table, markov_table
    from ch02_classic_lm.ngram import tokenize
    from llmpath_core import atomic_write, load_text, machine_info, print_table

    parser = argparse.ArgumentParser()
    parser.add_argument("--kenlm", help="a Python interpreter with the kenlm module")
    parser.add_argument(
        "--counting-only",
        action="store_true",
        help="re-measure only the counting speed and update that entry of the results file",
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    words = [t for s in tokenize(load_text("stories", split="train"), "word") for t in s]
    speed = counting_speed(words * 3)
    speed["load_average_1min"] = os.getloadavg()[0]
    speed["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print_table([speed], title="trigram counting")
    if args.counting_only:
        payload = json.loads((HERE / "ngram.json").read_text())
        payload["counting"] = speed
        with atomic_write(HERE / "ngram.json") as f:
            json.dump(payload, f, indent=1, default=str)
        print(f"updated the counting entry of {HERE / 'ngram.json'}")
        return
    markov = markov_table(sizes=(1_000, 10_000, 100_000, 1_000_000))
    print_table(markov["rows"], title=f"bits/symbol; entropy rate {markov['entropy_rate']:.4f}")
    held = {
        "pydoc word": heldout_table("pydoc", "word", orders=(1, 2, 3, 4)),
        "stories word": heldout_table("stories", "word", orders=(2, 3, 4)),
        "pydoc char": heldout_table("pydoc", "char", orders=(3, 5)),
    }
    for name, rows in held.items():
        print_table(rows, title=f"perplexity, {name}, validation split")
    payload = {
        "command": "uv run python packages/ch02-classic-lm/benchmarks/bench_ngram.py"
        + (f" --kenlm {args.kenlm}" if args.kenlm else ""),
        "counting": speed,
        "markov": markov,
        "heldout": held,
    }
    if args.kenlm:
        payload["kenlm"] = kenlm_check(args.kenlm)
        print_table(payload["kenlm"]["rows"], title="our ARPA file in KenLM")
    payload["seconds"] = round(time.perf_counter() - t0, 1)
    payload["machine"] = machine_info()
    with atomic_write(HERE / "ngram.json") as f:
        json.dump(payload, f, indent=1, default=str)
    print(f"wrote {HERE / 'ngram.json'}")


if __name__ == "__main__":
    main()
