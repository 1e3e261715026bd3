"""``ch03-tokenization dashboard``: a local page; type text, watch each tokenizer cut it.

A standard-library HTTP server (``ThreadingHTTPServer``) holding tokenizers built once at startup.
The page sends what you type to ``POST /api/tokenize`` and shows, for every tokenizer, the same
HTML section the static ``compare --html`` page uses (:func:`~ch03_tokenization.html_view.
tokenizer_section`): coloured tokens with their ids, the count, chars/token and whether decoding
gives the text back.

Routes:

- ``GET /``: the page; ``/?text=...`` fills the box with that text (it is rendered by the page's
  script as soon as it loads, so a headless browser's ``--dump-dom`` shows the live result).
- ``POST /api/tokenize`` with ``{"text": "..."}`` (UTF-8 JSON, at most :data:`MAX_BODY_BYTES`):
  ``{"text", "chars", "results": [{"name", "kind", "ids", "tokens", "count", "chars_per_token",
  "vocab_size", "decoded", "round_trip", "html"}, ...], "table_html"}``.
  ``GET /api/tokenize?text=...`` does the same (handy with curl).
- ``GET /api/tokenizers``: ``{"tokenizers": [{"name", "kind", "vocab_size"}, ...]}``.

Bad requests get a JSON ``{"error": "..."}`` with a 4xx status (400 malformed JSON or no text,
404 unknown path, 411 no Content-Length, 413 body too large); the server keeps serving.
"""

from __future__ import annotations

import errno
import html
import json
import socket
import sys
import threading
import traceback
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ch03_tokenization.base import Tokenizer
from ch03_tokenization.html_view import STYLE, Anchor, table_html, token_view, tokenizer_section
from llmpath_core import UserError

MAX_BODY_BYTES = 64 * 1024
DEFAULT_TEXT = "Once upon a time, a tiny dragon 🐉 said: “naïve café”, 日本語のテキスト and x**2!"

PAGE_STYLE = """
textarea { width: 100%; max-width: 60rem; font: 1rem ui-monospace, monospace; padding: 0.5rem;
           box-sizing: border-box; }
#status { min-height: 1.2rem; }
section.tokenizer { max-width: 60rem; }
"""

PAGE_SCRIPT = """
const box = document.getElementById("text");
const statusLine = document.getElementById("status");
const summary = document.getElementById("summary");
const results = document.getElementById("results");
const params = new URLSearchParams(window.location.search);
box.value = params.has("text") ? params.get("text") : DEFAULT_TEXT;
let latest = 0;
let timer = null;
async function render() {
  const mine = ++latest;
  statusLine.textContent = "tokenizing…";
  try {
    const response = await fetch("/api/tokenize", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({text: box.value}),
    });
    const data = await response.json();
    if (mine !== latest) return;
    if (!response.ok) {
      statusLine.textContent = "error: " + data.error;
      document.body.dataset.state = "error";
      return;
    }
    summary.innerHTML = data.table_html;
    results.innerHTML = data.results.map((r) => r.html).join("");
    statusLine.textContent = data.chars + " characters, " + data.results.length + " tokenizers";
    document.body.dataset.state = "ready";
  } catch (err) {
    if (mine !== latest) return;
    statusLine.textContent = "error: " + err;
    document.body.dataset.state = "error";
  }
}
box.addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(render, 120);
});
render();
"""


class Dashboard:
    """The tokenizers the page shows (ours and library views), built once; thread-safe."""

    def __init__(self, views: Mapping[str, Tokenizer | Anchor]) -> None:
        if not views:
            raise UserError("the dashboard needs at least one tokenizer")
        self.views = dict(views)
        self.requests = 0
        self._lock = threading.Lock()  # our tokenizers keep per-word caches

    def kind(self, name: str) -> str:
        return "library" if isinstance(self.views[name], Anchor) else "ours"

    def tokenizers(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "kind": self.kind(name), "vocab_size": tok.vocab_size}
            for name, tok in self.views.items()
        ]

    def tokenize(self, text: str) -> dict[str, Any]:
        """Every tokenizer on ``text``: ids, tokens, stats and its HTML section."""
        results = []
        with self._lock:
            self.requests += 1
            for name, tok in self.views.items():
                view = token_view(tok, text)
                results.append(
                    {"name": name, "kind": self.kind(name), **view}
                    | {"html": tokenizer_section(name, view)}
                )
        trip = {True: "exact", False: "lossy", None: "-"}
        rows = [
            {
                "tokenizer": r["name"],
                "kind": r["kind"],
                "vocab": r["vocab_size"] or "-",
                "tokens": r["count"],
                "chars/token": r["chars_per_token"],
                "round trip": trip[r["round_trip"]],
            }
            for r in results
        ]
        table = table_html(rows)
        return {"text": text, "chars": len(text), "results": results, "table_html": table}

    def page(self) -> str:
        """The page: a text box, then (filled in by its script) a summary table and one section
        per tokenizer."""
        names = ", ".join(self.views)
        default = json.dumps(DEFAULT_TEXT).replace("<", "\\u003c")
        return "\n".join(
            [
                "<!doctype html><html><head><meta charset='utf-8'>",
                "<title>ch03-tokenization dashboard</title>",
                f"<style>{STYLE}{PAGE_STYLE}</style></head>",
                '<body data-state="loading">',
                "<h1>Type some text: each tokenizer cuts it live</h1>",
                f'<p class="stats">{len(self.views)} tokenizers: {html.escape(names)}. '
                "Hover a token for its id; open “ids” for the whole list.</p>",
                '<textarea id="text" rows="5" spellcheck="false" autofocus></textarea>',
                '<p id="status" class="stats"></p>',
                '<div id="summary"></div><div id="results"></div>',
                f"<script>const DEFAULT_TEXT = {default};\n{PAGE_SCRIPT}</script>",
                "</body></html>",
            ]
        )


class DashboardServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` bound before the tokenizers are ready (so a busy port fails
    fast); set :attr:`dashboard` before :meth:`serve_forever`."""

    daemon_threads = True
    dashboard: Dashboard | None = None
    log_requests = False

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


class DashboardHandler(BaseHTTPRequestHandler):
    server: DashboardServer
    server_version = "ch03-dashboard"
    timeout = 30  # seconds a client may stall mid-request before its connection is dropped

    # -- responses ---------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._json(status, {"error": message})

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            super().log_message(format, *args)

    def _tokenize(self, text: Any) -> None:
        if not isinstance(text, str):
            self._error(HTTPStatus.BAD_REQUEST, 'expected a JSON object {"text": "..."}')
            return
        assert self.server.dashboard is not None
        try:
            result = self.server.dashboard.tokenize(text)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}")
            return
        self._json(HTTPStatus.OK, result)

    # -- routes ------------------------------------------------------------------------------
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        dashboard = self.server.dashboard
        assert dashboard is not None
        if url.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, dashboard.page().encode("utf-8"), "text/html; charset=utf-8")
        elif url.path == "/api/tokenizers":
            self._json(HTTPStatus.OK, {"tokenizers": dashboard.tokenizers()})
        elif url.path == "/api/tokenize":
            values = parse_qs(url.query, keep_blank_values=True).get("text")
            if values is None:
                self._error(HTTPStatus.BAD_REQUEST, "give the text as ?text=...")
            else:
                self._tokenize(values[0])
        elif url.path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such page: {url.path}")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path != "/api/tokenize":
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: POST {path}")
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self.close_connection = True
            self._error(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length header")
            return
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self._error(HTTPStatus.BAD_REQUEST, f"bad Content-Length: {length_header!r}")
            return
        if length > MAX_BODY_BYTES:
            if length <= 16 * MAX_BODY_BYTES:  # read it, so the client is not cut off mid-send
                remaining = length
                while remaining > 0 and (chunk := self.rfile.read(min(remaining, 65536))):
                    remaining -= len(chunk)
            self.close_connection = True  # a larger body is dropped with the connection
            self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"request body of {length:,} bytes is over the limit of {MAX_BODY_BYTES:,}",
            )
            return
        raw = self.rfile.read(length)
        try:
            obj = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            self._error(HTTPStatus.BAD_REQUEST, "request body is not UTF-8")
            return
        except json.JSONDecodeError as exc:
            self._error(HTTPStatus.BAD_REQUEST, f"request body is not valid JSON: {exc.msg}")
            return
        self._tokenize(obj.get("text") if isinstance(obj, dict) else None)


def bind(host: str = "127.0.0.1", port: int = 8765) -> DashboardServer:
    """Listen on ``host:port`` (0: a free port); a busy port is a :class:`UserError`."""
    if not 0 <= port <= 65535:
        raise UserError(f"--port {port} is not a port number (0..65535; 0 picks a free one)")
    try:
        return DashboardServer((host, port), DashboardHandler)
    except socket.gaierror as exc:
        raise UserError(f"cannot listen on host {host!r}: {exc.strerror}") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UserError(
                f"port {port} on {host} is already in use: choose another --port "
                "(--port 0 picks a free one)"
            ) from None
        if exc.errno == errno.EACCES:
            raise UserError(
                f"not allowed to listen on port {port} (ports below 1024 need root): "
                "choose another --port"
            ) from None
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


__all__ = ["MAX_BODY_BYTES", "Dashboard", "DashboardHandler", "DashboardServer", "bind"]
