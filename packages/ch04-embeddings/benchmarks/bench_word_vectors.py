"""All four word-vector methods of ours (skip-gram, CBOW, GloVe, FastText) next to gensim's
Word2Vec and FastText on the planted-relation corpus: analogy accuracy (mean and standard error
over 3 training seeds, the corpus fixed), training time, nearest neighbours, and FastText's
neighbours for words that never occur in the corpus.

uv run python packages/ch04-embeddings/benchmarks/bench_word_vectors.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from llmpath_core.bench import machine_info
from llmpath_core.io import write_json
from llmpath_core.report import print_table

OUT = Path(__file__).parent / "results" / "word_vectors.json"
SEEDS = (0, 1, 2)
GENSIM = dict(vector_size=50, window=5, negative=5, sample=1e-3, min_count=2, epochs=5, workers=1)


def train(name: str, corpus, seed: int):
    """``(WordVectors, vector-of-any-word function or None)`` for one method."""
    from ch04_embeddings.fasttext import FastText, FastTextConfig
    from ch04_embeddings.glove import GloVe, GloVeConfig
    from ch04_embeddings.word2vec import Word2Vec, Word2VecConfig
    from ch04_embeddings.wordeval import WordVectors

    if name.startswith("gensim"):
        from gensim.models import FastText as GensimFastText
        from gensim.models import Word2Vec as GensimWord2Vec

        if name == "gensim FastText":
            m = GensimFastText(corpus, sg=1, min_n=3, max_n=6, bucket=200_000, seed=seed, **GENSIM)
        else:
            m = GensimWord2Vec(corpus, sg=int(name.endswith("skip-gram")), seed=seed, **GENSIM)
        get = m.wv.get_vector if name == "gensim FastText" else None
        return WordVectors(m.wv.index_to_key, m.wv.vectors), get
    if name == "ours GloVe":
        m = GloVe(GloVeConfig(seed=seed)).train(corpus)
    elif name == "ours FastText":
        m = FastText(FastTextConfig(seed=seed)).train(corpus)
    else:
        m = Word2Vec(Word2VecConfig(sg=name.endswith("skip-gram"), seed=seed)).train(corpus)
    return WordVectors(m.vocab.words, m.vectors), (m.vector if name == "ours FastText" else None)


def main() -> None:
    import torch

    from ch04_embeddings.corpus import analogy_questions, training_corpus
    from ch04_embeddings.labs import OOV_PROBES, PROBES
    from ch04_embeddings.wordeval import analogy_accuracy

    torch.set_num_threads(1)
    corpus, questions = training_corpus(), analogy_questions()
    names = [
        "ours skip-gram",
        "ours CBOW",
        "ours GloVe",
        "ours FastText",
        "gensim skip-gram",
        "gensim CBOW",
        "gensim FastText",
    ]
    rows, neighbours, oov = [], {}, {}
    for name in names:
        accs, secs = [], []
        for seed in SEEDS:
            start = time.perf_counter()
            wv, vector_of = train(name, corpus, seed)
            secs.append(time.perf_counter() - start)
            accs.append(analogy_accuracy(wv, questions))
            if seed == SEEDS[0]:
                neighbours[name] = {w: [n for n, _ in wv.neighbours(w, 5)] for w in PROBES}
                if vector_of is not None:
                    oov[name] = {}
                    for word in OOV_PROBES:
                        v = np.asarray(vector_of(word))
                        sims = wv.unit @ (v / np.linalg.norm(v))
                        oov[name][word] = [wv.words[i] for i in np.argsort(-sims)[:5]]
        row = {"method": name}
        for rel in accs[0]:
            vals = np.array([a[rel] for a in accs])
            row[rel] = round(float(vals.mean()), 4)
        alls = np.array([a["all"] for a in accs])
        row["all_se"] = round(float(alls.std(ddof=1) / np.sqrt(len(alls))), 4)
        row["train_seconds"] = round(float(np.mean(secs)), 2)
        rows.append(row)
        print(row, flush=True)
    print_table(rows, title=f"analogy accuracy, mean of seeds {SEEDS}")
    write_json(
        OUT,
        {
            "rows": rows,
            "neighbours": neighbours,
            "oov_neighbours": oov,
            "seeds": list(SEEDS),
            "tokens": sum(len(s) for s in corpus),
            "questions": len(questions),
            "settings": "dim 50; word2vec/FastText: window 5, 5 negatives, sample 1e-3, min_count "
            "2, 5 epochs, FastText n-grams 3-6 in 200,000 buckets; GloVe: window 10, x_max 100, "
            "alpha 0.75, AdaGrad 0.05, 25 epochs; one thread each",
            "machine": machine_info(),
            "note": "loaded 2-core CPU box shared with other jobs: times are inflated",
            "date": time.strftime("%Y-%m-%d"),
        },
    )


if __name__ == "__main__":
    main()
