"""``ch04-embeddings``: the chapter's labs as commands (thin: the work is in the library)."""

from __future__ import annotations

from pathlib import Path

import typer

from llmpath_core import UserError
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch04-embeddings",
    "Embeddings: word2vec/GloVe/FastText from scratch, MiniLM sentence embeddings, FAISS and "
    "from-scratch vector indexes, a similarity API, CLIP-style product search, contrastive "
    "fine-tuning.",
)

MODEL_HELP = "sentence-transformers BERT folder (default: the bundled all-MiniLM-L6-v2)"


def _filters(items: list[str] | None) -> dict | None:
    """``--filter category=statements --filter year=2018..2020`` -> a filter mapping."""
    if not items:
        return None
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"bad --filter {item!r}: use KEY=VALUE or KEY=LOW..HIGH")
        key, value = (s.strip() for s in item.split("=", 1))
        if ".." in value:
            low, high = value.split("..", 1)
            try:
                out[key] = [float(low), float(high)]
            except ValueError:
                raise UserError(
                    f"bad range in --filter {item!r}: use numbers, e.g. 2018..2020"
                ) from None
        else:
            out.setdefault(key, []).append(value)
    return out


@command(app, device=False, out=False)
def index(
    run: Run,
    input_: Path = typer.Option(
        None, "--input", help="folder of text files or a JSONL file (default: pydoc papers)"
    ),
    index_dir: Path = typer.Option(
        None, "--index", help="index folder to write (default: $LLMPATH_HOME/ch04/papers-<kind>)"
    ),
    kind: str = typer.Option("flat", "--kind", help="flat, ivf, hnsw or pq"),
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
) -> dict:
    """Embed a corpus with MiniLM and write a FAISS index folder."""
    from ch04_embeddings.documents import load_corpus
    from ch04_embeddings.encoder import load_encoder
    from ch04_embeddings.labs import default_index_path
    from ch04_embeddings.search import KINDS, IndexConfig, build_index

    if kind not in KINDS:
        raise UserError(f"unknown --kind {kind!r}: use one of {', '.join(KINDS)}")
    docs = load_corpus(input_)
    folder = index_dir if index_dir is not None else default_index_path(kind)
    run.log(f"embedding {len(docs)} documents")
    result = build_index(docs, folder, load_encoder(model), IndexConfig(kind=kind))
    run.table([{"key": k, "value": v} for k, v in result.items()], title="index")
    return result


@command(app, device=False, out=False)
def search(
    run: Run,
    query: str = typer.Argument(
        "How do I handle an exception raised inside a with block?", help="the query"
    ),
    index_dir: Path = typer.Option(
        None, "--index", help="index folder (default: the bundled papers, built on first use)"
    ),
    k: int = typer.Option(5, "--k", help="number of hits"),
    filter_: list[str] = typer.Option(
        None, "--filter", help="metadata filter KEY=VALUE or KEY=LOW..HIGH (repeatable)"
    ),
    sort: str = typer.Option("score", "--sort", help="score or year (newest first)"),
    model: str = typer.Option(None, "--model", help="embedding model (must match the index)"),
) -> dict:
    """Semantic search: {"hits": [{"id", "text", "score"}...]}."""
    from ch04_embeddings.labs import open_index

    idx = open_index(index_dir, model, log=run.log)
    hits = idx.search(query, k=k, filters=_filters(filter_), sort=sort)
    run.table(
        [
            {"id": h.id, "score": f"{h.score:.4f}", "text": " ".join(h.text.split())[:80]}
            for h in hits
        ],
        title=f"{idx.kind} top-{k}: {query}",
    )
    return {"hits": [{"id": h.id, "text": h.text, "score": h.score} for h in hits]}


@command(app, device=False, out=False)
def serve(
    run: Run,
    port: int = typer.Option(8004, "--port", help="TCP port"),
    host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on"),
    index_dir: Path = typer.Option(None, "--index", help="index folder for POST /search"),
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
    batching: bool = typer.Option(
        True, "--batching/--no-batching", help="batch concurrent requests"
    ),
    cache_db: Path = typer.Option(None, "--cache-db", help="SQLite file for an on-disk cache"),
    rate: float = typer.Option(50.0, "--rate", help="requests/s per client (0: no limit)"),
    burst: int = typer.Option(100, "--burst", help="requests a client may send at once"),
) -> dict:
    """Run the similarity API (POST /embed, /similarity, /search) until interrupted."""
    import uvicorn

    from ch04_embeddings.api import EmbeddingService, ServiceConfig, create_app
    from ch04_embeddings.encoder import load_encoder
    from ch04_embeddings.search import SearchIndex

    if not 0 < port < 65536:
        raise UserError(f"--port {port} is not a TCP port (1-65535)")
    encoder = load_encoder(model)
    idx = SearchIndex(index_dir, encoder) if index_dir is not None else None
    config = ServiceConfig(
        batching=batching,
        sqlite_path=str(cache_db) if cache_db else None,
        rate_per_s=rate,
        burst=burst,
    )
    service = EmbeddingService(encoder, config, idx)
    run.log(f"serving {encoder.model_id} on http://{host}:{port} (docs at /docs)")
    try:
        uvicorn.run(create_app(service), host=host, port=port, log_level="warning")
    except SystemExit as exc:  # uvicorn exits 1 when it cannot bind
        raise UserError(f"could not serve on {host}:{port} (port in use?)") from exc
    return {"served": f"http://{host}:{port}", "requests_encoded": service.encoded}


