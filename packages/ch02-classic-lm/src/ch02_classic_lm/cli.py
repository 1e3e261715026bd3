"""``ch02-classic-lm``: ngram, rnn, seq2seq, bleu, compare, demo (thin, over the library)."""

from __future__ import annotations

from pathlib import Path

import typer

from llmpath_core import UserError, load_text
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch02-classic-lm",
    "Classic language models: n-gram smoothing and perplexity, RNN/LSTM/GRU from scratch, "
    "seq2seq with attention and beam search, BLEU/ROUGE, and the case for transformers.",
)

EXAMPLE_HYP = [
    "the cat sat on the mat .",
    "there is a dog in the garden",
    "He read the book in 2 days.",
]
EXAMPLE_REF = [
    "the cat sat on the mat .",
    "a dog is in the garden",
    "He read the whole book in two days.",
]


def _read(path: Path) -> str:
    if path.is_dir():
        raise UserError(f"{path} is a folder: give a text file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text") from None


def _lines(path: Path) -> list[str]:
    return _read(path).splitlines()


@command(app, device=False)
def ngram(
    run: Run,
    order: int = typer.Option(3, "--order", help="n (1 = unigram)"),
    smoothing: str = typer.Option(
        "modified-kneser-ney",
        "--smoothing",
        help="laplace, lidstone, good-turing, witten-bell, kneser-ney, modified-kneser-ney, "
        "stupid-backoff",
    ),
    level: str = typer.Option("word", "--level", help="char or word"),
    train: Path = typer.Option(None, "--train", help="training text file (default: bundled)"),
    eval_file: Path = typer.Option(None, "--eval", help="held-out text file (default: bundled)"),
    source: str = typer.Option(
        "pydoc", "--source", help="bundled corpus without --train/--eval: pydoc or stories"
    ),
    k: float = typer.Option(0.1, "--k", help="additive constant for lidstone"),
    samples: int = typer.Option(3, "--samples", help="sentences to sample from the model"),
    arpa: Path = typer.Option(None, "--arpa", help="also write the model as an ARPA file"),
) -> dict:
    """Train an n-gram LM and report held-out perplexity (one line per sentence)."""
    from ch02_classic_lm.arpa import write_arpa
    from ch02_classic_lm.labs import sample_text
    from ch02_classic_lm.ngram import NgramLM, tokenize

    model = NgramLM(order, smoothing, k=k)  # validates order and smoothing first
    if source not in ("pydoc", "stories"):
        raise UserError(f"unknown --source {source!r}: use pydoc or stories")
    train_text = _read(train) if train else load_text(source, split="train")
    eval_text = _read(eval_file) if eval_file else load_text(source, split="validation")
    model.fit(tokenize(train_text, level))
    result = model.evaluate(tokenize(eval_text, level))
    result.update(
        order=order,
        smoothing=smoothing,
        level=level,
        train_tokens=model.tokens_trained,
        vocab_size=len(model.vocab),
        discounts=[list(d) for d in model.discounts],
        samples=sample_text(model, samples, run.seed, level),
    )
    if arpa is not None:
        result["arpa"] = str(write_arpa(model, arpa))
    run.table(
        [
            {"key": key, "value": result[key]}
            for key in (
                "order",
                "smoothing",
                "level",
                "train_tokens",
                "vocab_size",
                "perplexity",
                "cross_entropy_bits",
                "oov_rate",
            )
        ],
        title="n-gram LM",
    )
    for line in result["samples"]:
        run.show(f"sample: {line}")
    return result


