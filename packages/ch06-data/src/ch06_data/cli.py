"""``ch06-data``: crawl, dedup, substrings, quality, contamination, pii, scurve, synth, demo."""

from __future__ import annotations

from pathlib import Path

import typer

from llmpath_core import UserError, artefact_path
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch06-data",
    "Data preparation: polite crawling, MinHash-LSH dedup (local or Spark), quality filters, "
    "contamination checks, PII redaction, synthetic data with a real-vs-synthetic training test.",
)


def _read_texts(path: Path) -> list[str]:
    from ch06_data.shards import iter_records

    return [r["text"] for r in iter_records(path)]


@command(app, device=False, out_help="JSONL file for the valid records")
def crawl(
    run: Run,
    start_url: str = typer.Option(
        None, "--start-url", help="where to start (default: the bundled local site, served here)"
    ),
    state: Path = typer.Option(None, "--state", help="SQLite crawl state: run again to resume"),
    rate: float = typer.Option(10.0, "--rate", help="requests per second per host"),
    max_pages: int = typer.Option(1000, "--max-pages", help="stop after this many pages"),
    refresh: bool = typer.Option(
        False, "--refresh", help="re-check done pages with conditional requests"
    ),
    framework: str = typer.Option(
        "ours", "--framework", help="ours, or scrapy (the same crawl with a Scrapy spider)"
    ),
) -> dict:
    """Crawl listing pages politely into validated records (robots.txt, rate limit, retries)."""
    import contextlib

    from ch06_data.crawl import CrawlConfig, Crawler, valid_records
    from ch06_data.listing_site import SiteServer
    from ch06_data.shards import write_records

    if max_pages < 1:
        raise UserError("--max-pages must be at least 1")
    if framework not in ("ours", "scrapy"):
        raise UserError(f"unknown --framework {framework!r}: use ours or scrapy")
    if framework == "scrapy":
        from ch06_data.scrapy_spider import scrapy_crawl

        out = run.out_path(artefact_path("ch06", "crawl", "records-scrapy.jsonl"))
        with contextlib.ExitStack() as stack:
            if start_url is None:
                start_url = stack.enter_context(SiteServer()).url
            got = scrapy_crawl(start_url, out.with_suffix(".feed.jsonl"), rate=rate)
        write_records(out, got["valid"])
        result = {
            "framework": "scrapy",
            "start_url": start_url,
            "out": str(out),
            "requests": got["stats"]["downloader/request_count"],
            "retries": got["stats"]["retry/count"],
            "records": len(got["records"]),
            "valid_records": len(got["valid"]),
            "crawl_seconds": got["stats"]["elapsed_time_seconds"],
        }
        run.table([{"key": k, "value": v} for k, v in result.items()], title="crawl (Scrapy)")
        return result
    config = CrawlConfig(rate=rate, max_pages=max_pages, seed=run.seed)
    with contextlib.ExitStack() as stack:
        if start_url is None:
            server = stack.enter_context(SiteServer())
            start_url = server.url
            state = state or artefact_path("ch06", "crawl", f"local-site-{run.seed}.sqlite")
            if state.exists() and not refresh:
                state.unlink()  # the local site gets a new port each run: start fresh
        state = state or artefact_path("ch06", "crawl", "crawl.sqlite")
        crawler = Crawler(state, config)
        try:
            report = crawler.crawl(start_url, refresh=refresh)
            records = valid_records(crawler.records())
        finally:
            crawler.close()
    out = run.out_path(artefact_path("ch06", "crawl", "records.jsonl"))
    write_records(out, records)
    result = {
        "start_url": start_url,
        "state": str(state),
        "out": str(out),
        "fetched": report.fetched,
        "not_modified": report.not_modified,
        "retries": report.retries,
        "redirects": report.redirects,
        "requests": report.requests,
        "disallowed": report.disallowed,
        "failed": report.failed,
        "pages_done": report.pages_done,
        "records": report.records,
        "valid_records": len(records),
        "quality": report.quality,
    }
    run.table(
        [{"key": k, "value": v} for k, v in result.items() if not isinstance(v, (dict, list))],
        title="crawl",
    )
    return result


