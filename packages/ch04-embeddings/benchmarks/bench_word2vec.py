"""Our skip-gram / CBOW vs gensim's Word2Vec: words/s and analogy accuracy, same corpus/settings.

uv run python packages/ch04-embeddings/benchmarks/bench_word2vec.py
"""

from __future__ import annotations

import time
from pathlib import Path

from llmpath_core.bench import machine_info
from llmpath_core.io import write_json
from llmpath_core.report import print_table

OUT = Path(__file__).parent / "results" / "word2vec.json"


def main() -> None:
    import torch
    from gensim.models import Word2Vec as GensimWord2Vec

    from ch04_embeddings.corpus import analogy_questions, training_corpus
    from ch04_embeddings.word2vec import Word2Vec, Word2VecConfig
    from ch04_embeddings.wordeval import WordVectors, analogy_accuracy

    torch.set_num_threads(1)
    corpus, questions = training_corpus(), analogy_questions()
    words = sum(len(s) for s in corpus)
    rows = []
    for sg in (True, False):
        start = time.perf_counter()
        ours = Word2Vec(Word2VecConfig(sg=sg, epochs=5)).train(corpus)
        t_ours = time.perf_counter() - start
        start = time.perf_counter()
        ref = GensimWord2Vec(
            corpus,
            vector_size=50,
            window=5,
            negative=5,
            sample=1e-3,
            min_count=2,
            epochs=5,
            sg=int(sg),
            workers=1,
            seed=0,
        )
        t_ref = time.perf_counter() - start
        acc = analogy_accuracy(WordVectors(ours.vocab.words, ours.vectors), questions)["all"]
        ref_acc = analogy_accuracy(WordVectors(ref.wv.index_to_key, ref.wv.vectors), questions)[
            "all"
        ]
        rows.append(
            {
                "model": "skip-gram" if sg else "CBOW",
                "ours_words_per_s": round(words * 5 / t_ours),
                "gensim_words_per_s": round(words * 5 / t_ref),
                "speed_ratio_ours_over_gensim": round(t_ref / t_ours, 3),
                "ours_analogy": round(acc, 4),
                "gensim_analogy": round(ref_acc, 4),
            }
        )
    print_table(rows, title=f"word2vec, {words} tokens x 5 epochs, one thread each")
    write_json(
        OUT,
        {
            "rows": rows,
            "tokens": words,
            "machine": machine_info(),
            "note": "loaded 2-core CPU box shared with other jobs",
            "date": time.strftime("%Y-%m-%d"),
        },
    )


if __name__ == "__main__":
    main()
