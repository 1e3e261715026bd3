"""Ingestion: turn files, database tables and web pages into :class:`Document` records.

One loader per format, each returning ``Document(source, text, title, metadata)`` where
``metadata`` holds what a filter may need later (``type``, ``section`` headings, ``modified`` date,
table and row for CSV/SQLite). Text, Markdown, HTML, PDF (``pypdf``), DOCX (``python-docx``), CSV
and SQLite tables are read from disk; ``http(s)://`` addresses are fetched with the standard
library (HTML is parsed the same way as a local ``.html`` file). Anything we cannot read becomes a
:class:`~llmpath_core.UserError` with one line saying why.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import re
import sqlite3
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from llmpath_core import UserError

TEXT_TYPES = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown"}
SUPPORTED = [
    ".txt",
    ".text",
    ".md",
    ".markdown",
    ".html",
    ".htm",
    ".pdf",
    ".docx",
    ".csv",
    ".sqlite",
    ".sqlite3",
    ".db",
]


@dataclass
class Document:
    """One unit of source text and where it came from."""

    source: str
    text: str
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def _modified(path: Path) -> str:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).strftime("%Y-%m-%d")


def _markdown_title(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""


class _HTMLText(HTMLParser):
    """Visible text of an HTML page, block elements as paragraphs, headings as Markdown."""

    BLOCKS = frozenset(
        {"p", "div", "li", "tr", "br", "section", "article", "pre", "table", "ul", "ol"}
    )
    SKIP = frozenset({"script", "style", "noscript", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._heading: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIP:
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = tag
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == self._heading:
            self._heading = None
            self.parts.append("\n\n")

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)

    def text(self) -> str:
        raw = "".join(self.parts)
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", raw)]
        return "\n\n".join(p for p in paragraphs if p)


def html_to_text(markup: str) -> tuple[str, str]:
    """``(title, text)`` of an HTML page."""
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    text = parser.text()
    return html.unescape(parser.title).strip() or _markdown_title(text), text


def load_pdf(path: Path) -> list[Document]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UserError(f"{path}: the PDF is encrypted; decrypt it first (e.g. qpdf --decrypt)")
        pages = [page.extract_text() or "" for page in reader.pages]
    except UserError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a readable PDF ({type(exc).__name__}: {exc})") from None
    except Exception as exc:
        if "decrypt" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise UserError(f"{path}: the PDF is encrypted; decrypt it first") from None
        raise UserError(f"{path}: not a readable PDF ({type(exc).__name__}: {exc})") from None
    title = ""
    if reader.metadata and reader.metadata.title:
        title = str(reader.metadata.title)
    docs = [
        Document(
            source=f"{path}#page={number}",
            text=text.strip(),
            title=title or path.stem,
            metadata={"type": "pdf", "page": number, "modified": _modified(path)},
        )
        for number, text in enumerate(pages, 1)
        if text.strip()
    ]
    if not docs:
        raise UserError(f"{path}: the PDF has no extractable text (scanned? run OCR first)")
    return docs


def load_docx(path: Path) -> list[Document]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, ValueError, KeyError) as exc:
        raise UserError(f"{path}: not a readable DOCX file ({exc})") from None
    lines = []
    for paragraph in document.paragraphs:
        style = (paragraph.style.name or "") if paragraph.style is not None else ""
        text = paragraph.text.strip()
        if not text:
            continue
        level = re.fullmatch(r"Heading (\d)", style)
        if style == "Title" or level:
            lines.append("#" * (int(level.group(1)) if level else 1) + " " + text)
        else:
            lines.append(text)
    title = document.core_properties.title or _markdown_title("\n".join(lines)) or path.stem
    return [
        Document(
            source=str(path),
            text="\n\n".join(lines),
            title=title,
            metadata={"type": "docx", "modified": _modified(path)},
        )
    ]


def _row_text(columns: list[str], row: list[Any]) -> str:
    return "; ".join(f"{c}: {v}" for c, v in zip(columns, row, strict=False) if v not in ("", None))


def load_csv(path: Path) -> list[Document]:
    """One document per row, ``column: value; ...`` (so a row is one retrievable fact)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise UserError(f"{path}: the CSV file is empty")
    header, body = rows[0], rows[1:]
    return [
        Document(
            source=f"{path}#row={i}",
            text=_row_text(header, row),
            title=path.stem,
            metadata={"type": "csv", "table": path.stem, "row": i, "modified": _modified(path)},
        )
        for i, row in enumerate(body, 1)
        if any(cell.strip() for cell in row)
    ]


