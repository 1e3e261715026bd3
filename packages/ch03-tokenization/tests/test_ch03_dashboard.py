"""The dashboard end to end: a real server on a free port, real HTTP, a real headless browser.

One server (in a thread of this process, tokenizers trained on small slices of the bundled data)
serves the HTTP tests and the Chromium test; the CLI tests start ``ch03-tokenization dashboard``
as a user would, in a subprocess, and stop it with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import html
import http.client
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from ch03_tokenization.dashboard import MAX_BODY_BYTES, Dashboard, bind
from ch03_tokenization.html_view import Anchor, token_view, tokenizer_section

# emoji (4-byte UTF-8, a skin-tone modifier, a flag), CJK, a combining mark, markup, whitespace
TEXT = "Once upon a time 🐉👍🏽🇫🇷 said 日本語のテキスト, cafe\u0301 <b>&amp;</b>\n\t  x**2"
LOSSLESS = ("byte-bpe@", "tiktoken", "HF tokenizers")


@pytest.fixture(scope="module")
def served():
    from ch03_tokenization.labs import comparison_views

    views = comparison_views(None, vocab_size=400, max_chars=30_000)
    server = bind("127.0.0.1", 0)
    server.dashboard = Dashboard(views)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.url, views
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def request(url: str, body: bytes | None = None, headers: dict | None = None):
    """(status, content type, body) of a GET (body None) or POST."""
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


def tokenize(url: str, text: str) -> dict:
    body = json.dumps({"text": text}).encode()
    status, ctype, raw = request(url + "api/tokenize", body, {"Content-Type": "application/json"})
    assert status == 200 and ctype.startswith("application/json")
    return json.loads(raw)


def test_page_and_tokenizer_list(served):
    url, views = served
    status, ctype, raw = request(url)
    assert status == 200 and ctype == "text/html; charset=utf-8"
    page = raw.decode("utf-8")
    assert page.startswith("<!doctype html>") and '<textarea id="text"' in page
    assert 'fetch("/api/tokenize"' in page
    for name in views:
        assert html.escape(name) in page
    status, _, raw = request(url + "api/tokenizers")
    listed = json.loads(raw)["tokenizers"]
    assert [t["name"] for t in listed] == list(views)
    kinds = {t["name"]: t["kind"] for t in listed}
    assert kinds["byte-bpe@pydoc"] == "ours"
    assert kinds["transformers BertTokenizerFast"] == "library"
    # ours, HF tokenizers, tiktoken from our ranks, sentencepiece and BERT's WordPiece are all there
    for prefix in ("byte-bpe@", "HF tokenizers", "tiktoken", "sentencepiece", "bert-wordpiece"):
        assert any(name.startswith(prefix) for name in views), prefix


def test_api_gives_each_librarys_own_ids(served):
    import tiktoken  # noqa: F401  (the tiktoken views are tiktoken.Encoding objects)
    from tokenizers import Tokenizer as HFTokenizer
    from transformers import BertTokenizerFast

    from ch03_tokenization.loading import bert_vocab_path

    url, views = served
    result = tokenize(url, TEXT)
    assert result["text"] == TEXT and result["chars"] == len(TEXT)
    by_name = {r["name"]: r for r in result["results"]}
    assert list(by_name) == list(views)
    for name, r in by_name.items():
        view = views[name]
        # the ids are what the library (or ours) gives when called directly
        assert r["ids"] == list(view.encode(TEXT)), name
        assert r["count"] == len(r["ids"]) == len(r["tokens"]) > 0
        assert r["chars_per_token"] == round(len(TEXT) / len(r["ids"]), 3)
        assert r["kind"] == ("library" if isinstance(view, Anchor) else "ours")
        # the live section is byte for byte the one the static compare --html page shows
        assert r["html"] == tokenizer_section(name, token_view(view, TEXT))
        assert r["html"].count('<span class="tok"') == r["count"]
        assert "<b>" not in r["html"]  # the text's markup is escaped
        if name.startswith(LOSSLESS):
            assert r["decoded"] == TEXT and r["round_trip"] is True, name
            # each token's bytes, concatenated, are the text's UTF-8 bytes
            if name.startswith("tiktoken"):
                pieces = b"".join(view_bytes(view, r["ids"]))
                assert pieces == TEXT.encode("utf-8")
    # held to the libraries built here independently of the dashboard
    for corpus in ("stories", "pydoc"):
        ours = views[f"byte-bpe@{corpus}"]
        ids = by_name[f"byte-bpe@{corpus}"]["ids"]
        assert ours.to_tiktoken().encode_ordinary(TEXT) == ids
        hf = HFTokenizer.from_str(json.dumps(ours.to_hf_dict()))
        assert hf.encode(TEXT, add_special_tokens=False).ids == ids
        assert by_name[f"tiktoken (byte-bpe@{corpus} ranks)"]["ids"] == ids
        assert by_name[f"HF tokenizers (byte-bpe@{corpus} json)"]["ids"] == ids
    bert = BertTokenizerFast(vocab=str(bert_vocab_path()))
    bert_ids = bert(TEXT, add_special_tokens=False)["input_ids"]
    assert by_name["transformers BertTokenizerFast"]["ids"] == bert_ids
    assert by_name["bert-wordpiece"]["ids"] == bert_ids  # ours == BertTokenizerFast
    assert by_name["bert-wordpiece"]["round_trip"] is False  # lowercased, accents stripped
    assert "[UNK]" in by_name["bert-wordpiece"]["tokens"]  # 🐉 is not in BERT's vocabulary
    sp_name = next(n for n in views if n.startswith("sentencepiece"))
    assert "<0xF0>" in by_name[sp_name]["tokens"]  # byte fallback for the emoji
    # the GET form gives the same answer
    status, _, raw = request(url + "api/tokenize?" + urllib.parse.urlencode({"text": TEXT}))
    assert status == 200 and json.loads(raw)["results"] == result["results"]
    # empty text: no tokens, nothing breaks
    empty = tokenize(url, "")
    assert all(r["count"] == 0 and r["html"].count("<span") == 0 for r in empty["results"])


def view_bytes(view: Anchor, ids: list[int]) -> list[bytes]:
    encoding = view.encode.__self__  # tiktoken.Encoding.encode_ordinary, bound
    return [encoding.decode_single_token_bytes(i) for i in ids]


def raw_post(url: str, body: bytes, headers: dict) -> tuple[int, dict]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("POST", "/api/tokenize")
        for key, value in headers.items():
            conn.putheader(key, value)
        conn.endheaders()
        if body:
            conn.send(body)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_bad_requests_get_4xx_json_and_the_server_keeps_serving(served):
    url, _ = served
    api = url + "api/tokenize"
    cases = [
        (b'{"text": "unterminated', 400, "not valid JSON"),
        (b"not json at all", 400, "not valid JSON"),
        (b'{"txt": "hi"}', 400, '{"text": "..."}'),
        (b'{"text": 5}', 400, '{"text": "..."}'),
        (b'["text"]', 400, '{"text": "..."}'),
        (b'{"text": "\xff\xfe"}', 400, "not UTF-8"),
    ]
    for body, code, message in cases:
        status, ctype, raw = request(api, body, {"Content-Type": "application/json"})
        assert status == code and ctype.startswith("application/json"), body
        assert message in json.loads(raw)["error"], body
    # a huge body is refused from its Content-Length, before it is sent
    status, obj = raw_post(url, b"{}", {"Content-Length": str(10**9)})
    assert status == 413 and "over the limit" in obj["error"]
    status, obj = raw_post(url, b"", {})
    assert status == 411 and "Content-Length" in obj["error"]
    status, obj = raw_post(url, b"", {"Content-Length": "-3"})
    assert status == 400
    status, _, raw = request(url + "nope")
    assert status == 404 and "no such page" in json.loads(raw)["error"]
    status, _, raw = request(url + "api/tokenize")
    assert status == 400
    # a real oversized body (text of MAX_BODY_BYTES characters) gets the JSON 413 too
    big = json.dumps({"text": "a" * MAX_BODY_BYTES}).encode()
    status, _, raw = request(api, big, {"Content-Type": "application/json"})
    assert status == 413 and "over the limit" in json.loads(raw)["error"]
    # still serving
    assert tokenize(url, "still here")["results"][0]["decoded"] == "still here"


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    """One line of the subprocess's stdout, or fail after ``timeout`` seconds."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(timeout=0.5):
            return proc.stdout.readline()
        if proc.poll() is not None:
            break
    raise AssertionError(f"no line from the dashboard within {timeout} s: {proc.stderr.read()}")


