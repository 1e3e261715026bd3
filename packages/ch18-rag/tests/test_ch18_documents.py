"""Ingestion: every format to text + metadata, URLs through a real local HTTP server."""

from __future__ import annotations

import functools
import http.server
import sqlite3
import threading

import pytest

from ch18_rag.documents import fetch_url, load_path, pydoc_documents
from llmpath_core import UserError


def test_text_markdown_html(tmp_path):
    (tmp_path / "a.md").write_text("# Guide\n\nSome words here.\n")
    (tmp_path / "b.html").write_text(
        "<html><head><title>Page T</title><style>x{}</style></head><body><h2>Intro</h2>"
        "<p>Hello &amp; welcome.</p><script>var x=1;</script><p>Second para.</p></body></html>"
    )
    md = load_path(tmp_path / "a.md")[0]
    assert md.title == "Guide" and md.metadata["type"] == "markdown"
    assert md.metadata["modified"][:2] == "20"
    page = load_path(tmp_path / "b.html")[0]
    assert page.title == "Page T"
    assert page.text == "## Intro\n\nHello & welcome.\n\nSecond para."


def test_pdf_docx_csv_sqlite(tmp_path, pdfs):
    import docx

    make_pdf, _ = pdfs

    (tmp_path / "r.pdf").write_bytes(make_pdf(["Hello PDF world.", "The capital of Zed is Quo."]))
    pages = load_path(tmp_path / "r.pdf")
    assert [p.text for p in pages] == ["Hello PDF world.\nThe capital of Zed is Quo."]
    assert pages[0].metadata["page"] == 1

    d = docx.Document()
    d.add_heading("Report", level=1)
    d.add_paragraph("First finding.")
    d.save(tmp_path / "r.docx")
    doc = load_path(tmp_path / "r.docx")[0]
    assert doc.text == "# Report\n\nFirst finding." and doc.title == "Report"

    (tmp_path / "t.csv").write_text("name,capital\nZed,Quo\nYam,\n")
    rows = load_path(tmp_path / "t.csv")
    assert [r.text for r in rows] == ["name: Zed; capital: Quo", "name: Yam"]

    con = sqlite3.connect(tmp_path / "t.db")
    con.execute("CREATE TABLE city (name TEXT, pop INT)")
    con.executemany("INSERT INTO city VALUES (?, ?)", [("Quo", 10), ("Zig", 20)])
    con.commit()
    con.close()
    rows = load_path(tmp_path / "t.db")
    assert [r.text for r in rows] == ["name: Quo; pop: 10", "name: Zig; pop: 20"]
    assert rows[1].source.endswith("t.db#city/2")


def test_bad_inputs_are_user_errors(tmp_path, pdfs):
    make_pdf, encrypt_pdf = pdfs
    (tmp_path / "enc.pdf").write_bytes(encrypt_pdf(make_pdf(["secret text"])))
    with pytest.raises(UserError, match="encrypted"):
        load_path(tmp_path / "enc.pdf")
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    with pytest.raises(UserError, match="not a readable PDF"):
        load_path(tmp_path / "bad.pdf")
    (tmp_path / "x.xyz").write_text("?")
    with pytest.raises(UserError, match="unsupported file type"):
        load_path(tmp_path / "x.xyz")
    with pytest.raises(FileNotFoundError):
        load_path(tmp_path / "missing.txt")


@pytest.fixture
def server(tmp_path):
    (tmp_path / "page.html").write_text(
        "<html><head><title>Served</title></head><body><p>Quo is a city.</p></body></html>"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_fetch_url(server):
    doc = fetch_url(f"{server}/page.html")[0]
    assert (doc.title, doc.text, doc.metadata["type"]) == ("Served", "Quo is a city.", "html")
    with pytest.raises(UserError, match="HTTP 404"):
        fetch_url(f"{server}/nope.html")


def test_unreachable_url():
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UserError, match="cannot fetch"):
        fetch_url(f"http://127.0.0.1:{port}/x", timeout=2)


def test_pydoc_documents():
    docs = pydoc_documents()
    assert len(docs) == 79 and docs[0].source == "pydoc:assert"
    assert docs[0].title == 'The "assert" statement'
