"""``ch03-tokenization``: train, encode, decode and compare tokenizers built from scratch."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from ch03_tokenization.byte_bpe import TIKTOKEN_FILE
from ch03_tokenization.compare import MULTILINGUAL, compare_tokenizers, multilingual_table
from ch03_tokenization.html_view import render_html
from ch03_tokenization.labs import (
    anchor_views,
    bench_quick,
    bert_tokenizer,
    byte_bpe_parity,
    domain_adaptation,
    domain_tokenizers,
    held_out_corpora,
    train_tokenizer,
    training_documents,
)
from ch03_tokenization.loading import ALGORITHMS, load_tokenizer
from llmpath_core import UserError, artefact_path, load_text, write_text
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch03-tokenization",
    "Tokenization from scratch: char BPE, byte-level BPE, WordPiece, Unigram; held to HF "
    "tokenizers, tiktoken and sentencepiece.",
)


@command(app, device=False, out_help="output folder (default: $LLMPATH_HOME/ch03/ALGO)")
def train(
    run: Run,
    algo: str = typer.Option("byte-bpe", help=f"one of {', '.join(ALGORITHMS)}"),
    vocab_size: int = typer.Option(1000, help="vocabulary size, base alphabet included"),
    input: list[Path] = typer.Option(None, "--input", help="training files (default: stories)"),
    special: list[str] = typer.Option(None, "--special", help="special tokens to add"),
) -> dict:
    """Train a tokenizer and write DIR/tokenizer.json (HF format; byte-bpe adds tiktoken ranks)."""
    docs = training_documents([str(p) for p in input] if input else None)
    run.log(f"training {algo} to {vocab_size} tokens on {sum(map(len, docs)):,} characters")
    tok, seconds = train_tokenizer(algo, docs, vocab_size, special or ())
    if tok.vocab_size < vocab_size:
        run.log(f"note: the corpus ran out of pairs to merge at {tok.vocab_size} tokens")
    out = run.out_path(artefact_path("ch03", algo))
    tok.save(out)
    files = sorted(p.name for p in out.iterdir())
    if algo == "byte-bpe":
        assert TIKTOKEN_FILE in files
    run.table(
        [
            {
                "algo": algo,
                "vocab": tok.vocab_size,
                "train_s": round(seconds, 2),
                "out": str(out),
                "files": ", ".join(files),
            }
        ],
        title="trained",
    )
    return {
        "algo": algo,
        "vocab_size": tok.vocab_size,
        "train_s": seconds,
        "out": str(out),
        "files": files,
    }


def _text_arg(text: str | None, input: Path | None) -> str:
    if (text is None) == (input is None):
        raise UserError("give exactly one of --text or --input")
    if input is not None:
        return load_text(input)
    return text or ""


@command(app, device=False, out=False)
def encode(
    run: Run,
    tokenizer: Path = typer.Option(..., help="a train folder, a tokenizer.json or a vocab.txt"),
    text: str = typer.Option(None, help="text to encode"),
    input: Path = typer.Option(None, "--input", help="file to encode"),
    allow_special: bool = typer.Option(False, help="recognise special tokens in the text"),
) -> dict:
    """Encode text into token ids (--json: {"ids": [...], "tokens": [...]})."""
    tok = load_tokenizer(tokenizer)
    ids = tok.encode(_text_arg(text, input), allowed_special="all" if allow_special else "none")
    tokens = tok.tokens(ids)
    run.show(" ".join(map(str, ids)))
    return {"ids": ids, "tokens": tokens}


@command(app, device=False, out=False)
def decode(
    run: Run,
    tokenizer: Path = typer.Option(..., help="a train folder, a tokenizer.json or a vocab.txt"),
    ids: str = typer.Option(None, help="ids separated by spaces or commas, or a JSON list"),
    input: Path = typer.Option(None, "--input", help="file holding the ids"),
) -> dict:
    """Decode token ids back into text."""
    raw = _text_arg(ids, input).strip()
    try:
        values = (
            json.loads(raw)
            if raw.startswith("[")
            else [int(v) for v in raw.replace(",", " ").split()]
        )
    except ValueError:
        raise UserError("ids must be integers separated by spaces or commas") from None
    if not all(isinstance(v, int) for v in values):
        raise UserError("ids must be integers")
    tok = load_tokenizer(tokenizer)
    text = tok.decode(values)
    run.show(text)
    return {"text": text}


@command(app, device=False, out=False)
def compare(
    run: Run,
    tokenizer: list[Path] = typer.Option(None, "--tokenizer", help="tokenizers to compare"),
    vocab_size: int = typer.Option(1000, help="vocab size of the tokenizers trained here"),
    max_chars: int = typer.Option(200_000, help="characters of each corpus to use"),
    html_file: Path = typer.Option(None, "--html", help="also write a self-contained HTML page"),
) -> dict:
    """Fertility table on stories vs pydoc prose; with no --tokenizer, the domain lab:
    byte-bpe trained on stories (general) vs on pydoc (domain), plus BERT's WordPiece."""
    docs = None
    if tokenizer:
        tokenizers = {str(path): load_tokenizer(path) for path in tokenizer}
    else:
        tokenizers, docs = domain_tokenizers(vocab_size, max_chars, run.log)
    corpora = held_out_corpora(max_chars)
    rows = compare_tokenizers(tokenizers, corpora)
    run.table(rows, title="held-out fertility (higher chars/tok = better compression)")
    multi = multilingual_table(tokenizers)
    run.table(multi, title="tokens per character by script (multilingual sample)")
    best = max(rows, key=lambda r: r["pydoc chars/tok"])
    if html_file is not None:
        samples = {
            "story": corpora["stories"][:400],
            "pydoc prose": corpora["pydoc"][:400],
            **{k: v for k, v in MULTILINGUAL.items() if "Latin" not in k},
        }
        tables = {"held-out fertility": rows, "tokens per character by script": multi}
        shown = {**tokenizers, **anchor_views(tokenizers, docs, vocab_size, "(trained on pydoc)")}
        write_text(html_file, render_html(shown, samples, tables))
        run.log(f"wrote {html_file}")
    return {
        "rows": rows,
        "multilingual": multi,
        "html": str(html_file) if html_file is not None else None,
        "showed": "chars/token of each tokenizer on held-out stories and pydoc prose",
        "headline": f"{best['tokenizer']}: {best['pydoc chars/tok']:.2f} chars/token on pydoc",
    }


