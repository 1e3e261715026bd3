"""A local listings website to crawl: several page layouts, broken HTML, and misbehaving pages.

``ListingSite(seed).pages`` maps paths to HTML. ``serve(site)`` runs it on a free localhost port in
a thread and logs every request (path, time, status) so tests can measure the crawler's manners:

- ``/robots.txt`` disallows ``/private/`` and asks for a crawl delay;
- three layouts of listing pages (a table, cards, a definition list), one page with broken HTML;
- ``/listings/page-2.html`` answers 429 (with ``Retry-After``) the first time, ``page-4``
  answers 500 twice, ``/old-listings`` redirects (301) to ``page-3``;
- every page has an ``ETag`` and answers ``If-None-Match`` with 304.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STREETS = ["Oak Street", "Harbour Road", "Mill Lane", "Station Avenue", "Elm Close", "Park Row"]
CITIES = ["Springfield", "Riverton", "Lakeside", "Hillview"]


@dataclass
class Listing:
    """The truth behind one listing card: what a correct extractor must recover."""

    listing_id: str
    price: int  # per month, in whole currency units
    area_m2: float
    rooms: int
    address: str
    valid: bool = True  # False: the page shows it with a defect the validator must catch


def _listings(rng: random.Random, page: int, n: int) -> list[Listing]:
    out = []
    for i in range(n):
        lid = f"L{page:02d}{i:02d}"
        address = f"{rng.randint(1, 200)} {rng.choice(STREETS)}, {rng.choice(CITIES)}"
        out.append(
            Listing(
                lid,
                rng.randint(6, 40) * 50,
                float(rng.randint(25, 140)),
                rng.randint(1, 5),
                address,
            )
        )
    return out


def _table(listings: list[Listing]) -> str:
    rows = "".join(
        f"<tr data-id='{x.listing_id}'><td class='addr'>{x.address}</td>"
        f"<td class='price'>${x.price:,} / month</td><td class='area'>{x.area_m2:g} m²</td>"
        f"<td class='rooms'>{x.rooms}</td></tr>"
        for x in listings
    )
    return (
        "<table class='listings'><thead><tr><th>Address</th><th>Rent</th><th>Area</th>"
        f"<th>Rooms</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _cards(listings: list[Listing], broken: bool = False) -> str:
    cards = []
    for x in listings:
        sqft = round(x.area_m2 / 0.09290304)
        card = (
            f"<div class='card' id='{x.listing_id}'><h3>{x.address}</h3>"
            f"<p class='meta'>{x.rooms} bedrooms &middot; {sqft} sq ft</p>"
            f"<span class='cost'>USD {x.price}</span></div>"
        )
        if broken:  # unclosed tags, stray closers
            card = card.replace("</p>", "").replace("</h3>", "") + "</b></i>"
        cards.append(card)
    return "<section class='results'>" + "".join(cards) + "</section>"


def _dl(listings: list[Listing]) -> str:
    items = "".join(
        f"<article itemscope itemtype='https://schema.org/Apartment' data-listing='{x.listing_id}'>"
        f"<dl><dt>Location</dt><dd itemprop='address'>{x.address}</dd>"
        f"<dt>Monthly rent</dt><dd itemprop='price'>{x.price} USD</dd>"
        f"<dt>Floor area</dt><dd itemprop='floorSize'>{x.area_m2:g} sqm</dd>"
        f"<dt>Rooms</dt><dd itemprop='numberOfRooms'>{x.rooms}</dd></dl></article>"
        for x in listings
    )
    return f"<div id='apartments'>{items}</div>"


def _page(title: str, body: str, links: list[str]) -> str:
    nav = " ".join(f"<a href='{href}'>{href}</a>" for href in links)
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f"<h1>{title}</h1>{body}<nav>{nav}</nav></body></html>"
    )


@dataclass
class ListingSite:
    """The site's pages and the listings behind them (``truth``)."""

    seed: int = 0
    n_pages: int = 6
    per_page: int = 8
    crawl_delay: float | None = None
    pages: dict[str, str] = field(init=False)
    truth: list[Listing] = field(init=False)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        layouts = [_table, _cards, _dl]
        self.pages, self.truth = {}, []
        for p in range(1, self.n_pages + 1):
            listings = _listings(rng, p, self.per_page)
            if p == 2:  # defects the validator must catch
                listings[0].valid = False
                listings[0].price = 0
                listings[1].valid = False
                listings[1].rooms = 0
            self.truth += listings
            links = [f"/listings/page-{p + 1}.html"] if p < self.n_pages else []
            if p == 1:
                links += ["/private/admin.html", "/old-listings", "#top", "mailto:a@example.com"]
            layout = layouts[(p - 1) % 3]
            body = _cards(listings, broken=True) if p == 5 else layout(listings)
            self.pages[f"/listings/page-{p}.html"] = _page(f"Listings, page {p}", body, links)
        self.pages["/"] = _page(
            "Flats to rent", "<p>Browse our listings.</p>", ["/listings/page-1.html"]
        )
        self.pages["/private/admin.html"] = _page("Admin", _table(_listings(rng, 99, 3)), [])
        delay = f"Crawl-delay: {self.crawl_delay}\n" if self.crawl_delay else ""
        self.pages["/robots.txt"] = f"User-agent: *\nDisallow: /private/\n{delay}"

    @property
    def valid_truth(self) -> list[Listing]:
        return [x for x in self.truth if x.valid]


class _Handler(BaseHTTPRequestHandler):
    server: _SiteServer

    def log_message(self, *args) -> None:  # keep stderr quiet
        pass

    def do_GET(self) -> None:
        arrived = time.monotonic()
        srv = self.server
        path = self.path.split("?", 1)[0]
        with srv.lock:
            srv.hits[path] += 1
            n = srv.hits[path]
        status, headers, body = 200, {}, b""
        if path == "/old-listings":
            status, headers = 301, {"Location": "/listings/page-3.html"}
        elif path == "/listings/page-2.html" and n == 1:
            status, headers = 429, {"Retry-After": "1"}
        elif path == "/listings/page-4.html" and n <= 2:
            status = 500
        elif path not in srv.site.pages:
            status = 404
        else:
            body = srv.site.pages[path].encode("utf-8")
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            headers = {"ETag": etag}
            if self.headers.get("If-None-Match") == etag:
                status, body = 304, b""
            ctype = "text/plain" if path.endswith(".txt") else "text/html; charset=utf-8"
            headers["Content-Type"] = ctype
        with srv.lock:
            srv.log.append((arrived, path, status, self.headers.get("User-Agent", "")))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: ListingSite) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.site = site
        self.lock = threading.Lock()
        self.hits: Counter[str] = Counter()
        self.log: list[tuple[float, str, int, str]] = []


class SiteServer:
    """A running :class:`ListingSite` on ``127.0.0.1:<free port>``; use as a context manager."""

    def __init__(self, site: ListingSite | None = None) -> None:
        self.site = site or ListingSite()
        self._server = _SiteServer(self.site)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def hits(self) -> Counter[str]:
        """Requests per path so far."""
        return self._server.hits

    @property
    def log(self) -> list[tuple[float, str, int, str]]:
        """``(monotonic time, path, status, user agent)`` for every request so far."""
        return self._server.log

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