@command(app, device=False, out_help="output JSONL (one document per near-duplicate cluster)")
def dedup(
    run: Run,
    input: Path = typer.Option(
        None,
        "--input",
        help="JSONL(.gz) file or folder of shards (default: generated, planted duplicates)",
    ),
    threshold: float = typer.Option(
        0.8, "--threshold", help="Jaccard similarity threshold, in (0, 1]"
    ),
    engine: str = typer.Option("local", "--engine", help="local or spark"),
    num_perm: int = typer.Option(128, "--num-perm", help="MinHash permutations"),
    shingle: int = typer.Option(5, "--shingle", help="words per shingle"),
    workers: int = typer.Option(1, "--workers", help="processes for signatures (local engine)"),
) -> dict:
    """Exact + MinHash-LSH near-duplicate removal; records keep all their fields."""
    from ch06_data.dedup import DedupConfig, dedup_shards

    if engine not in ("local", "spark"):
        raise UserError(f"unknown --engine {engine!r}: use local or spark")
    if workers < 1:
        raise UserError("--workers must be at least 1")
    config = DedupConfig(threshold=threshold, num_perm=num_perm, k=shingle, workers=workers)
    if input is None:
        from ch06_data.corpus import planted_corpus
        from ch06_data.shards import write_records

        input = artefact_path("ch06", "dedup") / "planted.jsonl"
        write_records(input, planted_corpus(seed=run.seed).records)
    out = run.out_path(artefact_path("ch06", "dedup") / "deduped.jsonl")
    if engine == "spark":
        from ch06_data.spark_dedup import dedup_shards_spark

        report = dedup_shards_spark(input, out, config)
    else:
        report = dedup_shards(input, out, config)
    from ch06_data.lineage import write_lineage

    lineage = write_lineage(
        "dedup",
        [input],
        [out],
        {"threshold": threshold, "num_perm": num_perm, "shingle": shingle, "engine": engine},
    )
    result = {**report.to_dict(), "input": str(input), "out": str(out), "lineage": str(lineage)}
    run.table([{"key": k, "value": v} for k, v in result.items()], title="dedup")
    return result


@command(app, device=False, out_help="output JSONL with repeated substrings cut")
def substrings(
    run: Run,
    input: Path = typer.Option(
        None,
        "--input",
        help="JSONL(.gz) (default: bundled stories with a planted boilerplate paragraph)",
    ),
    min_len: int = typer.Option(100, "--min-len", help="shortest repeat to remove, in bytes"),
) -> dict:
    """Suffix-array exact-substring dedup: cut repeats of long spans after their first one."""
    from ch06_data.shards import iter_records, write_records
    from ch06_data.suffix_array import remove_repeated_substrings

    if min_len < 10:
        raise UserError("--min-len must be at least 10 bytes")
    if input is None:
        from llmpath_core.data import load_documents

        boiler = (
            "This story is part of the llmpath bundled corpus. Reproduction is permitted under "
            "the licence printed at the end of the collection; no warranty is given."
        )
        docs = load_documents("stories", split="validation")[:40]
        records = [
            {"text": d + ("\n\n" + boiler if i % 2 == 0 else "")} for i, d in enumerate(docs)
        ]
        source = "bundled stories"
    else:
        records = list(iter_records(input))
        source = str(input)
    cleaned, removed = remove_repeated_substrings([r["text"] for r in records], min_len)
    out = run.out_path(artefact_path("ch06", "substrings") / "cleaned.jsonl")
    write_records(out, ({**r, "text": t} for r, t in zip(records, cleaned, strict=True)))
    total = sum(len(r["text"].encode()) for r in records)
    result = {
        "input": source,
        "out": str(out),
        "documents": len(records),
        "bytes_in": total,
        "bytes_removed": removed,
        "min_len": min_len,
    }
    return result