@command(app, device=False, out=False)
def domain(
    run: Run,
    general: str = typer.Option("stories", help="general text: stories, pydoc or a file"),
    domain_text: str = typer.Option("pydoc", "--domain", help="domain text: a file or bundled"),
    algo: str = typer.Option("byte-bpe", help=f"one of {', '.join(ALGORITHMS)}"),
    vocab_size: int = typer.Option(1000, help="vocabulary size of both tokenizers"),
    max_chars: int = typer.Option(300_000, help="characters of each corpus to use"),
) -> dict:
    """Domain adaptation: a tokenizer trained on general text vs one trained on domain text,
    both measured on held-out text of each (a file is split 90/10 by document/paragraph)."""
    rows = domain_adaptation(general, domain_text, vocab_size, algo, max_chars)
    run.table(rows, title="fertility on held-out text")
    on_domain = {
        r["trained on"].split(" ")[0]: r["chars/token"]
        for r in rows
        if r["measured on"] == "domain"
    }
    gain = on_domain["domain"] / on_domain["general"] - 1
    return {
        "rows": rows,
        "showed": "general- vs domain-trained tokenizer on held-out domain text",
        "headline": f"domain-trained {algo}: {gain:+.0%} chars/token on {domain_text}",
    }


@command(app, device=False, out=False)
def dashboard(
    run: Run,
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8765, help="port to listen on (0 picks a free one)"),
    tokenizer: list[Path] = typer.Option(
        None, "--tokenizer", help="tokenizers to show (default: the compare lab's, trained here)"
    ),
    vocab_size: int = typer.Option(1000, help="vocab size of the tokenizers trained here"),
    max_chars: int = typer.Option(
        200_000, help="characters of each bundled corpus to train on (less starts faster)"
    ),
) -> dict:
    """Serve a local page: type text and see how every tokenizer (ours, HF tokenizers, tiktoken
    from our ranks, sentencepiece, BERT's WordPiece) cuts it, live. Ctrl-C stops it."""
    import signal
    import threading

    from ch03_tokenization.dashboard import Dashboard, bind
    from ch03_tokenization.labs import comparison_views

    server = bind(host, port)  # first, so that a busy port fails before any training
    try:
        start = time.perf_counter()
        views = comparison_views(tokenizer, vocab_size, max_chars, run.log)
        server.dashboard = board = Dashboard(views)
        server.log_requests = run.debug
        run.log(f"{len(views)} tokenizers ready in {time.perf_counter() - start:.1f} s")
        print(f"dashboard: {server.url}  (Ctrl-C stops it)", flush=True)
        run.shown = True
        previous = {}
        if threading.current_thread() is threading.main_thread():
            # Ctrl-C and SIGTERM stop the server, even when started with SIGINT ignored (`&`)
            def stop(signum: int, frame: object) -> None:
                raise KeyboardInterrupt

            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, stop)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            run.log(f"stopped after {board.requests} tokenize requests")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        server.server_close()
    return {
        "url": server.url,
        "tokenizers": list(views),
        "requests": board.requests,
        "showed": "a live page comparing how each tokenizer cuts typed text",
        "headline": f"{len(views)} tokenizers served at {server.url}",
    }


