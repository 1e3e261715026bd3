"""Shared fixtures: one MiniLM of ours and one sentence-transformers anchor per session."""

from __future__ import annotations

import pytest

from llmpath_core.testing import torch_threads, use_offline_env

use_offline_env()

DOCS = {
    "animals/cat.txt": "The cat sat on the warm mat and purred all afternoon.",
    "animals/dog.md": "A loyal dog fetched the ball across the park.",
    "finance/stocks.txt": "Shares fell sharply after the company missed its earnings forecast.",
    "finance/rates.txt": "The central bank raised interest rates to fight inflation.",
    "python/errors.txt": "Python raises ZeroDivisionError when a number is divided by zero.",
    "python/loops.txt": "A for loop iterates over the items of any iterable object.",
    "python/with.txt": "The with statement calls __exit__ even when the block raises.",
    "cooking.txt": "Knead the dough, let it rise for an hour, then bake until golden.",
    "space.txt": "The telescope observed a distant galaxy whose light took billions of years.",
    "music.txt": "The orchestra tuned their violins before the symphony began.",
}


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def encoder():
    from ch04_embeddings.encoder import load_encoder

    return load_encoder()


@pytest.fixture(scope="session")
def st_model():
    """The anchor: sentence-transformers' own all-MiniLM-L6-v2 pipeline on the same folder."""
    from sentence_transformers import SentenceTransformer

    from ch04_embeddings.encoder import minilm_path

    return SentenceTransformer(str(minilm_path()), device="cpu")


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    for rel, text in DOCS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text + "\n")
    return root
