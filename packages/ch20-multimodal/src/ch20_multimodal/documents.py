"""Documents to text: Tesseract OCR for images and scanned PDFs, pypdf for text PDFs.

``read_document(path)`` looks at the file's first bytes: a PDF goes through pypdf (its text
layer, page by page) and falls back to OCR of the page images when a page has no text layer (a
scan); anything else is opened with Pillow and OCR'd with Tesseract through ``pytesseract``,
which also gives the layout (one box per word, grouped into lines). Encrypted PDFs and files that
are neither an image nor a PDF are refused with one clear line. Character error rate (CER) is the
edit distance over the reference length.
"""

from __future__ import annotations

import io
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from llmpath_core import UserError


def require_tesseract() -> None:
    """Raise :class:`UserError` when the ``tesseract`` binary is not installed."""
    if shutil.which("tesseract") is None:
        raise UserError("tesseract is not installed: apt-get install tesseract-ocr")


@dataclass
class Word:
    """One OCR'd word with its box (left, top, width, height) and confidence (0-100)."""

    text: str
    box: tuple[int, int, int, int]
    conf: float
    line: int


@dataclass
class Document:
    """Text of a document, how it was read, its pages and (for OCR) word boxes."""

    text: str
    source: str  # "ocr", "pdf-text" or "pdf-ocr"
    pages: int = 1
    words: list[Word] = field(default_factory=list)


def ocr_image(image: Image.Image, lang: str = "eng", psm: int = 6) -> Document:
    """OCR one image: text plus word boxes (Tesseract, page segmentation mode ``psm``)."""
    import pytesseract

    require_tesseract()
    image = image.convert("L")
    if min(image.size) < 300:  # Tesseract is tuned for ~300 dpi text: upscale small images
        scale = 300 / min(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    config = f"--psm {psm}"
    text = pytesseract.image_to_string(image, lang=lang, config=config)
    data = pytesseract.image_to_data(image, lang=lang, config=config, output_type="dict")
    words, lines = [], {}
    for i, word in enumerate(data["text"]):
        if word.strip():
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            lines.setdefault(key, len(lines))
            box = (data["left"][i], data["top"][i], data["width"][i], data["height"][i])
            words.append(Word(word, box, float(data["conf"][i]), lines[key]))
    return Document(text.strip(), "ocr", 1, words)


def read_pdf(path: Path, password: str | None = None) -> Document:
    """Text of a PDF: its text layer, or OCR of the page images where a page has none."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(password or ""):
            raise UserError(f"{path} is an encrypted PDF: give its password (--password)")
        texts, source = [], "pdf-text"
        for page in reader.pages:
            text = (page.extract_text() or "").strip()
            if not text:
                images = [Image.open(io.BytesIO(img.data)) for img in page.images]
                text = "\n".join(ocr_image(img).text for img in images)
                source = "pdf-ocr" if images else source
            texts.append(text)
    except UserError:
        raise
    except (PdfReadError, ValueError, KeyError) as exc:
        raise UserError(f"cannot read {path} as a PDF: {exc}") from None
    except Exception as exc:  # pypdf raises its own errors for encrypted files it cannot open
        if "encrypt" in str(exc).lower() or "decrypt" in str(exc).lower():
            raise UserError(f"{path} is an encrypted PDF: give its password (--password)") from None
        raise
    return Document("\n\n".join(texts).strip(), source, len(reader.pages))


def read_document(path: str | Path, password: str | None = None) -> Document:
    """Read an image (any Pillow format) or a PDF into text."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no file at {path}")
    with path.open("rb") as fh:
        head = fh.read(5)
    if head == b"%PDF-":
        return read_pdf(path, password)
    try:
        with Image.open(path) as image:
            image.load()
            return ocr_image(image)
    except (UnidentifiedImageError, OSError) as exc:
        raise UserError(
            f"cannot read {path}: not an image or a PDF ({type(exc).__name__})"
        ) from None


def render_text(text: str, font_size: int = 28, margin: int = 20) -> Image.Image:
    """Draw ``text`` (several lines allowed) black on white with Pillow's bundled font."""
    font = ImageFont.load_default(size=font_size)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    _, _, right, bottom = probe.multiline_textbbox((0, 0), text, font=font, spacing=10)
    image = Image.new("L", (right + 2 * margin, bottom + 2 * margin), 255)
    ImageDraw.Draw(image).multiline_text((margin, margin), text, font=font, fill=0, spacing=10)
    return image


def write_text_pdf(lines: list[str], path: str | Path) -> None:
    """Write a one-page PDF whose text layer holds ``lines`` (Helvetica, no dependencies)."""

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = ["BT /F1 14 Tf 72 740 Td 18 TL"] + [f"({esc(line)}) '" for line in lines] + ["ET"]
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    Path(path).write_bytes(bytes(out))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions cost 1)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def normalise(text: str) -> str:
    """Collapse whitespace (OCR line breaks and spacing are not character errors here)."""
    return re.sub(r"\s+", " ", text).strip()


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edit distance / reference length, on whitespace-normalised text."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    return edit_distance(ref, hyp) / max(1, len(ref))