@command(app, device=False, out=False)
def bench(
    run: Run,
    vocab_size: int = typer.Option(2048, help="vocabulary size to train"),
    max_chars: int = typer.Option(300_000, help="characters of each bundled corpus to use"),
) -> dict:
    """Quick benchmark: training vs HF tokenizers and a naive recount, encoding vs tiktoken and
    HF (side by side in this process; the full runs are benchmarks/*.py)."""
    docs = training_documents(["stories"], max_chars) + training_documents(["pydoc"], max_chars)
    text = "\n\n".join(held_out_corpora(max_chars).values())
    rows = bench_quick(docs, text, vocab_size)
    run.table(rows, title="ours vs anchors (anchor/ours > 1: ours faster)")
    tk = next(r for r in rows if r["anchor"] == "tiktoken")
    return {
        "rows": rows,
        "showed": "training and encoding speed of ours vs the anchors",
        "headline": f"encode {tk['ours MB/s']} MB/s vs tiktoken {tk['anchor MB/s']} MB/s",
    }


@command(app, device=False, out=False)
def demo(
    run: Run,
    vocab_size: int = typer.Option(1000, help="vocabulary size for every algorithm"),
    max_chars: int = typer.Option(150_000, help="characters of each bundled corpus to train on"),
) -> dict:
    """Train all four algorithms on the bundled data, check byte-bpe against HF and tiktoken,
    and print the comparison table."""
    docs = training_documents(["stories"], max_chars) + training_documents(["pydoc"], max_chars)
    tokenizers, train_s = {}, {}
    for algo in ALGORITHMS:
        run.log(f"training {algo} ({vocab_size} tokens)")
        tokenizers[algo], train_s[algo] = train_tokenizer(algo, docs, vocab_size)
    tokenizers["bert-wordpiece"] = bert_tokenizer()
    corpora = held_out_corpora(100_000)
    rows = compare_tokenizers(tokenizers, corpora)
    for row in rows:
        row["train_s"] = round(train_s.get(row["tokenizer"], 0.0), 2)
    run.table(rows, title=f"held-out compression, trained on {sum(map(len, docs)):,} chars")
    run.table(multilingual_table(tokenizers), title="tokens per character by script")
    start = time.perf_counter()
    parity = byte_bpe_parity(docs, vocab_size, corpora["pydoc"], ours=tokenizers["byte-bpe"])
    run.table(
        [parity],
        title=f"byte-bpe vs HF tokenizers and tiktoken ({time.perf_counter() - start:.1f} s)",
    )
    run.show(
        "more: `ch03-tokenization domain` (general vs domain tokenizer), `compare --html`, "
        "`dashboard` (live page), `bench`; the full benchmarks are benchmarks/*.py"
    )
    byte = next(r for r in rows if r["tokenizer"] == "byte-bpe")
    ok = "identical" if parity["merges_identical"] else "DIFFERENT"
    return {
        "rows": rows,
        "parity": parity,
        "showed": "four tokenizers trained from scratch on bundled text, compared on held-out "
        "stories and pydoc prose; byte-bpe checked against HF and tiktoken",
        "headline": f"byte-bpe {vocab_size}: {byte['pydoc chars/tok']:.2f} chars/token on pydoc, "
        f"merges {ok} to HF BpeTrainer",
    }


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
