"""A polite, resumable crawler: robots.txt, a per-host rate limit, retries with backoff,
conditional requests, and its whole state in SQLite.

- **robots.txt** is fetched once per host and obeyed (``Disallow`` and ``Crawl-delay``).
- **Rate limit**: requests to one host are at least ``1 / rate`` seconds apart (retries included).
- **Retries**: 429 and 5xx (and connection errors) are retried with exponential backoff plus jitter;
  a ``Retry-After`` header wins when it asks for longer.
- **Conditional requests**: each page's ``ETag``/``Last-Modified`` is kept; a refresh sends
  ``If-None-Match``/``If-Modified-Since`` and a 304 costs no download and changes nothing.
- **Resumable**: the frontier, the pages and the records live in SQLite; a page's records, its
  "done" mark and the links it found are committed in one transaction, so a crawl killed at any
  point resumes where it stopped, without refetching finished pages or losing their records.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import time
import urllib.error
import urllib.request
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlparse

from ch06_data.extract import ListingRecord, extract_page, quality_report, validate
from llmpath_core import UserError

RETRY_STATUS = {429, 500, 502, 503, 504}

SCHEMA = """
CREATE TABLE IF NOT EXISTS frontier (url TEXT PRIMARY KEY, status TEXT NOT NULL, seq INTEGER);
CREATE TABLE IF NOT EXISTS pages (url TEXT PRIMARY KEY, final_url TEXT, status INTEGER,
    etag TEXT, last_modified TEXT, fetched_at REAL);
CREATE TABLE IF NOT EXISTS records (url TEXT NOT NULL, idx INTEGER NOT NULL, json TEXT NOT NULL,
    PRIMARY KEY (url, idx));
"""


@dataclass
class CrawlConfig:
    """Manners and limits. ``rate`` is requests per second per host."""

    rate: float = 10.0
    max_retries: int = 4
    backoff: float = 0.2
    max_backoff: float = 5.0
    timeout: float = 10.0
    max_pages: int = 10_000
    user_agent: str = "llmpath-ch06-bot/0.1 (+https://github.com/llmpath)"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise UserError("--rate must be positive (requests per second per host)")


@dataclass
class CrawlReport:
    """What a crawl (or a resumed one) did in this run, and the state's totals."""

    fetched: int = 0
    not_modified: int = 0
    retries: int = 0
    failed: list[str] = field(default_factory=list)
    disallowed: list[str] = field(default_factory=list)
    redirects: int = 0
    requests: int = 0
    pages_done: int = 0
    records: int = 0
    quality: dict = field(default_factory=dict)
    seconds: float = 0.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # redirects are followed by the crawler itself, so each hop is rate limited and robots-checked
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


REDIRECT_STATUS = {301, 302, 303, 307, 308}


class _Fetch:
    def __init__(self, status: int, body: bytes = b"", headers: dict | None = None, url: str = ""):
        self.status, self.body, self.headers, self.url = status, body, headers or {}, url