@command(app, device=False, out_help="JSONL of the documents that pass")
def quality(
    run: Run,
    input: Path = typer.Option(None, "--input", help="JSONL(.gz) (default: the demo corpus)"),
    lang: str = typer.Option("en", "--lang", help="keep this language (ISO 639-1; '' keeps all)"),
    max_perplexity: float = typer.Option(
        None,
        "--max-perplexity",
        help="also drop documents above this perplexity under the default model",
    ),
) -> dict:
    """Gopher/C4 heuristics, language ID, and an optional perplexity filter."""
    from collections import Counter

    from ch06_data.quality import gopher_c4_reasons, language, perplexities
    from ch06_data.shards import write_records

    if input is not None:
        texts = _read_texts(input)
    else:
        from ch06_data.labs import demo_corpus

        texts = demo_corpus(seed=run.seed).documents
    reasons: Counter[str] = Counter()
    keep = []
    for t in texts:
        why = gopher_c4_reasons(t)
        if lang and language(t)[0] != lang:
            why.append(f"language!={lang}")
        reasons.update(why)
        keep.append(not why)
    ppl = None
    if max_perplexity is not None:
        ppl = perplexities([t for t, k in zip(texts, keep, strict=True) if k])
        it = iter(ppl)
        keep = [k and next(it) <= max_perplexity for k in keep]
        reasons["perplexity"] = sum(p > max_perplexity for p in ppl)
    out = run.out_path(artefact_path("ch06", "quality") / "kept.jsonl")
    write_records(out, ({"text": t} for t, k in zip(texts, keep, strict=True) if k))
    from ch06_data.lineage import write_lineage

    lineage = write_lineage(
        "quality",
        [input] if input is not None else [],
        [out],
        {"lang": lang, "max_perplexity": max_perplexity},
        generated_inputs={} if input is not None else {"demo_corpus": {"seed": run.seed}},
    )
    result = {
        "documents_in": len(texts),
        "documents_out": sum(keep),
        "reasons": dict(reasons.most_common()),
        "out": str(out),
        "lineage": str(lineage),
    }
    run.table(
        [{"rule": k, "documents": v} for k, v in reasons.most_common()],
        title=f"quality: kept {sum(keep)} of {len(texts)}",
    )
    return result


@command(app, device=False, out_help="JSON report of contaminated items")
def contamination(
    run: Run,
    train: Path = typer.Option(
        None,
        "--train",
        help="training JSONL(.gz) (default: bundled stories, with some test items leaked)",
    ),
    eval_: list[str] = typer.Option(
        None, "--eval", help="NAME=PATH of an evaluation JSONL (repeatable)"
    ),
    n: int = typer.Option(13, "--n", help="word n-gram length"),
    min_overlap: float = typer.Option(
        0.5, "--min-overlap", help="share of an item's n-grams that makes it contaminated"
    ),
) -> dict:
    """N-gram overlap between training data and evaluation sets; lists contaminated items."""
    from ch06_data.contamination import contamination_report
    from llmpath_core.io import write_json

    if n < 1 or not 0 < min_overlap <= 1:
        raise UserError("--n must be >= 1 and --min-overlap in (0, 1]")
    if train is None:
        from llmpath_core.data import load_documents

        train_docs = load_documents("stories", split="train")[:300]
        test = load_documents("stories", split="test")[:60]
        train_docs = train_docs + test[:6]  # planted leak: six test stories in the training data
        eval_sets = {"stories-test": test}
    else:
        train_docs = _read_texts(train)
        eval_sets = {}
        for item in eval_ or []:
            if "=" not in item:
                raise UserError(f"bad --eval {item!r}: use NAME=PATH")
            name, path = item.split("=", 1)
            eval_sets[name] = _read_texts(Path(path))
        if not eval_sets:
            raise UserError("give at least one --eval NAME=PATH with --train")
    report = contamination_report(train_docs, eval_sets, n=n, min_overlap=min_overlap)
    out = run.out_path(artefact_path("ch06", "contamination") / "report.json")
    write_json(out, report)
    run.table(
        [{"set": k, **v} for k, v in report["sets"].items()], title=f"contamination ({n}-grams)"
    )
    return {
        "sets": report["sets"],
        "contaminated": [
            {k: v for k, v in c.items() if k != "text"} for c in report["contaminated"]
        ],
        "out": str(out),
    }