@command(app, out_help="PNG of the gradient norm per time step (default: under LLMPATH_HOME)")
def rnn(
    run: Run,
    cell: str = typer.Option("all", "--cell", help="rnn, lstm, gru or all"),
    steps: int = typer.Option(150, "--steps", help="training steps per model"),
    hidden: int = typer.Option(64, "--hidden"),
    seq_len: int = typer.Option(48, "--seq-len", help="BPTT window"),
    clip: float = typer.Option(1.0, "--clip", help="gradient-norm clip (0 = off)"),
    init: str = typer.Option("default", "--init", help="default, orthogonal or large"),
    explode: bool = typer.Option(True, "--explode/--no-explode", help="exploding-gradient demo"),
) -> dict:
    """Train character LMs on our cells; plot how far back the gradient reaches."""
    import torch

    from ch02_classic_lm.plots import plot_gradient_reach
    from ch02_classic_lm.rnn import (
        CELLS,
        INITS,
        CharCorpus,
        exploding_gradients,
        gradient_per_step,
        train_char_lm,
    )
    from llmpath_core import artefact_path

    kinds = CELLS if cell == "all" else (cell,)
    if cell != "all" and cell not in CELLS:
        raise UserError(f"unknown --cell {cell!r}: use rnn, lstm, gru or all")
    if init not in INITS:
        raise UserError(f"unknown --init {init!r}: use {', '.join(INITS)}")
    if steps < 1 or hidden < 1 or seq_len < 2:
        raise UserError("--steps and --hidden must be positive and --seq-len at least 2")
    text = load_text("stories", split="train", max_chars=200_000)
    val = load_text("stories", split="validation", max_chars=10_000)
    corpus = CharCorpus.from_text(text)
    probe = torch.stack([corpus.encode(text[i * 997 : i * 997 + 41]) for i in range(16)])
    rows, curves = [], {}
    for kind in kinds:
        model, res = train_char_lm(
            text,
            val,
            kind,
            steps=steps,
            hidden=hidden,
            seq_len=seq_len,
            clip=clip or None,
            init=init,
            seed=run.seed,
        )
        reach = gradient_per_step(model, probe)
        curves[kind] = reach.tolist()
        rows.append(
            {
                "cell": kind,
                "val bits/char": res.val_bits_per_char,
                "final loss": sum(res.losses[-10:]) / 10,
                "grad reach t=0 / t=T": float(reach[0] / reach[-1]),
                "tokens/s": res.tokens_per_second,
            }
        )
    run.table(rows, title=f"character LMs, {steps} steps, hidden {hidden}")
    plot = run.out_path(artefact_path("ch02", "rnn") / "gradient_reach.png")
    plot_gradient_reach(curves, plot)
    result = {"models": rows, "gradient_per_step": curves, "plot": str(plot)}
    if explode:
        demo = exploding_gradients(text)
        result["exploding"] = {
            name: {k: v for k, v in d.items() if k != "grad_norms"}
            | {"first_grad_norm": d["grad_norms"][0]}
            for name, d in demo.items()
        }
        run.table(
            [
                {
                    "run": name,
                    "first grad norm": d["first_grad_norm"],
                    "largest update": d["max_update"],
                    "saturated units": d["saturated"],
                    "grad reach": d["reach"],
                }
                for name, d in result["exploding"].items()
            ],
            title="vanilla RNN, recurrent weights N(0, 3/sqrt(H)), SGD lr 0.3",
        )
    return result


@command(app, out_help="attention heat map PNG (default: under LLMPATH_HOME)")
def seq2seq(
    run: Run,
    attention: str = typer.Option("bahdanau", "--attention", help="none, bahdanau or luong"),
    steps: int = typer.Option(250, "--steps"),
    inputs: str = typer.Option("short", "--inputs", help="short (0-3 filler words) or long (6-10)"),
    beam: int = typer.Option(4, "--beam", help="beam width for the beam-search column"),
    alpha: float = typer.Option(0.6, "--alpha", help="length normalisation exponent"),
    text: str = typer.Option(None, "--text", help="translate this text too"),
    test: int = typer.Option(100, "--test", help="held-out pairs to score"),
) -> dict:
    """Train the dates -> ISO model, decode greedy and with beam search, report BLEU/ROUGE."""
    from ch02_classic_lm.bleu import corpus_bleu, corpus_rouge
    from ch02_classic_lm.seq2seq import ATTENTIONS, attention_map, beam_search, train_seq2seq
    from llmpath_core import artefact_path

    if attention not in ATTENTIONS:
        raise UserError(f"unknown --attention {attention!r}: use none, bahdanau or luong")
    if inputs not in ("short", "long"):
        raise UserError("--inputs must be short or long")
    if beam < 1 or steps < 1 or test < 1:
        raise UserError("--beam, --steps and --test must be at least 1")
    filler = (0, 3) if inputs == "short" else (6, 10)
    model, res = train_seq2seq(attention, steps=steps, filler=filler, n_test=test, seed=run.seed)
    beamed = [beam_search(model, x, beam=beam, alpha=alpha)[0] for x in res.sources]
    result = {
        "attention": attention,
        "inputs": inputs,
        "steps": steps,
        "exact_match": res.exact_match,
        "bleu": corpus_bleu(res.predictions, res.references)["bleu"],
        "beam_exact_match": sum(b == y for b, y in zip(beamed, res.references, strict=True))
        / len(beamed),
        "beam_bleu": corpus_bleu(beamed, res.references)["bleu"],
        "rouge": corpus_rouge(res.predictions, res.references),
        "train_seconds": res.seconds,
        "examples": [
            {"input": x, "greedy": p, "beam": b, "reference": y}
            for x, p, b, y in list(
                zip(res.sources, res.predictions, beamed, res.references, strict=True)
            )[:3]
        ],
    }
    if text:
        result["translation"] = beam_search(model, text, beam=beam, alpha=alpha)[0]
    if attention != "none":
        path = run.out_path(artefact_path("ch02", "seq2seq") / f"attention_{attention}.png")
        attention_map(model, text or res.sources[0], path)
        result["heatmap"] = str(path)
    run.table(
        [{"key": k, "value": v} for k, v in result.items() if not isinstance(v, (dict, list))],
        title="seq2seq, dates -> ISO",
    )
    run.table(result["examples"], title="examples")
    return result


