"""The embedded store: FAISS for vectors, SQLite for chunk text, metadata and filters.

An index is one folder, always replaced as a whole (``llmpath_core.atomic_dir``), so a failed
ingest never leaves a half-written index::

    index.sqlite   meta (embedding model, dim, chunker, FAISS kind), files (content hashes),
                   chunks (position, chunk_id, source, text, metadata, parent)
    vectors.npy    float32 unit vectors, row = chunk position
    vectors.faiss  the FAISS index over them: ``flat`` (exact inner product), ``hnsw`` or ``ivf``

Filters are SQL over the chunk columns (``source``, ``type``, ``section``, ``title``) or any
metadata key (``json_extract``); the matching positions become a FAISS ``IDSelectorBatch`` so the
vector search only sees allowed chunks.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FAISS_KINDS = ("flat", "hnsw", "ivf")
COLUMNS = ("source", "type", "section", "title")


@dataclass
class FaissConfig:
    """FAISS settings. Defaults reach recall@10 >= 0.95 against flat on our corpora."""

    kind: str = "flat"
    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 128
    ivf_lists: int = 0  # 0: about 4 sqrt(n)
    ivf_probe_fraction: float = 0.1
    ivf_min_probe: int = 16  # small indexes have few, coarse lists: probe at least this many


def build_faiss(vectors: np.ndarray, config: FaissConfig):
    """A FAISS inner-product index over ``vectors`` (unit rows, so scores are cosines)."""
    import faiss

    if config.kind not in FAISS_KINDS:
        raise ValueError(f"unknown FAISS index {config.kind!r}: use one of {FAISS_KINDS}")
    n, d = vectors.shape
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if config.kind == "flat" or n == 0:
        index = faiss.IndexFlatIP(d)
    elif config.kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.ef_construction
        index.hnsw.efSearch = config.ef_search
    else:
        lists = config.ivf_lists or max(1, min(int(4 * math.sqrt(n)), n // 39 or 1))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, lists, faiss.METRIC_INNER_PRODUCT)
        index.train(x)
        index.nprobe = min(
            lists, max(config.ivf_min_probe, math.ceil(lists * config.ivf_probe_fraction))
        )
    index.add(x)
    return index


def faiss_search(index, query: np.ndarray, k: int, allowed: np.ndarray | None = None):
    """(positions, scores) for each query row; ``allowed`` restricts to those positions."""
    import faiss

    q = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
    params = None
    if allowed is not None:
        selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
        if isinstance(index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
        elif isinstance(index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
        else:
            params = faiss.SearchParameters(sel=selector)
    k = max(1, min(k, index.ntotal))
    scores, ids = index.search(q, k, params=params)
    return ids, scores


SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE files (file TEXT PRIMARY KEY, content_hash TEXT, n_chunks INTEGER);
CREATE TABLE chunks (
    position INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE, file TEXT, ordinal INTEGER,
    source TEXT, text TEXT, start INTEGER, "end" INTEGER, type TEXT, section TEXT, title TEXT,
    metadata TEXT, parent_id TEXT, parent_text TEXT
);
CREATE INDEX chunks_file ON chunks (file);
"""


def where_clause(filters: dict[str, Any] | None) -> tuple[str, list[Any]]:
    """SQL ``WHERE`` for ``{key: value or [values]}``; unknown keys look into metadata JSON."""
    if not filters:
        return "", []
    parts, args = [], []
    for key, value in sorted(filters.items()):
        if not key.replace("_", "").isalnum():
            raise ValueError(f"bad filter key {key!r}")
        column = key if key in COLUMNS else f"json_extract(metadata, '$.{key}')"
        values = value if isinstance(value, list | tuple | set) else [value]
        parts.append(f"{column} IN ({','.join('?' * len(values))})")
        args += list(values)
    return " WHERE " + " AND ".join(parts), args


class ChunkTable:
    """Read access to the SQLite side of an index."""

    def __init__(self, path: Path) -> None:
        self.con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self.con.row_factory = sqlite3.Row

    def meta(self) -> dict[str, str]:
        return dict(self.con.execute("SELECT key, value FROM meta").fetchall())

    def count(self) -> int:
        return self.con.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def texts(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT text FROM chunks ORDER BY position")]

    def rows(self, positions: list[int]) -> list[dict[str, Any]]:
        if not positions:
            return []
        marks = ",".join("?" * len(positions))
        found = {
            r["position"]: dict(r)
            for r in self.con.execute(
                f"SELECT * FROM chunks WHERE position IN ({marks})", [int(p) for p in positions]
            )
        }
        return [found[int(p)] for p in positions]

    def allowed(self, filters: dict[str, Any] | None) -> np.ndarray | None:
        if not filters:
            return None
        where, args = where_clause(filters)
        rows = self.con.execute(f"SELECT position FROM chunks{where}", args).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)


def write_tables(path: Path, meta: dict[str, Any], files: list[tuple], chunks: list[dict]) -> None:
    """Create ``index.sqlite`` at ``path`` (inside the temporary index folder)."""
    con = sqlite3.connect(str(path))
    con.executescript(SCHEMA)
    con.executemany("INSERT INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])
    con.executemany("INSERT INTO files VALUES (?, ?, ?)", files)
    con.executemany(
        'INSERT INTO chunks (position, chunk_id, file, ordinal, source, text, start, "end", type,'
        " section, title, metadata, parent_id, parent_text)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                i,
                c["chunk_id"],
                c["file"],
                c["ordinal"],
                c["source"],
                c["text"],
                c["start"],
                c["end"],
                c["metadata"].get("type", ""),
                c["metadata"].get("section", ""),
                c["metadata"].get("title", ""),
                json.dumps(c["metadata"], default=str),
                c.get("parent_id"),
                c.get("parent_text"),
            )
            for i, c in enumerate(chunks)
        ],
    )
    con.commit()
    con.close()


__all__ = [
    "FAISS_KINDS",
    "ChunkTable",
    "FaissConfig",
    "build_faiss",
    "faiss_search",
    "where_clause",
    "write_tables",
]