@command(app, device=False, out_help="where to write the redacted text")
def pii(
    run: Run,
    input: Path = typer.Option(
        None, "--input", help="text file (default: a generated labelled sample)"
    ),
    pseudonyms: bool = typer.Option(
        False, "--pseudonyms", help="consistent <TYPE_n> per value instead of <TYPE>"
    ),
) -> dict:
    """Detect and redact emails, phones, cards (Luhn), IBANs (mod-97), IPs and secrets."""
    from ch06_data.pii import detect, entity_counts, redact
    from llmpath_core.io import write_text

    if input is None:
        from ch06_data.pii_data import labelled_set

        text = "\n".join(x.text for x in labelled_set(40, seed=run.seed)) + "\n"
    else:
        try:
            text = Path(input).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{input}: not UTF-8 text") from None
    spans = detect(text)
    out = run.out_path(artefact_path("ch06", "pii") / "redacted.txt")
    write_text(out, redact(text, spans, pseudonyms=pseudonyms))
    counts = entity_counts(spans)
    from ch06_data.lineage import write_lineage

    lineage = write_lineage(
        "pii",
        [input] if input is not None else [],
        [out],
        {"pseudonyms": pseudonyms},
        generated_inputs={} if input is not None else {"labelled_set": {"n": 40, "seed": run.seed}},
    )
    run.table(
        [{"type": k, "count": v} for k, v in counts.items()], title=f"PII redacted into {out}"
    )
    return {"entities": counts, "out": str(out), "lineage": str(lineage)}


@command(app, device=False, out_help="PNG of the S-curve")
def scurve(
    run: Run,
    threshold: float = typer.Option(
        0.8, "--threshold", help="Jaccard threshold that picks bands x rows"
    ),
    num_perm: int = typer.Option(128, "--num-perm", help="MinHash permutations"),
    pairs: int = typer.Option(40, "--pairs", help="planted pairs per similarity level"),
) -> dict:
    """Theory vs measurement: P(candidate) against Jaccard for the chosen bands x rows."""
    from ch06_data.scurve import measure_scurve, plot_scurve

    if not 0 < threshold <= 1:
        raise UserError(f"--threshold {threshold}: must be in (0, 1]")
    result = measure_scurve(threshold, num_perm, pairs, seed=run.seed)
    out = run.out_path(artefact_path("ch06", "scurve") / "scurve.png")
    plot_scurve(result, out)
    run.table(result["points"], title=f"S-curve, b={result['bands']} r={result['rows']}")
    return {**result, "plot": str(out)}


@command(app, device=False, out_help="JSONL of the synthetic documents that pass the filters")
def synth(
    run: Run,
    generator: str = typer.Option(
        "template", "--generator", help="template, model (the default model) or endpoint"
    ),
    base_url: str = typer.Option(
        None, "--base-url", help="OpenAI-compatible API root, e.g. http://localhost:8000/v1"
    ),
    model: str = typer.Option("default", "--model", help="model name sent to the endpoint"),
    api_key: str = typer.Option(
        None, "--api-key", envvar="OPENAI_API_KEY", help="bearer token for the endpoint"
    ),
    docs: int = typer.Option(200, "--docs", help="documents to generate"),
    max_new_tokens: int = typer.Option(120, "--max-new-tokens", help="tokens per LLM document"),
    temperature: float = typer.Option(1.0, "--temperature", help="LLM sampling temperature"),
    threshold: float = typer.Option(0.8, "--threshold", help="near-dedup Jaccard threshold"),
    steps: int = typer.Option(150, "--steps", help="training steps of each small model"),
    seeds: int = typer.Option(1, "--seeds", help="repeat the training over this many seeds"),
) -> dict:
    """Generate synthetic documents, filter them, and train on real vs synthetic vs mixed."""
    from ch06_data.shards import write_records
    from ch06_data.synthetic import (
        TrainConfig,
        compare_training_data,
        endpoint_documents,
        model_documents,
        quality_funnel,
        template_documents,
    )
    from llmpath_core.data import load_documents

    if base_url is not None:
        generator = "endpoint"
    if generator not in ("template", "model", "endpoint"):
        raise UserError(f"unknown --generator {generator!r}: use template, model or endpoint")
    if generator == "endpoint" and base_url is None:
        raise UserError("--generator endpoint needs --base-url")
    if docs < 1 or steps < 1 or seeds < 1:
        raise UserError("--docs, --steps and --seeds must be at least 1")
    if not 0 < threshold <= 1:
        raise UserError(f"--threshold {threshold}: must be in (0, 1]")
    if generator == "template":
        generated = template_documents(docs, seed=run.seed)
    elif generator == "model":
        generated = model_documents(
            docs, max_new_tokens=max_new_tokens, temperature=temperature, seed=run.seed
        )
    else:
        generated = endpoint_documents(
            base_url,
            docs,
            model=model,
            max_tokens=max_new_tokens,
            temperature=temperature,
            seed=run.seed,
            api_key=api_key,
        )
    kept, funnel = quality_funnel(generated, threshold=threshold)
    run.table(funnel, title=f"synthetic ({generator}) through the filters")
    out = run.out_path(artefact_path("ch06", "synth") / f"{generator}.jsonl")
    write_records(out, ({"text": t, "generator": generator} for t in kept))
    from ch06_data.lineage import write_lineage

    lineage = write_lineage(
        "synth",
        [],
        [out],
        {"threshold": threshold, "temperature": temperature, "max_new_tokens": max_new_tokens},
        generated_inputs={
            "generator": generator,
            "docs": docs,
            "seed": run.seed,
            **({"base_url": base_url, "model": model} if generator == "endpoint" else {}),
        },
    )
    if not kept:
        raise UserError("every synthetic document was filtered out: nothing to train on")
    real = load_documents("stories", split="train")[:200]
    heldout = load_documents("stories", split="validation")[:40]
    comparison = compare_training_data(
        {"real": real, "synthetic": kept},
        heldout,
        mixes={"mixed": ("real", "synthetic")},
        cfg=TrainConfig(steps=steps),
        seeds=tuple(range(run.seed, run.seed + seeds)),
    )
    run.table(comparison["rows"], title="held-out loss on real text (equal tokens and steps)")
    by = {r["data"]: r for r in comparison["rows"]}

    def cell(name: str) -> str:
        r = by[name]
        return f"{r['loss']:.3f} ({r['loss_diff_vs_real']:+.3f} ± {r['loss_diff_stderr']:.3f})"

    headline = (
        f"{len(generated)} {generator} documents, {len(kept)} kept; held-out loss on real text: "
        f"real {by['real']['loss']:.3f}, synthetic {cell('synthetic')}, mixed {cell('mixed')}"
    )
    run.log(headline)
    return {
        "generator": generator,
        "documents_generated": len(generated),
        "documents_kept": len(kept),
        "funnel": funnel,
        **comparison,
        "headline": headline,
        "out": str(out),
        "lineage": str(lineage),
    }


