"""A small web app for pairwise human judgments, stored in SQLite, with agreement and export.

Annotators open the page, read the guidelines, enter a name, and for each item pick A, B or
"tie". Every judgment is one row (annotator, item, choice, time). ``/export.json`` and
``/export.csv`` give the rows back exactly as entered; ``/agreement.json`` reports Cohen's kappa
for every pair of annotators and Krippendorff's alpha over all of them (missing judgments
allowed). Standard library only (``http.server``, ``sqlite3``): it runs anywhere Python does.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

from ch11_evaluation.agreement import cohen_kappa, krippendorff_alpha

CHOICES = ("A", "B", "tie")
GUIDELINES = """Read the question and both answers. Choose the answer that is more correct and
more helpful. Judge the content, not the length or the position: a longer answer is not better
for being longer, and A is not better for being first. Choose "tie" only when both are equally
good or equally bad. Take each item on its own; do not look anything up."""

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS items (item_id TEXT PRIMARY KEY, question TEXT, a TEXT, b TEXT)",
    "CREATE TABLE IF NOT EXISTS judgments (id INTEGER PRIMARY KEY AUTOINCREMENT, annotator TEXT,"
    " item_id TEXT, choice TEXT, created REAL)",
]


class AnnotationDB:
    """Items to judge and the judgments, in one SQLite file (safe across server threads)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._db() as db:
            for statement in SCHEMA:
                db.execute(statement)

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        db.row_factory = sqlite3.Row
        return db

    def add_items(self, items: list[dict]) -> int:
        """Add ``{"item_id"?, "question", "a", "b"}`` items (existing ids are kept)."""
        rows = [
            (str(it.get("item_id", i)), it["question"], it["a"], it["b"])
            for i, it in enumerate(items)
        ]
        with self._lock, self._db() as db:
            db.executemany("INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?)", rows)
        return len(rows)

    def items(self) -> list[dict]:
        with self._db() as db:
            return [dict(r) for r in db.execute("SELECT * FROM items ORDER BY rowid")]

    def record(self, annotator: str, item_id: str, choice: str) -> None:
        if choice not in CHOICES:
            raise ValueError(f"choice must be one of {CHOICES}")
        if not annotator.strip():
            raise ValueError("annotator name is empty")
        with self._lock, self._db() as db:
            if db.execute("SELECT 1 FROM items WHERE item_id = ?", (item_id,)).fetchone() is None:
                raise ValueError(f"unknown item {item_id!r}")
            db.execute(
                "INSERT INTO judgments (annotator, item_id, choice, created) VALUES (?, ?, ?, ?)",
                (annotator.strip(), item_id, choice, time.time()),
            )

    def judgments(self) -> list[dict]:
        with self._db() as db:
            return [
                dict(r)
                for r in db.execute(
                    "SELECT annotator, item_id, choice, created FROM judgments ORDER BY id"
                )
            ]

    def next_item(self, annotator: str) -> dict | None:
        with self._db() as db:
            row = db.execute(
                "SELECT * FROM items WHERE item_id NOT IN (SELECT item_id FROM judgments WHERE "
                "annotator = ?) ORDER BY rowid LIMIT 1",
                (annotator,),
            ).fetchone()
        return dict(row) if row else None

    def agreement(self) -> dict:
        """Cohen's kappa per annotator pair (shared items) and Krippendorff's alpha over all."""
        latest: dict[tuple[str, str], str] = {}
        for j in self.judgments():  # a re-judged item counts with its latest choice
            latest[(j["annotator"], j["item_id"])] = j["choice"]
        annotators = sorted({a for a, _ in latest})
        item_ids = [it["item_id"] for it in self.items()]
        pairs = []
        for x, y in itertools.combinations(annotators, 2):
            shared = [i for i in item_ids if (x, i) in latest and (y, i) in latest]
            if len(shared) >= 2:
                kappa = cohen_kappa(
                    [latest[(x, i)] for i in shared], [latest[(y, i)] for i in shared]
                )
                pairs.append({"a": x, "b": y, "n": len(shared), "kappa": kappa})
        matrix = [[latest.get((a, i)) for i in item_ids] for a in annotators]
        alpha = krippendorff_alpha(matrix) if len(annotators) >= 2 else None
        return {"annotators": annotators, "pairs": pairs, "alpha": alpha, "judgments": len(latest)}

    def export_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, ["annotator", "item_id", "choice", "created"])
        writer.writeheader()
        writer.writerows(self.judgments())
        return buf.getvalue()


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title></head><body>{body}</body></html>"
    ).encode()


