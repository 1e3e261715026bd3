"""Incremental ingestion into an index folder, and opening one for search.

``ingest(inputs, index_dir)`` reads every input (files, folders, URLs; the bundled pydoc prose
when none is given), hashes each file's text, and compares with the hashes stored in the index:

* unchanged files keep their chunks and vectors (no chunking, no embedding);
* new or changed files are chunked and embedded (through the embedding cache);
* files that were indexed under one of the given roots and are gone now are dropped.

Everything is read and embedded before anything is written, and the new index folder replaces the
old one in one ``os.replace``, so a failed ingest leaves the previous index as it was. Chunks are
stored in a canonical order (file, then position in the file), so an incrementally updated index
is identical to a fresh rebuild of the same files.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ch18_rag.chunking import ChunkConfig, chunk_document
from ch18_rag.documents import Document, expand_inputs, load_path, pydoc_documents
from ch18_rag.embeddings import Embedder
from ch18_rag.store import ChunkTable, FaissConfig, build_faiss, write_tables
from llmpath_core import UserError, atomic_dir

FORMAT_VERSION = "1"


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0


def _is_url(item: str) -> bool:
    return bool(re.match(r"^https?://", item))


def read_inputs(
    inputs: list[str | Path | Document] | None,
) -> tuple[dict[str, list[Document]], list[str]]:
    """``({file: documents}, roots)``; no inputs means the bundled pydoc prose; a
    :class:`Document` is indexed under its ``source``."""
    if not inputs:
        docs = pydoc_documents()
        return {d.source: [d] for d in docs}, ["pydoc:"]
    files: dict[str, list[Document]] = {}
    roots = []
    for item in inputs:
        if isinstance(item, Document):  # in-memory documents: keyed by their source
            files[item.source] = [item]
            roots.append(item.source)
            continue
        item = str(item)
        if item in ("pydoc", "pydoc:"):
            files.update({d.source: [d] for d in pydoc_documents()})
            roots.append("pydoc:")
            continue
        roots.append(item if _is_url(item) else str(Path(item).resolve()))
        for name in expand_inputs([item]):
            key = name if _is_url(name) else str(Path(name).resolve())
            docs = load_path(key)
            if not docs or not any(d.text.strip() for d in docs):
                raise UserError(f"{name}: no text found")
            files[key] = docs
    return files, roots


def _file_hash(docs: list[Document]) -> str:
    h = hashlib.sha256()
    for d in docs:
        h.update(d.content_hash.encode())
        h.update(json.dumps(d.metadata, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _under(file: str, roots: list[str]) -> bool:
    return any(
        file == r or file.startswith(r.rstrip("/") + ("" if r.endswith(":") else "/"))
        for r in roots
    )


def _load_existing(
    index_dir: Path,
) -> tuple[dict[str, str], dict[str, list[dict]], np.ndarray, dict[str, str]]:
    table = ChunkTable(index_dir / "index.sqlite")
    meta = table.meta()
    hashes = dict(table.con.execute("SELECT file, content_hash FROM files").fetchall())
    by_file: dict[str, list[dict]] = {}
    for row in table.con.execute("SELECT * FROM chunks ORDER BY position"):
        row = dict(row)
        row["metadata"] = json.loads(row["metadata"])
        by_file.setdefault(row["file"], []).append(row)
    vectors = np.load(index_dir / "vectors.npy")
    table.con.close()
    return hashes, by_file, vectors, meta


def ingest(
    inputs: list[str | Path | Document] | None,
    index_dir: str | Path,
    *,
    chunk: ChunkConfig | None = None,
    embedder: Embedder | None = None,
    faiss_config: FaissConfig | None = None,
) -> IngestReport:
    """Create or incrementally update the index at ``index_dir`` (see the module docstring)."""
    import time

    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    chunk = chunk or ChunkConfig()
    faiss_config = faiss_config or FaissConfig()
    embedder = embedder or Embedder(cache=index_dir.parent / f".{index_dir.name}.embcache.sqlite")
    files, roots = read_inputs(inputs)  # fails before anything is written

    old_hashes: dict[str, str] = {}
    old_chunks: dict[str, list[dict]] = {}
    old_vectors = np.zeros((0, 0), np.float32)
    settings = json.dumps(asdict(chunk), sort_keys=True)
    if (index_dir / "index.sqlite").exists():
        old_hashes, old_chunks, old_vectors, meta = _load_existing(index_dir)
        if meta.get("embedding_model") != embedder.model_id:
            raise UserError(
                f"{index_dir} was built with embedding model {meta.get('embedding_model')}, "
                f"not {embedder.model_id}: pass --model {meta.get('embedding_model')} "
                "or ingest into a new --index"
            )
        if meta.get("chunking") != settings:  # other chunking: nothing can be reused
            old_hashes, old_chunks = {}, {}

    report = IngestReport()
    keep: dict[str, list[dict]] = {}
    for file, rows in old_chunks.items():
        if file in files or not _under(file, roots):
            keep[file] = rows
        else:
            report.removed.append(file)
    hashes = {f: h for f, h in old_hashes.items() if f in keep}
    fresh: dict[str, list[dict]] = {}
    for file, docs in files.items():
        digest = _file_hash(docs)
        if old_hashes.get(file) == digest and file in keep:
            report.unchanged.append(file)
            continue
        (report.updated if file in old_hashes else report.added).append(file)
        rows = []
        for doc in docs:
            for c in chunk_document(doc, chunk, embed=embedder.encode):
                rows.append(
                    {
                        **asdict(c),
                        "file": file,
                        "ordinal": len(rows),
                    }
                )
        fresh[file] = rows
        keep.pop(file, None)
        hashes[file] = digest

    new_texts = [r["text"] for rows in fresh.values() for r in rows]
    new_vectors = embedder.encode(new_texts) if new_texts else None
    report.embedded = len(new_texts)

    # canonical order: by file, then by position inside the file
    ordered, vectors = [], []
    cursor = 0
    fresh_index = {}
    for rows in fresh.values():
        for r in rows:
            fresh_index[id(r)] = cursor
            cursor += 1
    for file in sorted(set(keep) | set(fresh)):
        for r in fresh.get(file) or keep[file]:
            ordered.append(r)
            if file in fresh:
                vectors.append(new_vectors[fresh_index[id(r)]])
            else:
                vectors.append(old_vectors[r["position"]])
    if not ordered:
        raise UserError("nothing to index: the inputs hold no text")
    seen: set[str] = set()
    for r in ordered:
        if r["chunk_id"] in seen:
            raise UserError(
                f"two chunks share the id {r['chunk_id']}: give each input a unique name"
            )
        seen.add(r["chunk_id"])
    matrix = np.stack(vectors).astype(np.float32)
    report.chunks = len(ordered)

    meta = {
        "format": FORMAT_VERSION,
        "embedding_model": embedder.model_id,
        "dim": matrix.shape[1],
        "chunking": settings,
        "faiss": json.dumps(asdict(faiss_config), sort_keys=True),
    }
    file_rows = [
        (f, hashes[f], len(fresh.get(f) or keep[f])) for f in sorted(set(keep) | set(fresh))
    ]
    with atomic_dir(index_dir) as tmp:
        import faiss

        write_tables(tmp / "index.sqlite", meta, file_rows, ordered)
        np.save(tmp / "vectors.npy", matrix)
        faiss.write_index(build_faiss(matrix, faiss_config), str(tmp / "vectors.faiss"))
    report.seconds = time.perf_counter() - t0
    return report


class RagIndex:
    """An opened index: chunk table, vectors, FAISS index, lazily built BM25."""

    def __init__(self, index_dir: str | Path, embedder: Embedder | None = None) -> None:
        import faiss

        self.dir = Path(index_dir)
        if not (self.dir / "index.sqlite").exists():
            raise UserError(
                f"{self.dir} is not an index (no index.sqlite): build one with "
                f"'ch18-rag ingest PATH... --index {self.dir}'"
            )
        self.table = ChunkTable(self.dir / "index.sqlite")
        self.meta = self.table.meta()
        model = self.meta["embedding_model"]
        self.embedder = embedder or Embedder(
            model, cache=self.dir.parent / f".{self.dir.name}.embcache.sqlite"
        )
        if self.embedder.model_id != model:
            raise UserError(
                f"{self.dir} was built with embedding model {model}, but the query uses "
                f"{self.embedder.model_id}: query with --model {model} or re-ingest"
            )
        self.vectors = np.load(self.dir / "vectors.npy", mmap_mode="r")
        self.faiss = faiss.read_index(str(self.dir / "vectors.faiss"))
        self.chunking = json.loads(self.meta["chunking"])
        self._bm25 = None

    def __len__(self) -> int:
        return self.faiss.ntotal

    @property
    def bm25(self):
        if self._bm25 is None:
            from ch18_rag.bm25 import BM25, tokenize

            self._bm25 = BM25().index([tokenize(t) for t in self.table.texts()])
        return self._bm25

    def rows(self, positions) -> list[dict[str, Any]]:
        return self.table.rows([int(p) for p in positions])


__all__ = ["IngestReport", "RagIndex", "ingest", "read_inputs"]
