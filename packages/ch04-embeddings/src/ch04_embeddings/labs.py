"""The chapter's experiments as functions, shared by the CLI, the demo and the benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from llmpath_core import artefact_path


def default_index_path(kind: str = "flat") -> Path:
    """Where the bundled papers' index of ``kind`` lives (``$LLMPATH_HOME/ch04``)."""
    return artefact_path("ch04", f"papers-{kind}")


def open_index(folder: Path | None, model: str | None = None, log: Callable[[str], None] = print):
    """Open ``folder``; with ``None``, the bundled papers' flat index (built on first use)."""
    from ch04_embeddings.search import SearchIndex

    if folder is None:
        folder = default_index_path("flat")
        if not (folder / "index.json").is_file():
            from ch04_embeddings.documents import default_papers
            from ch04_embeddings.encoder import load_encoder
            from ch04_embeddings.search import IndexConfig, build_index

            log(f"building the bundled papers index at {folder} (once)")
            build_index(default_papers(), folder, load_encoder(model), IndexConfig("flat"))
    return SearchIndex(folder, model=model)


ALGORITHMS = ("skipgram", "cbow", "glove", "fasttext")
PROBES = ["king", "paris", "dogs", "walked"]
OOV_PROBES = ["kingz", "capitals", "climbedd", "walkeds"]  # not in the corpus: FastText only


def train_word_vectors(algorithm: str, epochs: int | None = None, dim: int = 50, seed: int = 0):
    """Train ``algorithm`` on the planted-relation corpus; ``(model, WordVectors)``.

    ``epochs=None`` takes each algorithm's default (5 for word2vec and FastText, 25 for GloVe).
    """
    from ch04_embeddings.corpus import training_corpus
    from ch04_embeddings.wordeval import WordVectors

    if algorithm not in ALGORITHMS:
        from llmpath_core import UserError

        raise UserError(f"unknown --algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}")
    more = {} if epochs is None else {"epochs": epochs}
    corpus = training_corpus(seed=seed)
    if algorithm == "glove":
        from ch04_embeddings.glove import GloVe, GloVeConfig

        model = GloVe(GloVeConfig(dim=dim, seed=seed, **more)).train(corpus)
    elif algorithm == "fasttext":
        from ch04_embeddings.fasttext import FastText, FastTextConfig

        model = FastText(FastTextConfig(dim=dim, seed=seed, **more)).train(corpus)
    else:
        from ch04_embeddings.word2vec import Word2Vec, Word2VecConfig

        config = Word2VecConfig(dim=dim, sg=algorithm == "skipgram", seed=seed, **more)
        model = Word2Vec(config).train(corpus)
    assert model.vocab is not None and model.vectors is not None
    return model, WordVectors(model.vocab.words, model.vectors)


def word_vectors_lab(
    algorithm: str = "skipgram",
    epochs: int | None = None,
    dim: int = 50,
    seed: int = 0,
    plot_dir: Path | None = None,
) -> dict:
    """Train word vectors on the planted-relation corpus; analogy accuracy, neighbours, plots
    (PCA and t-SNE of the relation words); FastText also answers out-of-vocabulary words."""
    import time

    import numpy as np

    from ch04_embeddings.corpus import RELATIONS, analogy_questions
    from ch04_embeddings.wordeval import analogy_accuracy, pca_2d, plot_projection, tsne_2d

    start = time.perf_counter()
    model, wv = train_word_vectors(algorithm, epochs, dim, seed)
    seconds = time.perf_counter() - start
    acc = analogy_accuracy(wv, analogy_questions())
    result = {
        "algorithm": algorithm,
        "vocab": len(wv.words),
        "train_seconds": round(seconds, 2),
        "analogy_accuracy": acc,
        "neighbours": {w: [n for n, _ in wv.neighbours(w, 5)] for w in PROBES},
        "example": f"king : queen :: man : {wv.analogy('king', 'queen', 'man')}",
    }
    if hasattr(model, "words_per_second"):
        result["words_per_second"] = round(model.words_per_second)
    if algorithm == "fasttext":
        oov = {}
        for word in OOV_PROBES:
            v = model.vector(word)
            sims = wv.unit @ (v / max(np.linalg.norm(v), 1e-12))
            oov[word] = [wv.words[i] for i in np.argsort(-sims)[:5]]
        result["oov_neighbours"] = oov
    if plot_dir is not None:
        words = [w for pairs in RELATIONS.values() for p in pairs[:5] for w in p]
        vecs = wv.unit[[wv.index[w] for w in words]]
        result["plot"] = str(
            plot_projection(
                Path(plot_dir) / f"words_pca_{algorithm}.png",
                words,
                pca_2d(vecs),
                f"{algorithm}: PCA of relation words",
            )
        )
        result["plot_tsne"] = str(
            plot_projection(
                Path(plot_dir) / f"words_tsne_{algorithm}.png",
                words,
                tsne_2d(vecs, seed=seed),
                f"{algorithm}: t-SNE of relation words",
            )
        )
    return result


