"""Shared fixtures for ch18: one MiniLM embedder and one small encyclopedia index per session."""

from __future__ import annotations

import io

import pytest

from llmpath_core.testing import cli_runner, torch_threads, use_offline_env

use_offline_env()


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One intra-op thread: the CI box is shared and MiniLM on tiny batches gains little."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def cli():
    """``cli(*args)``: the console script in a subprocess (offline, one thread, no progress)."""
    return cli_runner("ch18_rag.cli")


@pytest.fixture(scope="session")
def embedder(tmp_path_factory):
    from ch18_rag.embeddings import Embedder

    return Embedder(cache=tmp_path_factory.mktemp("cache") / "emb.sqlite")


@pytest.fixture(scope="session")
def encyclopedia():
    from ch18_rag.evalsets import fictional_encyclopedia

    return fictional_encyclopedia(n_countries=6)


@pytest.fixture(scope="session")
def enc_index(tmp_path_factory, embedder, encyclopedia):
    """The 6-country encyclopedia as Markdown files, ingested (recursive chunks of 48 tokens)."""
    from ch18_rag.chunking import ChunkConfig
    from ch18_rag.evalsets import write_documents
    from ch18_rag.index import RagIndex, ingest

    root = tmp_path_factory.mktemp("enc")
    write_documents(encyclopedia.documents, root / "docs")
    ingest([root / "docs"], root / "index", chunk=ChunkConfig(size=48), embedder=embedder)
    return RagIndex(root / "index", embedder)


def make_pdf(lines: list[str]) -> bytes:
    """A one-page PDF whose text layer holds ``lines`` (Helvetica, no dependencies)."""
    content = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({x}) Tj T*" for x in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{obj}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out


def encrypt_pdf(data: bytes, password: str = "secret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def pdfs():
    """``(make_pdf, encrypt_pdf)``: fixtures, since importlib mode cannot import conftest."""
    return make_pdf, encrypt_pdf