def load_sqlite(path: Path, tables: list[str] | None = None) -> list[Document]:
    """One document per row of every table (or of ``tables``)."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{path}: not a readable SQLite database ({exc})") from None
    docs = []
    for table in tables or names:
        if table not in names:
            raise UserError(f"{path}: no table {table!r} (tables: {', '.join(names)})")
        cursor = con.execute(f'SELECT rowid, * FROM "{table}"')
        columns = [d[0] for d in cursor.description][1:]
        for rowid, *row in cursor:
            docs.append(
                Document(
                    source=f"{path}#{table}/{rowid}",
                    text=_row_text(columns, row),
                    title=table,
                    metadata={"type": "sqlite", "table": table, "row": rowid},
                )
            )
    con.close()
    return docs


def fetch_url(url: str, timeout: float = 10.0) -> list[Document]:
    """GET ``url``; HTML becomes text like a local ``.html`` file, anything else must be text."""
    request = urllib.request.Request(url, headers={"User-Agent": "llmpath-ch18-rag/0.1"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            kind = response.headers.get_content_type()
            charset = response.headers.get_content_charset() or "utf-8"
            stamp = response.headers.get("Last-Modified", "")
    except urllib.error.HTTPError as exc:
        raise UserError(f"{url}: the server answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"{url}: cannot fetch ({reason}); check the address and network") from None
    text = body.decode(charset, errors="replace")
    metadata: dict[str, Any] = {"type": "html" if "html" in kind else "text", "url": url}
    if stamp:
        metadata["modified"] = stamp
    if "html" in kind:
        title, text = html_to_text(text)
    elif kind.startswith("text/") or kind in ("application/json", "application/xml"):
        title = _markdown_title(text)
    else:
        raise UserError(f"{url}: unsupported content type {kind} (expected HTML or text)")
    return [Document(source=url, text=text, title=title or url, metadata=metadata)]


def load_path(path: str | Path) -> list[Document]:
    """Documents of one file (by suffix) or one URL."""
    if isinstance(path, str) and re.match(r"^https?://", path):
        return fetch_url(path)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    suffix = path.suffix.lower()
    if suffix in TEXT_TYPES:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{path}: not UTF-8 text") from None
        kind = TEXT_TYPES[suffix]
        title = _markdown_title(text) if kind == "markdown" else ""
        return [
            Document(
                str(path),
                text,
                title or path.stem,
                {"type": kind, "modified": _modified(path)},
            )
        ]
    if suffix in (".html", ".htm"):
        title, text = html_to_text(path.read_text(encoding="utf-8", errors="replace"))
        return [Document(str(path), text, title or path.stem, {"type": "html"})]
    if suffix == ".pdf":
        return load_pdf(path)
    if suffix == ".docx":
        return load_docx(path)
    if suffix == ".csv":
        return load_csv(path)
    if suffix in (".sqlite", ".sqlite3", ".db"):
        return load_sqlite(path)
    raise UserError(f"{path}: unsupported file type {suffix or '(none)'}; use one of {SUPPORTED}")


def expand_inputs(inputs: list[str | Path]) -> list[str]:
    """Files and URLs to read: folders are walked for supported files (sorted)."""
    out: list[str] = []
    for item in inputs:
        if isinstance(item, str) and re.match(r"^https?://", item):
            out.append(item)
            continue
        path = Path(item)
        if path.is_dir():
            out += sorted(
                str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED
            )
        else:
            out.append(str(path))
    return out


def pydoc_documents(split: str | None = None) -> list[Document]:
    """The bundled CPython topic help as documents, one per topic (``pydoc:<topic>``)."""
    from llmpath_core.data.pydoc import pydoc_topics, topic_split

    docs = []
    for name, text in pydoc_topics().items():
        if split is not None and topic_split(name) != split:
            continue
        body = text.strip()
        title = body.splitlines()[0].strip() if body else name
        docs.append(Document(f"pydoc:{name}", body, title, {"type": "pydoc", "topic": name}))
    return docs


__all__ = [
    "SUPPORTED",
    "Document",
    "expand_inputs",
    "fetch_url",
    "html_to_text",
    "load_csv",
    "load_docx",
    "load_path",
    "load_pdf",
    "load_sqlite",
    "pydoc_documents",
]