@command(app, device=False)
def words(
    run: Run,
    algorithm: str = typer.Option(
        "skipgram", "--algorithm", help="skipgram, cbow, glove or fasttext"
    ),
    epochs: int = typer.Option(
        None, "--epochs", help="passes over the corpus (default: 5; GloVe 25)"
    ),
    dim: int = typer.Option(50, "--dim", help="vector size"),
) -> dict:
    """Word vectors from scratch (word2vec, GloVe, FastText) on the planted-relation corpus:
    analogies, neighbours, PCA/t-SNE plots with --out; FastText also embeds unseen words."""
    from ch04_embeddings.labs import word_vectors_lab

    if (epochs is not None and epochs < 1) or dim < 2:
        raise UserError("--epochs must be >= 1 and --dim >= 2")
    result = word_vectors_lab(algorithm, epochs, dim, run.seed, run.out)
    run.table(
        [{"relation": k, "accuracy": f"{v:.3f}"} for k, v in result["analogy_accuracy"].items()],
        title=f"{algorithm} analogy accuracy",
    )
    run.table(
        [{"word": w, "neighbours": ", ".join(n)} for w, n in result["neighbours"].items()],
        title=result["example"],
    )
    if "oov_neighbours" in result:
        run.table(
            [
                {"unseen word": w, "neighbours": ", ".join(n)}
                for w, n in result["oov_neighbours"].items()
            ],
            title="out-of-vocabulary words (character n-grams only)",
        )
    return result


@command(app, device=False, out=False)
def products(
    run: Run,
    query: str = typer.Argument("a red striped mug", help="a product description"),
    k: int = typer.Option(5, "--k", help="number of hits"),
    epochs: int = typer.Option(20, "--epochs", help="dual-encoder training epochs"),
    clip_model: str = typer.Option(None, "--clip-model", help="a Hugging Face CLIPModel folder"),
) -> dict:
    """Cross-modal product search: text -> image and similar products."""
    from ch04_embeddings.labs import products_lab

    if not query.strip():
        raise UserError("the query is empty")
    if clip_model is not None and not Path(clip_model).is_dir():
        raise UserError(f"--clip-model {clip_model}: no such folder (the hub is offline)")
    result = products_lab(query, k, epochs, run.seed, clip_model)
    run.table(
        [{"caption": h["caption"], "score": f"{h['score']:.3f}"} for h in result["hits"]],
        title=f"text -> image: {query} (recall@5 {result['recall_at_5']:.2f})",
    )
    return result


@command(app, device=False)
def finetune(
    run: Run,
    epochs: int = typer.Option(1, "--epochs", help="passes over the training pairs"),
    batch_size: int = typer.Option(16, "--batch-size", help="pairs per batch (in-batch negatives)"),
    companies: int = typer.Option(24, "--companies", help="training companies (12 pairs each)"),
    hard_negatives: bool = typer.Option(True, "--hard-negatives/--no-hard-negatives"),
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
) -> dict:
    """Contrastive fine-tuning of MiniLM on financial pairs: recall before/after, compression."""
    from ch04_embeddings.labs import finetune_lab

    if epochs < 1 or batch_size < 2 or companies < 2:
        raise UserError("--epochs >= 1, --batch-size >= 2 and --companies >= 2, please")
    result = finetune_lab(companies, epochs, batch_size, hard_negatives, model, run.out, run.seed)
    run.table(
        [
            {"model": name, **{k: f"{v:.3f}" for k, v in result[name].items()}}
            for name in ("before", "after")
        ],
        title="held-out companies",
    )
    run.table(result["compression"], title="compression (recall@10 vs float32)")
    return result


@command(app, device=False)
def demo(run: Run) -> dict:
    """Word vectors, the papers search index, a cross-modal query and the retrieval table."""
    from ch04_embeddings.labs import demo_lab

    result = demo_lab(run.out, log=run.log)
    for title, rows in result["tables"].items():
        run.table(rows, title=title)
    return result


def main() -> None:
    """Console script entry point."""
    run_app(app)


if __name__ == "__main__":
    main()