def test_cli_serves_on_a_free_port_and_stops_on_ctrl_c():
    cmd = [sys.executable, "-m", "ch03_tokenization.cli", "dashboard", "--port", "0"]
    proc = subprocess.Popen(
        [*cmd, "--vocab-size", "300", "--max-chars", "20000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    )
    try:
        line = read_line(proc, timeout=120)
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match and int(match.group(1)) > 0, line
        url = match.group(0)
        result = tokenize(url, "Hi 🐉!")
        assert {r["name"] for r in result["results"]} >= {"byte-bpe@stories", "bert-wordpiece"}
        assert result["results"][0]["decoded"] == "Hi 🐉!"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "9 tokenizers ready" in stderr
    assert "stopped after 1 tokenize requests" in stderr
    assert "Traceback" not in stderr


def test_cli_port_in_use_is_one_line_exit_2():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "ch03_tokenization.cli", "dashboard", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"error: port {port} on 127.0.0.1 is already in use: choose another --port "
        "(--port 0 picks a free one)"
    )
    assert "training" not in proc.stderr  # it fails before any work


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=15000",
]


@pytest.mark.skipif(find_chromium() is None, reason="no chromium binary (apt-get install chromium)")
def test_headless_chromium_renders_every_tokenizer(served, tmp_path):
    url, views = served
    text = "Hello <b>world</b> & 🐉 日本語 café"
    page = url + "?" + urllib.parse.urlencode({"text": text})
    chromium = find_chromium()
    assert chromium is not None

    def browse(*args: str) -> subprocess.CompletedProcess:
        profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
        return subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page],
            capture_output=True,
            text=True,
            timeout=120,
        )

    proc = browse("--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    # the page's script fetched /api/tokenize and rendered the answer
    assert 'data-state="ready"' in dom, dom[-2000:]
    assert f"{len(text)} characters, {len(views)} tokenizers" in dom
    sections = {}
    for chunk in dom.split('<section class="tokenizer" ')[1:]:
        name = html.unescape(re.match(r'data-tokenizer="([^"]*)"', chunk).group(1))
        sections[name] = chunk.split("</section>")[0]
    assert list(sections) == list(views)
    for name, view in views.items():
        ids = list(view.encode(text))
        assert sections[name].count('class="tok"') == len(ids) > 0, name
        assert "<b>" not in sections[name]  # escaped text, not markup
        assert f"{len(ids)} tokens" in sections[name]

    folder = os.environ.get("LLMPATH_TEST_ARTEFACTS")
    out_dir = Path(folder) / "ch03-tokenization" if folder else tmp_path
    out_dir.mkdir(parents=True, exist_ok=True)
    shot = out_dir / "ch03-dashboard.png"
    shot.unlink(missing_ok=True)
    proc = browse("--window-size=1200,1800", f"--screenshot={shot}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 1800)
    # the rendered page is ~250 kB here; the heading and text box alone, without tokens, ~14 kB
    assert len(data) > 50_000