class Crawler:
    """Crawl from a start URL into a SQLite state file; call :meth:`crawl` again to resume."""

    def __init__(
        self,
        state: str | Path,
        config: CrawlConfig | None = None,
        extractor: Callable[[str, str], tuple[list[ListingRecord], list[str]]] = extract_page,
    ) -> None:
        self.config = config or CrawlConfig()
        self.db = sqlite3.connect(str(state))
        self.db.executescript(SCHEMA)
        self.extractor = extractor
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._delays: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._rng = random.Random(self.config.seed)
        self._opener = urllib.request.build_opener(_NoRedirect())
        self.report = CrawlReport()

    def close(self) -> None:
        self.db.close()

    # -- HTTP with manners -------------------------------------------------------------------
    def _wait_turn(self, host: str) -> None:
        interval = 1.0 / self.config.rate
        delay = self._delays.get(host)
        if delay:
            interval = max(interval, float(delay))
        last = self._last.get(host)
        if last is not None:
            wait = last + interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last[host] = time.monotonic()

    def _get(self, url: str, headers: dict[str, str], hops: int = 5) -> _Fetch:
        """GET with retries, following up to ``hops`` redirects (each polite, robots-checked)."""
        for _ in range(hops + 1):
            fetch = self._request(url, headers)
            location = fetch.headers.get("Location")
            if fetch.status not in REDIRECT_STATUS or not location:
                return fetch
            target = urljoin(url, location)
            self.report.redirects += 1
            if not self._allowed(target):
                self.report.disallowed.append(target)
                return _Fetch(403, url=target)
            url, headers = target, {}
        return _Fetch(310, url=url)  # too many redirects

    def _request(self, url: str, headers: dict[str, str]) -> _Fetch:
        host = urlparse(url).netloc
        attempt = 0
        while True:
            self._wait_turn(host)
            self.report.requests += 1
            req = urllib.request.Request(
                url, headers={"User-Agent": self.config.user_agent, **headers}
            )
            try:
                with self._opener.open(req, timeout=self.config.timeout) as resp:
                    return _Fetch(resp.status, resp.read(), dict(resp.headers), resp.geturl())
            except urllib.error.HTTPError as err:
                if err.code not in RETRY_STATUS:
                    return _Fetch(err.code, b"", dict(err.headers or {}), url)
                retry_after = (err.headers or {}).get("Retry-After")
                failure: _Fetch | Exception = _Fetch(err.code, b"", {}, url)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                retry_after, failure = None, err
            if attempt >= self.config.max_retries:
                if isinstance(failure, Exception):
                    raise failure
                return failure
            pause = min(self.config.max_backoff, self.config.backoff * 2**attempt)
            pause *= 0.5 + self._rng.random()  # jitter: crawlers that retry in step overload a host
            if retry_after and retry_after.strip().isdigit():
                pause = max(pause, min(float(retry_after), self.config.max_backoff))
            attempt += 1
            self.report.retries += 1
            time.sleep(pause)

    def _allowed(self, url: str) -> bool:
        parsed = urlparse(url)
        host = parsed.netloc
        if host not in self._robots:
            rp = urllib.robotparser.RobotFileParser()
            robots_url = f"{parsed.scheme}://{host}/robots.txt"
            fetch = self._request(robots_url, {})
            if fetch.status == 200:
                lines = fetch.body.decode("utf-8", "replace").splitlines()
                rp.parse(lines)
                # urllib's parser keeps only whole-second delays; sites also write "0.5"
                delay = rp.crawl_delay(self.config.user_agent)
                for line in lines:
                    m = re.match(r"\s*crawl-delay\s*:\s*([0-9.]+)", line, re.I)
                    if delay is None and m:
                        delay = float(m.group(1))
                if delay:
                    self._delays[host] = float(delay)
            elif fetch.status in (401, 403):
                rp.disallow_all = True
            else:  # 404 and the like: everything is allowed
                rp.allow_all = True
            self._robots[host] = rp
        return self._robots[host].can_fetch(self.config.user_agent, url)

    # -- the crawl ---------------------------------------------------------------------------
    def _enqueue(self, urls: list[str]) -> None:
        seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM frontier").fetchone()[0]
        for i, u in enumerate(urls, 1):
            self.db.execute(
                "INSERT OR IGNORE INTO frontier (url, status, seq) VALUES (?, 'pending', ?)",
                (u, seq + i),
            )

    def crawl(
        self,
        start_url: str,
        *,
        refresh: bool = False,
        on_page: Callable[[str], None] | None = None,
    ) -> CrawlReport:
        """Crawl (or resume) from ``start_url``; ``refresh`` re-checks done pages conditionally.

        ``on_page(url)`` runs after each committed page (tests use it to kill a crawl mid-way).
        """
        start = time.perf_counter()
        parsed = urlparse(start_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UserError(f"start URL {start_url!r}: use an absolute http(s) URL")
        try:
            self._allowed(start_url)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            reason = getattr(err, "reason", err)
            raise UserError(f"cannot reach the start URL {start_url}: {reason}") from None
        with self.db:
            self._enqueue([start_url])
            if refresh:
                self.db.execute("UPDATE frontier SET status = 'pending' WHERE status = 'done'")
        pages = 0
        while pages < self.config.max_pages:
            row = self.db.execute(
                "SELECT url FROM frontier WHERE status = 'pending' ORDER BY seq LIMIT 1"
            ).fetchone()
            if row is None:
                break
            self._visit(row[0])
            pages += 1
            if on_page is not None:
                on_page(row[0])
        return self._finish(start)

    def _visit(self, url: str) -> None:
        if not self._allowed(url):
            with self.db:
                self.db.execute("UPDATE frontier SET status = 'disallowed' WHERE url = ?", (url,))
            self.report.disallowed.append(url)
            return
        cached = self.db.execute(
            "SELECT etag, last_modified FROM pages WHERE url = ?", (url,)
        ).fetchone()
        headers = {}
        if cached and cached[0]:
            headers["If-None-Match"] = cached[0]
        if cached and cached[1]:
            headers["If-Modified-Since"] = cached[1]
        try:
            fetch = self._get(url, headers)
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            fetch = _Fetch(0, url=url)
        if fetch.status == 304:
            self.report.not_modified += 1
            with self.db:
                self.db.execute("UPDATE frontier SET status = 'done' WHERE url = ?", (url,))
            return
        if fetch.status != 200:
            self.report.failed.append(url)
            with self.db:
                self.db.execute("UPDATE frontier SET status = 'failed' WHERE url = ?", (url,))
            return
        self.report.fetched += 1
        final = fetch.url or url
        seen_final = (
            final != url
            and self.db.execute(
                "SELECT 1 FROM frontier WHERE url = ? AND status = 'done'", (final,)
            ).fetchone()
        )
        records, links = (
            ([], []) if seen_final else self.extractor(fetch.body.decode("utf-8", "replace"), final)
        )
        with self.db:  # one transaction: records + done mark + new links
            self.db.execute("DELETE FROM records WHERE url = ?", (final,))
            self.db.executemany(
                "INSERT INTO records (url, idx, json) VALUES (?, ?, ?)",
                [(final, i, json.dumps(r.to_dict())) for i, r in enumerate(records)],
            )
            self.db.execute(
                "INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?, ?)",
                (
                    url,
                    final,
                    fetch.status,
                    fetch.headers.get("ETag"),
                    fetch.headers.get("Last-Modified"),
                    time.time(),
                ),
            )
            self.db.execute("UPDATE frontier SET status = 'done' WHERE url = ?", (url,))
            if final != url:
                self.db.execute(
                    "INSERT OR REPLACE INTO frontier (url, status, seq) VALUES (?, 'done', "
                    "COALESCE((SELECT seq FROM frontier WHERE url = ?), 0))",
                    (final, final),
                )
            self._enqueue(links)

    def records(self) -> list[ListingRecord]:
        """Every record in the state, in crawl order."""
        rows = self.db.execute(
            "SELECT r.json FROM records r JOIN frontier f ON f.url = r.url ORDER BY f.seq, r.idx"
        ).fetchall()
        return [ListingRecord(**json.loads(j)) for (j,) in rows]

    def _finish(self, start: float) -> CrawlReport:
        records = self.records()
        self.report.records = len(records)
        self.report.pages_done = self.db.execute(
            "SELECT COUNT(*) FROM frontier WHERE status = 'done'"
        ).fetchone()[0]
        self.report.quality = quality_report(records)
        self.report.seconds = round(time.perf_counter() - start, 3)
        return self.report


def valid_records(records: list[ListingRecord]) -> list[dict]:
    """The records that pass :func:`~ch06_data.extract.validate`, as dicts."""
    return [r.to_dict() for r in records if not validate(r)]
