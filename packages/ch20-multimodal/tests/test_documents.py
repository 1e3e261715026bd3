"""OCR and PDFs: rendered text comes back (CER ≤ 2%), scans are OCR'd, bad files are refused."""

from __future__ import annotations

import pytest

from ch20_multimodal.documents import cer, edit_distance, read_document, render_text, write_text_pdf
from llmpath_core import UserError

from .conftest import needs_tesseract

TEXT = (
    "Invoice INV-2041 from Northwind Traders\n"
    "The quick brown fox jumps over the lazy dog.\n"
    "Total due: 318.50 EUR by 2026-04-13"
)


def test_cer_and_edit_distance():
    assert edit_distance("kitten", "sitting") == 3
    assert cer("abcd", "abcd") == 0.0
    assert cer("abcd", "abxd") == 0.25
    assert cer("a  b\nc", "a b c") == 0.0  # whitespace is normalised


@needs_tesseract
def test_ocr_of_rendered_text_matches(tmp_path):
    """Tesseract (through pytesseract) reads Pillow-rendered text with CER ≤ 2%."""
    path = tmp_path / "page.png"
    render_text(TEXT).save(path)
    doc = read_document(path)
    assert doc.source == "ocr"
    assert cer(TEXT, doc.text) <= 0.02, doc.text
    assert len({w.line for w in doc.words}) == 3  # layout: three lines of words
    assert [w.text for w in doc.words][:2] == ["Invoice", "INV-2041"]


def test_text_pdf_uses_its_text_layer(tmp_path):
    path = tmp_path / "doc.pdf"
    write_text_pdf(TEXT.splitlines(), path)
    doc = read_document(path)
    assert doc.source == "pdf-text" and doc.pages == 1
    assert cer(TEXT, doc.text) == 0.0


@needs_tesseract
def test_scanned_pdf_is_ocrd(tmp_path):
    path = tmp_path / "scan.pdf"
    render_text(TEXT).save(path)  # Pillow writes an image-only PDF: no text layer
    doc = read_document(path)
    assert doc.source == "pdf-ocr"
    assert cer(TEXT, doc.text) <= 0.02, doc.text


def test_encrypted_pdf_needs_its_password(tmp_path):
    from pypdf import PdfWriter

    plain, locked = tmp_path / "doc.pdf", tmp_path / "locked.pdf"
    write_text_pdf(["secret numbers 42"], plain)
    writer = PdfWriter(clone_from=str(plain))
    writer.encrypt("hunter2")
    writer.write(str(locked))
    with pytest.raises(UserError, match="encrypted"):
        read_document(locked)
    assert read_document(locked, password="hunter2").text == "secret numbers 42"


def test_unreadable_files_are_user_errors(tmp_path):
    (tmp_path / "x.png").write_bytes(b"not an image")
    (tmp_path / "y.pdf").write_bytes(b"%PDF-1.4 broken")
    for name in ("x.png", "y.pdf", "missing.png"):
        with pytest.raises(UserError):
            read_document(tmp_path / name)