@command(app, device=False, out=False)
def bleu(
    run: Run,
    hyp: Path = typer.Option(None, "--hyp", help="hypotheses, one sentence a line"),
    ref: list[Path] = typer.Option(None, "--ref", help="references (repeat for several)"),
    rouge: bool = typer.Option(True, "--rouge/--no-rouge", help="also ROUGE-1/2/L"),
) -> dict:
    """Corpus BLEU (sacrebleu's 13a tokenisation, 0-100) and ROUGE of a hypothesis file."""
    from ch02_classic_lm.bleu import corpus_bleu, corpus_rouge

    if (hyp is None) != (not ref):
        raise UserError("give both --hyp and --ref (or neither, for the built-in example)")
    hyps = _lines(hyp) if hyp else EXAMPLE_HYP
    refs = [_lines(r) for r in ref] if ref else [EXAMPLE_REF]
    for path, stream in zip(ref or [], refs, strict=False):
        if len(stream) != len(hyps):
            raise UserError(
                f"{hyp} has {len(hyps)} lines but {path} has {len(stream)}: "
                "give one reference line per hypothesis line"
            )
    result = corpus_bleu(hyps, refs)
    if rouge:
        result["rouge"] = corpus_rouge(hyps, refs[0])
    run.table(
        [{"key": k, "value": v} for k, v in result.items() if k != "rouge"]
        + [{"key": k, "value": v} for k, v in result.get("rouge", {}).items()],
        title="BLEU (13a) and ROUGE F1",
    )
    return result


@command(app, out_help="PNG of the comparison (default: under LLMPATH_HOME)")
def compare(
    run: Run,
    steps: int = typer.Option(150, "--steps", help="training steps per neural model"),
    contexts: str = typer.Option("2,4,8", "--contexts", help="context lengths, comma-separated"),
) -> dict:
    """n-gram vs FFN LM vs LSTM vs a one-layer transformer: perplexity, time, copy task."""
    from ch02_classic_lm.compare import compare_models
    from ch02_classic_lm.plots import plot_compare
    from llmpath_core import artefact_path

    try:
        ctx = tuple(int(c) for c in contexts.split(","))
    except ValueError:
        raise UserError(
            f"--contexts must be integers separated by commas, got {contexts!r}"
        ) from None
    if steps < 1 or min(ctx) < 1:
        raise UserError("--steps and every context length must be at least 1")
    result = compare_models(contexts=ctx, steps=steps, seed=run.seed)
    run.table(result["rows"], title="bits per character on held-out stories (lower is better)")
    run.table(result["copy"], title="copy task: recall a 10-symbol string after a separator")
    plot = run.out_path(artefact_path("ch02", "compare") / "compare.png")
    plot_compare(result, plot)
    result["plot"] = str(plot)
    return result


@command(app, out_help="folder for the demo's PNGs (default: under LLMPATH_HOME)")
def demo(
    run: Run,
    steps: int = typer.Option(250, "--steps", help="seq2seq training steps"),
) -> dict:
    """The chapter in about two minutes: smoothing vs true entropy, seq2seq, BLEU, attention."""
    from ch02_classic_lm.labs import HELDOUT_SMOOTHINGS, run_demo
    from ch02_classic_lm.ngram import SMOOTHINGS

    result = run_demo(seed=run.seed, out=run.out, seq2seq_steps=steps)
    m = result["markov"]
    run.table(
        [{"train symbols": r["train symbols"], **{s: r[s] for s in SMOOTHINGS}} for r in m["rows"]],
        title="bits/symbol on a 2nd-order Markov source; "
        f"true entropy rate {m['entropy_rate']:.4f}",
    )
    h = result["heldout_pydoc_word_trigram"]
    run.table(
        [{s: h[s] for s in HELDOUT_SMOOTHINGS}], title="word-trigram perplexity, pydoc validation"
    )
    s = result["seq2seq"]
    run.show(
        f"seq2seq (Bahdanau): exact match {s['exact_match']:.0%}, BLEU {s['bleu']:.1f}; "
        f"{s['example']['input']!r} -> greedy {s['example']['greedy']!r}, "
        f"beam {s['example']['beam4']!r}"
    )
    run.show(f"attention heat map: {result['heatmap']}")
    run.show(result["headline"])
    return result


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