def products_lab(
    query: str = "a red striped mug",
    k: int = 5,
    epochs: int = 20,
    seed: int = 0,
    clip_model: str | None = None,
) -> dict:
    """Train the dual encoder on the catalogue (or load a CLIPModel folder) and search it."""
    from ch04_embeddings.products import (
        HFClip,
        ProductSearch,
        catalogue,
        text_to_image_recall,
        train_dual_encoder,
    )

    products, images = catalogue(1, seed=seed)
    test_products, test_images = catalogue(1, seed=seed + 1)
    if clip_model is not None:
        model, losses = HFClip(clip_model), []
    else:
        model, losses = train_dual_encoder(products, images, epochs=epochs, seed=seed)
    search = ProductSearch(model, test_products, test_images)
    return {
        "query": query,
        "hits": [
            {"id": p.id, "caption": p.caption, "score": s} for p, s in search.by_text(query, k)
        ],
        "similar_to": test_products[0].caption,
        "similar": [p.caption for p, _ in search.similar(0, k)],
        "recall_at_5": text_to_image_recall(model, test_products, test_images, 5),
        "recall_at_1": text_to_image_recall(model, test_products, test_images, 1),
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
    }


def finetune_lab(
    n_train: int = 24,
    epochs: int = 1,
    batch_size: int = 16,
    hard_negatives: bool = True,
    model: str | None = None,
    out: Path | None = None,
    seed: int = 0,
) -> dict:
    """Recall on held-out companies before and after contrastive fine-tuning; compression."""
    from ch04_embeddings.compression import compression_table
    from ch04_embeddings.domain import domain_set
    from ch04_embeddings.encoder import SentenceEncoder
    from ch04_embeddings.finetune import FinetuneConfig, finetune, recall_at_k

    data = domain_set(n_train=n_train, seed=seed)
    encoder = SentenceEncoder(model)

    def metrics() -> dict:
        q, d = encoder.encode(data.eval_queries), encoder.encode(data.eval_docs)
        return {f"recall@{k}": recall_at_k(q, d, data.eval_answers, k) for k in (1, 5)}

    before = metrics()
    losses = finetune(
        encoder,
        data.train_pairs,
        FinetuneConfig(
            epochs=epochs, batch_size=batch_size, hard_negatives=hard_negatives, seed=seed
        ),
    )
    after = metrics()
    if out is not None:
        encoder.save(out)
    docs = encoder.encode(data.eval_docs)
    return {
        "train_pairs": len(data.train_pairs),
        "eval_queries": len(data.eval_queries),
        "steps": len(losses),
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "before": before,
        "after": after,
        "compression": compression_table(docs, encoder.encode(data.eval_queries), k=10),
        "saved": str(out) if out is not None else None,
    }


