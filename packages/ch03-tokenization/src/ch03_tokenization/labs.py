"""The chapter's labs as plain functions (the CLI calls these): train, domain compare, demo."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ch03_tokenization.base import Tokenizer
from ch03_tokenization.loading import ALGORITHMS, bert_vocab_path, load_tokenizer
from ch03_tokenization.wordpiece import WordPieceTokenizer
from llmpath_core import UserError, load_documents, load_text


def training_documents(
    inputs: Sequence[str | Path] | None, max_chars: int | None = None
) -> list[str]:
    """Documents from ``inputs`` (files or bundled corpus names); bundled stories if none."""
    if not inputs:
        return load_documents("stories", max_chars=max_chars)
    docs: list[str] = []
    for source in inputs:
        path = Path(source)
        if path.suffix and not path.exists():
            raise UserError(f"no such input file: {source}")
        docs.extend(load_documents(source, max_chars=max_chars))
    if not any(doc.strip() for doc in docs):
        raise UserError("the training corpus is empty: give it some text (--input FILE)")
    return docs


def train_tokenizer(
    algo: str, docs: list[str], vocab_size: int, special_tokens: Sequence[str] = ()
) -> tuple[Tokenizer, float]:
    """Train ``algo`` on ``docs``; return the tokenizer and the training time in seconds."""
    if algo not in ALGORITHMS:
        raise UserError(f"unknown --algo {algo!r}: choose one of {', '.join(ALGORITHMS)}")
    if vocab_size < 1:
        raise UserError("--vocab-size must be positive")
    tok = ALGORITHMS[algo]()
    start = time.perf_counter()
    if special_tokens:
        tok.train(docs, vocab_size, special_tokens=list(special_tokens))
    else:
        tok.train(docs, vocab_size)
    return tok, time.perf_counter() - start


def held_out_corpora(max_chars: int = 200_000) -> dict[str, str]:
    """Held-out text of both bundled corpora (validation splits)."""
    return {
        "stories": load_text("stories:validation", max_chars=max_chars),
        "pydoc": load_text("pydoc:validation", max_chars=max_chars),
    }


def split_documents(
    source: str, max_chars: int | None = None, held_out_percent: int = 10
) -> tuple[list[str], str]:
    """Training documents and held-out text of ``source``.

    A bundled corpus uses its own train/validation splits; a file's documents (or, for a single
    document, its paragraphs) are split deterministically, every ``100 // held_out_percent``-th
    one held out.
    """
    name = source.partition(":")[0]
    if name in ("stories", "pydoc"):
        return (
            load_documents(name, max_chars=max_chars),
            load_text(f"{name}:validation", max_chars=max_chars),
        )
    docs = training_documents([source], max_chars=max_chars)
    if len(docs) < 10:
        docs = [p for doc in docs for p in doc.split("\n\n") if p.strip()]
    if len(docs) < 2:
        raise UserError(f"{source}: need at least two documents or paragraphs to hold one out")
    step = max(2, 100 // held_out_percent)
    held = [d for i, d in enumerate(docs) if i % step == step - 1]
    return [d for i, d in enumerate(docs) if i % step != step - 1], "\n\n".join(held)


def domain_adaptation(
    general: str,
    domain: str,
    vocab_size: int,
    algo: str = "byte-bpe",
    max_chars: int | None = 300_000,
) -> list[dict[str, Any]]:
    """Train ``algo`` on general text and on domain text at the same size; measure both on
    held-out text of each. Rows: tokenizer, corpus, tokens/word, chars/token."""
    from ch03_tokenization.compare import fertility

    general_docs, general_held = split_documents(general, max_chars)
    domain_docs, domain_held = split_documents(domain, max_chars)
    rows = []
    for label, docs in (("general", general_docs), ("domain", domain_docs)):
        tok, seconds = train_tokenizer(algo, docs, vocab_size)
        for corpus, text in (("general", general_held), ("domain", domain_held)):
            stats = fertility(tok, text)
            rows.append(
                {
                    "trained on": f"{label} ({general if label == 'general' else domain})",
                    "measured on": corpus,
                    "vocab": tok.vocab_size,
                    "tokens/word": round(stats["tokens_per_word"], 3),
                    "chars/token": round(stats["chars_per_token"], 3),
                    "train_s": round(seconds, 2),
                }
            )
    return rows


def bench_quick(docs: list[str], text: str, vocab_size: int = 2048) -> list[dict[str, Any]]:
    """A quick side-by-side benchmark: training vs HF ``BpeTrainer`` and the naive recount,
    encoding vs tiktoken and HF (the full runs are in ``benchmarks/``). Ratios: anchor / ours."""
    import json
    from collections import Counter

    from tokenizers import Tokenizer as HFTokenizer

    from ch03_tokenization.bpe import naive_train, train_merges
    from ch03_tokenization.byte_bpe import ByteBPETokenizer, hf_byte_order
    from ch03_tokenization.hf_anchor import hf_byte_bpe
    from ch03_tokenization.pretokenizers import RegexSplit
    from llmpath_core import compare

    ours = ByteBPETokenizer()

    def hf_train() -> HFTokenizer:
        return hf_byte_bpe(docs, vocab_size, ours.pattern)

    results = [
        compare(
            f"train to {vocab_size}",
            lambda: ours.train(docs, vocab_size),
            hf_train,
            names=("ours", "hf"),
            warmup=0,
            repeats=1,
        )
    ]
    counter = Counter(w for doc in docs for w in RegexSplit(ours.pattern)(doc))
    words, counts = [list(w.encode()) for w in counter], list(counter.values())
    base = [bytes([b]) for b in range(256)]
    merges = min(100, vocab_size - 256)
    results.append(
        compare(
            f"{merges} merges",
            lambda: train_merges(
                [w[:] for w in words], counts, list(base), 256 + merges, order=hf_byte_order()
            ),
            lambda: naive_train(
                [w[:] for w in words], counts, list(base), 256 + merges, order=hf_byte_order()
            ),
            names=("incremental", "naive"),
            warmup=0,
            repeats=1,
        )
    )
    tk = ours.to_tiktoken()
    hf = HFTokenizer.from_str(json.dumps(ours.to_hf_dict()))
    if not ours.encode(text) == tk.encode_ordinary(text) == hf.encode(text).ids:
        raise AssertionError("ours, tiktoken and HF disagree on the benchmark text")
    megabytes = len(text.encode()) / 1e6
    results.append(
        compare(
            "encode",
            lambda: ours.encode(text),
            lambda: tk.encode_ordinary(text),
            names=("ours", "tiktoken"),
            repeats=3,
        )
    )
    results.append(
        compare(
            "encode",
            lambda: ours.encode(text),
            lambda: hf.encode(text),
            names=("ours", "hf"),
            repeats=3,
        )
    )
    rows = []
    for r in results:
        row = {
            "task": r.task,
            "ours": r.ours.name,
            "ours_s": round(r.ours.median, 4),
            "anchor": r.anchor.name,
            "anchor_s": round(r.anchor.median, 4),
            "anchor/ours": round(r.speedup, 2),
        }
        encode = r.task == "encode"
        row["ours MB/s"] = round(megabytes / r.ours.median, 2) if encode else "-"
        row["anchor MB/s"] = round(megabytes / r.anchor.median, 2) if encode else "-"
        rows.append(row)
    return rows


def bert_tokenizer() -> WordPieceTokenizer:
    """The real BERT uncased WordPiece vocabulary (30,522 tokens)."""
    tok = load_tokenizer(bert_vocab_path())
    assert isinstance(tok, WordPieceTokenizer)
    return tok


def byte_bpe_parity(docs: list[str], vocab_size: int, text: str, ours=None) -> dict[str, Any]:
    """Train ours and HF's ``BpeTrainer`` identically; compare merges and encodings.

    ``ours`` is a :class:`ByteBPETokenizer` already trained on ``docs`` at ``vocab_size`` with the
    default pattern (trained here when not given).
    """
    import json

    from tokenizers import Tokenizer as HFTokenizer

    from ch03_tokenization.byte_bpe import ByteBPETokenizer
    from ch03_tokenization.hf_anchor import hf_byte_bpe, hf_merges

    if ours is None:
        ours = ByteBPETokenizer().train(docs, vocab_size)
    theirs = hf_merges(hf_byte_bpe(docs, vocab_size, ours.pattern))
    mine = ours.to_hf_dict()["model"]["merges"]
    loaded = HFTokenizer.from_str(json.dumps(ours.to_hf_dict()))
    ids = ours.encode(text)
    return {
        "merges": len(mine),
        "merges_identical": mine == theirs,
        "hf_ids_equal": loaded.encode(text, add_special_tokens=False).ids == ids,
        "tiktoken_ids_equal": ours.to_tiktoken().encode_ordinary(text) == ids,
        "round_trip": ours.decode(ids) == text,
    }


def anchor_views(
    tokenizers: dict[str, Tokenizer], docs: list[str] | None, vocab_size: int, docs_label: str = ""
) -> dict[str, Any]:
    """The production libraries beside ours, for the HTML page: tiktoken built from each byte-bpe's
    ranks, HF ``tokenizers`` loading its tokenizer.json, BERT's ``BertTokenizerFast`` and (when
    ``docs`` is given) a SentencePiece unigram model trained on the same text and size."""
    import io
    import json

    from tokenizers import Tokenizer as HFTokenizer

    from ch03_tokenization.byte_bpe import ByteBPETokenizer
    from ch03_tokenization.html_view import Anchor
    from ch03_tokenization.loading import bert_vocab_path

    views: dict[str, Any] = {}
    for name, tok in tokenizers.items():
        if isinstance(tok, ByteBPETokenizer):
            tk = tok.to_tiktoken()
            views[f"tiktoken ({name} ranks)"] = Anchor(
                tk.encode_ordinary,
                lambda i, tk=tk: tk.decode_single_token_bytes(i).decode("utf-8", "replace"),
                tk.decode,
                tk.n_vocab,
            )
            hf = HFTokenizer.from_str(json.dumps(tok.to_hf_dict()))
            views[f"HF tokenizers ({name} json)"] = Anchor(
                lambda s, hf=hf: hf.encode(s, add_special_tokens=False).ids,
                lambda i, hf=hf: hf.decode([i]),
                lambda ids, hf=hf: hf.decode(ids, skip_special_tokens=False),
                hf.get_vocab_size(),
            )
    if docs:
        import sentencepiece as spm

        lines = [line for doc in docs for line in doc.splitlines() if line.strip()]
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines),
            model_writer=buf,
            # with byte fallback the vocabulary must hold every character, 256 bytes and 3 metas
            vocab_size=max(vocab_size, len({c for line in lines for c in line}) + 260),
            model_type="unigram",
            byte_fallback=True,
            character_coverage=1.0,
            hard_vocab_limit=False,
            num_threads=1,
            minloglevel=2,
        )
        sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
        name = f"sentencepiece unigram {sp.get_piece_size()} {docs_label}".strip()
        views[name] = Anchor(sp.encode, sp.id_to_piece, sp.decode, sp.get_piece_size())
    from transformers import BertTokenizerFast

    bert = BertTokenizerFast(vocab=str(bert_vocab_path()))
    views["transformers BertTokenizerFast"] = Anchor(
        lambda s: bert(s, add_special_tokens=False)["input_ids"],
        bert.convert_ids_to_tokens,
        bert.decode,
        len(bert),
    )
    return views


def domain_tokenizers(
    vocab_size: int = 1000,
    max_chars: int | None = 200_000,
    log: Callable[[str], None] | None = None,
) -> tuple[dict[str, Tokenizer], list[str]]:
    """The domain lab's tokenizers: byte-bpe trained on the stories (general) and on the pydoc
    prose (domain) at ``vocab_size``, plus BERT's WordPiece; also the pydoc training documents
    (for a SentencePiece model trained on the same text, see :func:`anchor_views`)."""
    tokenizers: dict[str, Tokenizer] = {}
    docs: list[str] = []
    for corpus in ("stories", "pydoc"):
        docs = training_documents([corpus], max_chars=max_chars)
        if log is not None:
            log(f"training byte-bpe on {corpus}")
        tokenizers[f"byte-bpe@{corpus}"] = train_tokenizer("byte-bpe", docs, vocab_size)[0]
    tokenizers["bert-wordpiece"] = bert_tokenizer()
    return tokenizers, docs


def comparison_views(
    paths: Sequence[str | Path] | None = None,
    vocab_size: int = 1000,
    max_chars: int | None = 200_000,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Everything ``compare --html`` and the dashboard show: ours (the tokenizers at ``paths``,
    or with none the domain lab's :func:`domain_tokenizers`) followed by the production
    libraries beside them (:func:`anchor_views`; SentencePiece only when we trained here)."""
    if paths:
        tokenizers = {str(p): load_tokenizer(p) for p in paths}
        docs = None
    else:
        tokenizers, docs = domain_tokenizers(vocab_size, max_chars, log)
    if log is not None:
        libraries = "tiktoken, HF tokenizers, sentencepiece, BERT" if docs else "tiktoken, HF, BERT"
        log(f"building the library views ({libraries})")
    views: dict[str, Any] = dict(tokenizers)
    views.update(anchor_views(tokenizers, docs, vocab_size, "(trained on pydoc)"))
    return views


__all__ = [
    "anchor_views",
    "bench_quick",
    "bert_tokenizer",
    "byte_bpe_parity",
    "comparison_views",
    "domain_adaptation",
    "domain_tokenizers",
    "held_out_corpora",
    "split_documents",
    "train_tokenizer",
    "training_documents",
]