def _item_page(item: dict, annotator: str, done: int, total: int) -> bytes:
    e = html.escape
    buttons = "".join(
        f"<button type=submit name=choice value='{c}' id='choose-{c}'>{c}</button> "
        for c in CHOICES
    )
    return _page(
        "judge",
        (
            f"<p>{e(annotator)}: item {done + 1} of {total}</p>"
            f"<h2 id=question>{e(item['question'])}</h2>"
            f"<div id=answer-A><b>A</b>: {e(item['a'])}</div>"
            f"<div id=answer-B><b>B</b>: {e(item['b'])}</div>"
            "<form method=post action='/judge'>"
            f"<input type=hidden name=annotator value='{e(annotator, quote=True)}'>"
            f"<input type=hidden name=item_id value='{e(item['item_id'], quote=True)}'>"
            f"{buttons}</form>"
        ),
    )


def make_handler(db: AnnotationDB, guidelines: str = GUIDELINES):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet: the CLI prints its own line
            pass

        def _send(self, body: bytes, ctype: str = "text/html; charset=utf-8", code: int = 200):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            if url.path == "/":
                body = (
                    f"<h1>Pairwise judgments</h1><h2>Guidelines</h2>"
                    f"<p id=guidelines>{html.escape(guidelines)}</p>"
                    "<form method=get action='/next'><label>Your name "
                    "<input name=annotator id=annotator required></label>"
                    "<button type=submit id=start>Start</button></form>"
                )
                return self._send(_page("annotate", body))
            if url.path == "/next":
                annotator = query.get("annotator", [""])[0].strip()
                if not annotator:
                    return self._send(_page("error", "<p>enter a name first</p>"), code=400)
                item = db.next_item(annotator)
                total = len(db.items())
                if item is None:
                    return self._send(
                        _page("done", f"<p id=done>All {total} items judged. Thank you.</p>")
                    )
                done = sum(j["annotator"] == annotator for j in db.judgments())
                return self._send(_item_page(item, annotator, min(done, total - 1), total))
            if url.path == "/export.json":
                return self._send(json.dumps(db.judgments()).encode(), "application/json")
            if url.path == "/export.csv":
                return self._send(db.export_csv().encode(), "text/csv")
            if url.path == "/agreement.json":
                return self._send(json.dumps(db.agreement()).encode(), "application/json")
            return self._send(_page("not found", "<p>not found</p>"), code=404)

        def do_POST(self) -> None:
            if urlparse(self.path).path != "/judge":
                return self._send(_page("not found", "<p>not found</p>"), code=404)
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            annotator = form.get("annotator", [""])[0]
            try:
                db.record(annotator, form.get("item_id", [""])[0], form.get("choice", [""])[0])
            except ValueError as exc:
                return self._send(_page("error", f"<p>{html.escape(str(exc))}</p>"), code=400)
            self.send_response(303)
            self.send_header("Location", f"/next?annotator={quote(annotator.strip())}")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def make_server(db: AnnotationDB, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """The app bound to ``host:port`` (0 = a free port); call ``serve_forever`` to run it."""
    return ThreadingHTTPServer((host, port), make_handler(db))


def items_from_pairs(pairs) -> list[dict]:
    """Annotation items from judge pairs (``ch11_evaluation.judge.Pair``)."""
    return [
        {"item_id": f"pair-{i}", "question": p.question, "a": p.a, "b": p.b}
        for i, p in enumerate(pairs)
    ]
