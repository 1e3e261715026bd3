"""The chapter's experiments as functions: the CLI, the demo and the benchmarks call these."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from ch02_classic_lm.markov import MarkovSource
from ch02_classic_lm.ngram import SMOOTHINGS, NgramLM, tokenize
from llmpath_core import load_text

HELDOUT_SMOOTHINGS = ("laplace", "witten-bell", "good-turing", "kneser-ney", "modified-kneser-ney")


def markov_table(
    sizes: tuple[int, ...] = (1_000, 10_000, 100_000),
    smoothings: tuple[str, ...] = SMOOTHINGS,
    order: int = 3,
    test_size: int = 20_000,
    seed: int = 0,
) -> dict:
    """Held-out cross-entropy (bits/symbol) of each smoothing vs the source's true entropy rate.

    The source is a 2nd-order Markov chain over 10 symbols, so an order-3 model has exactly the
    right context; the gap to the entropy rate is what smoothing (and a finite sample) costs.
    """
    source = MarkovSource(order=order - 1, seed=seed)
    truth = source.entropy_rate()
    test = source.lines(test_size, seed=seed + 1)
    rows = []
    for size in sizes:
        train = source.lines(size, seed=seed + 2 + size)
        row: dict = {"train symbols": size}
        for smoothing in smoothings:
            model = NgramLM(order, smoothing).fit(train, bos=False, eos=False)
            row[smoothing] = _stream_bits(model, test)
        rows.append(row)
    return {"entropy_rate": truth, "order": order, "rows": rows}


def _stream_bits(model: NgramLM, lines: list[list[str]]) -> float:
    """Bits per symbol over lines scored without <s> / </s> (the source has no sentences)."""
    total, count = 0.0, 0
    for line in lines:
        ids = model.vocab.ids(line)
        for i, w in enumerate(ids):
            total -= math.log2(model.prob(w, ids[max(0, i - model.order + 1) : i]))
            count += 1
    return total / count


def heldout_table(
    source: str = "pydoc",
    level: str = "word",
    orders: tuple[int, ...] = (1, 2, 3, 4),
    smoothings: tuple[str, ...] = HELDOUT_SMOOTHINGS,
    max_sentences: int | None = None,
) -> list[dict]:
    """Perplexity on the bundled ``source``'s validation split, one row per order."""
    train = tokenize(load_text(source, split="train"), level)
    val = tokenize(load_text(source, split="validation"), level)[:max_sentences]
    rows = []
    for order in orders:
        row: dict = {"order": order}
        for smoothing in smoothings:
            row[smoothing] = NgramLM(order, smoothing).fit(train).evaluate(val)["perplexity"]
        rows.append(row)
    return rows


def sample_text(model: NgramLM, n: int, seed: int, level: str) -> list[str]:
    rng = np.random.default_rng(seed)
    joiner = "" if level == "char" else " "
    return [joiner.join(model.sample(rng)) for _ in range(n)]


def run_demo(seed: int = 0, out: Path | None = None, seq2seq_steps: int = 250) -> dict:
    """The chapter in about two minutes: smoothing vs the true entropy, held-out perplexity,
    a seq2seq model with Bahdanau attention trained on the dates task, its BLEU and heat map."""
    from ch02_classic_lm.bleu import corpus_bleu
    from ch02_classic_lm.seq2seq import attention_map, beam_search, train_seq2seq
    from llmpath_core import artefact_path

    t0 = time.perf_counter()
    markov = markov_table(sizes=(1_000, 10_000, 100_000), test_size=10_000, seed=seed)
    heldout = heldout_table("pydoc", "word", orders=(3,), max_sentences=600)[0]
    model, res = train_seq2seq("bahdanau", steps=seq2seq_steps, n_test=100, seed=seed)
    bleu = corpus_bleu(res.predictions, res.references)
    example = res.sources[0]
    beam = beam_search(model, example, beam=4)[0]
    folder = Path(out) if out is not None else artefact_path("ch02", "demo")
    heatmap = folder / "attention_bahdanau.png"
    attention_map(model, example, heatmap)
    best = min(HELDOUT_SMOOTHINGS, key=lambda s: heldout[s])
    big = markov["rows"][-1]
    truth = markov["entropy_rate"]
    return {
        "markov": markov,
        "heldout_pydoc_word_trigram": heldout,
        "seq2seq": {
            "attention": "bahdanau",
            "steps": seq2seq_steps,
            "exact_match": res.exact_match,
            "bleu": bleu["bleu"],
            "example": {"input": example, "greedy": res.predictions[0], "beam4": beam},
            "seconds": res.seconds,
        },
        "heatmap": str(heatmap),
        "seconds": time.perf_counter() - t0,
        "showed": "; ".join(
            [
                "order-3 smoothings vs a Markov source's true entropy rate at 1k/10k/100k symbols",
                "word-trigram perplexity of five smoothings on held-out pydoc prose",
                f"seq2seq with Bahdanau attention on dates -> ISO ({seq2seq_steps} steps), "
                "greedy and beam search, BLEU",
                f"attention heat map: {heatmap}",
            ]
        ),
        "headline": (
            f"at 100k symbols modified KN is {big['modified-kneser-ney'] - truth:.3f} "
            f"bits above the true entropy ({truth:.3f}), Laplace "
            f"{big['laplace'] - truth:.3f}; best held-out pydoc trigram: {best} "
            f"(ppl {heldout[best]:.1f}); seq2seq+attention BLEU {bleu['bleu']:.1f}, "
            f"exact match {res.exact_match:.0%}"
        ),
    }