def retrieval_table(
    folder: Path | None = None, n_queries: int = 100, k: int = 10, seed: int = 0
) -> list[dict]:
    """Recall@k and ms/query of our exact/IVF/HNSW and FAISS's on the papers' vectors.

    Queries are the papers' own first sentences (so they look like real questions about the
    corpus); ground truth is exact search.
    """
    import time

    import faiss
    import numpy as np

    from ch04_embeddings.ann import ExactIndex, HNSWIndex, IVFIndex, recall_at_k

    idx = open_index(folder, log=lambda _m: None)
    vectors = idx.index.reconstruct_n(0, idx.index.ntotal) if idx.kind == "flat" else None
    if vectors is None:
        vectors = idx.encoder.encode([p["text"] for p in idx.passages])
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(idx.passages), size=min(n_queries, len(idx.passages)), replace=False)
    queries = idx.encoder.encode([idx.passages[r]["text"].split(". ")[0] for r in rows])
    truth = ExactIndex(vectors).search(queries, k)[1]
    nlist = max(4, int(np.sqrt(len(vectors))))
    dim = vectors.shape[1]
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.train(vectors)
    ivf.add(vectors)
    ivf.nprobe = 4
    hnsw = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 40
    hnsw.add(vectors)
    hnsw.hnsw.efSearch = 32
    flat = faiss.IndexFlatIP(dim)
    flat.add(vectors)
    ours_ivf = IVFIndex(vectors, nlist, seed=seed)
    ours_hnsw = HNSWIndex(vectors, m=16, ef_construction=40, seed=seed)
    runs = {
        "ours exact": lambda: ExactIndex(vectors).search(queries, k)[1],
        "faiss IndexFlatIP": lambda: flat.search(queries, k)[1],
        f"ours IVF (nlist {nlist}, nprobe 4)": lambda: ours_ivf.search(queries, k, 4)[1],
        f"faiss IVF (nlist {nlist}, nprobe 4)": lambda: ivf.search(queries, k)[1],
        "ours HNSW (M 16, ef 32)": lambda: ours_hnsw.search(queries, k, 32)[1],
        "faiss HNSW (M 16, ef 32)": lambda: hnsw.search(queries, k)[1],
    }
    table = []
    for name, fn in runs.items():
        start = time.perf_counter()
        found = fn()
        ms = (time.perf_counter() - start) * 1000 / len(queries)
        table.append(
            {
                "index": name,
                f"recall@{k}": round(recall_at_k(found, truth, k), 4),
                "ms_per_query": round(ms, 3),
            }
        )
    return table


def demo_lab(out: Path | None = None, log: Callable[[str], None] = print) -> dict:
    """The chapter in one run (about two minutes on an idle 2-core CPU)."""
    log("1/4 word2vec (skip-gram) on the planted-relation corpus")
    words = word_vectors_lab("skipgram", plot_dir=out)
    log("2/4 MiniLM + FAISS over the bundled pydoc papers")
    idx = open_index(None, log=log)
    query = "How do I handle an exception raised inside a with block?"
    hits = idx.search(query, k=3)
    log("3/4 cross-modal product search (CLIP-style dual encoder)")
    prod = products_lab("a blue checked bag", k=3)
    log("4/4 retrieval table: ours vs FAISS")
    table = retrieval_table(None, n_queries=50)
    acc = words["analogy_accuracy"]["all"]
    headline = (
        f"skip-gram analogies {acc:.0%}; '{query[:30]}...' -> {hits[0].id}; "
        f"'a blue checked bag' -> {prod['hits'][0]['caption']}; "
        f"our HNSW recall@10 {table[4]['recall@10']:.2f} vs FAISS {table[5]['recall@10']:.2f}"
    )
    return {
        "showed": (
            "word2vec analogies (PCA and t-SNE plots with --out), semantic search over the pydoc "
            "papers, text -> image product search, and our IVF/HNSW vs FAISS"
        ),
        "headline": headline,
        "words": {"analogy_accuracy": acc, "example": words["example"]},
        "search": [{"id": h.id, "score": h.score} for h in hits],
        "products": [h["caption"] for h in prod["hits"]],
        "tables": {
            "word2vec analogy accuracy": [
                {"relation": k, "accuracy": round(v, 3)}
                for k, v in words["analogy_accuracy"].items()
            ],
            f"search: {query}": [
                {"id": h.id, "score": round(h.score, 4), "text": " ".join(h.text.split())[:70]}
                for h in hits
            ],
            "text -> image: a blue checked bag": [
                {"caption": h["caption"], "score": round(h["score"], 3)} for h in prod["hits"]
            ],
            "retrieval (recall@10 vs exact, 50 queries)": table,
        },
    }