@command(app, device=False, out_help="folder for the demo's outputs")
def demo(run: Run) -> dict:
    """Crawl the local site, then dedup, filter and redact a planted corpus: the funnel."""
    import tempfile

    from ch06_data.crawl import CrawlConfig, Crawler, valid_records
    from ch06_data.labs import clean_documents, demo_corpus
    from ch06_data.listing_site import SiteServer
    from ch06_data.shards import write_records

    out_dir = run.out_path(artefact_path("ch06", "demo"))
    with SiteServer() as server, tempfile.TemporaryDirectory() as tmp:
        crawler = Crawler(
            Path(tmp) / "state.sqlite", CrawlConfig(rate=20, backoff=0.05, seed=run.seed)
        )
        report = crawler.crawl(server.url)
        records = valid_records(crawler.records())
        crawler.close()
    write_records(out_dir / "listings.jsonl", records)
    crawl_funnel = [
        {"stage": "pages fetched", "count": report.fetched},
        {"stage": "robots.txt disallowed", "count": len(report.disallowed)},
        {"stage": "retries (429/5xx)", "count": report.retries},
        {"stage": "listings extracted", "count": report.records},
        {"stage": "listings valid", "count": len(records)},
    ]
    run.table(crawl_funnel, title=f"crawl of the local site ({report.requests} requests)")
    corpus = demo_corpus(seed=run.seed)
    kept, funnel, entities = clean_documents(corpus.documents)
    write_records(out_dir / "clean.jsonl", ({"text": t} for t in kept))
    run.table(funnel, title="text pipeline funnel")
    run.table([{"type": k, "redacted": v} for k, v in entities.items()], title="PII redacted")
    headline = (
        f"crawled {report.fetched} pages into {len(records)} valid listings; "
        f"{funnel[0]['remaining']} documents in, {len(kept)} out "
        f"({funnel[1]['removed']} exact + {funnel[2]['removed']} near duplicates, "
        f"{funnel[3]['removed']} other-language, {funnel[4]['removed']} low-quality removed; "
        f"{sum(entities.values())} PII entities redacted)"
    )
    run.log(headline)
    return {
        "showed": "crawl funnel; text pipeline funnel; PII redacted",
        "headline": headline,
        "crawl": crawl_funnel,
        "funnel": funnel,
        "planted": corpus.planted,
        "entities": entities,
        "out": str(out_dir),
    }


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
