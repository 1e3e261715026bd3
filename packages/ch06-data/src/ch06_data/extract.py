"""Listing extraction with BeautifulSoup, validation, and a quality report.

One extractor per page layout (a table, cards, a definition list with schema.org microdata); the
page picks the extractor by what it contains, so a new site means a new small function, not a new
crawler. Parsing goes through html.parser, which tolerates unclosed and stray tags. Field parsers
normalise units (square feet to m², "USD 1,250" to 1250) and :func:`validate` rejects records a
downstream user must not see (no price, impossible area, zero rooms, no address).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from urllib.parse import urldefrag, urljoin, urlparse

from bs4 import BeautifulSoup

SQFT_TO_M2 = 0.09290304


@dataclass
class ListingRecord:
    """One extracted listing; ``None`` where the page did not say."""

    url: str
    listing_id: str | None
    price: float | None
    area_m2: float | None
    rooms: int | None
    address: str | None
    layout: str

    def to_dict(self) -> dict:
        return asdict(self)


def parse_price(text: str | None) -> float | None:
    """``"$1,250 / month"``, ``"USD 950"``, ``"950 USD"`` -> the amount."""
    if not text:
        return None
    m = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    return float(m.group().replace(",", "")) if m else None


def parse_area(text: str | None) -> float | None:
    """``"54 m²"``, ``"54 sqm"``, ``"580 sq ft"`` -> square metres (one decimal)."""
    if not text:
        return None
    m = re.search(r"(\d[\d,]*(?:\.\d+)?)\s*(m²|m2|sqm|sq\.? ?ft|ft²|square feet)", text, re.I)
    if not m:
        return None
    value = float(m.group(1).replace(",", ""))
    if "f" in m.group(2).lower():
        value *= SQFT_TO_M2
    return round(value, 1)


def parse_rooms(text: str | None) -> int | None:
    """``"3"``, ``"3 bedrooms"``, ``"2BR"`` -> the count."""
    if not text:
        return None
    m = re.search(r"\d+", text)
    return int(m.group()) if m else None


def _clean(text: str | None) -> str | None:
    return " ".join(text.split()) if text and text.strip() else None


def _table(soup: BeautifulSoup, url: str) -> list[ListingRecord]:
    out = []
    for tr in soup.select("table.listings tbody tr"):

        def cell(cls: str, tr=tr) -> str | None:
            node = tr.select_one(f"td.{cls}")
            return _clean(node.get_text()) if node else None

        out.append(
            ListingRecord(
                url,
                tr.get("data-id"),
                parse_price(cell("price")),
                parse_area(cell("area")),
                parse_rooms(cell("rooms")),
                cell("addr"),
                "table",
            )
        )
    return out


def _cards(soup: BeautifulSoup, url: str) -> list[ListingRecord]:
    out = []
    for card in soup.select("div.card"):
        # with broken HTML the heading may swallow the rest of the card: read only its own text
        h3 = card.find("h3")
        address = _clean(h3.find(string=True, recursive=False)) if h3 else None
        meta = card.select_one("p.meta")
        cost = card.select_one("span.cost")
        meta_text = meta.get_text(" ") if meta else ""
        out.append(
            ListingRecord(
                url,
                card.get("id"),
                parse_price(cost.get_text() if cost else None),
                parse_area(meta_text),
                parse_rooms(meta_text),
                address,
                "cards",
            )
        )
    return out


def _microdata(soup: BeautifulSoup, url: str) -> list[ListingRecord]:
    out = []
    for art in soup.select("article[itemscope]"):

        def prop(name: str, art=art) -> str | None:
            node = art.select_one(f"[itemprop={name}]")
            return _clean(node.get_text()) if node else None

        out.append(
            ListingRecord(
                url,
                art.get("data-listing"),
                parse_price(prop("price")),
                parse_area(prop("floorSize")),
                parse_rooms(prop("numberOfRooms")),
                prop("address"),
                "microdata",
            )
        )
    return out


EXTRACTORS = {"table": _table, "cards": _cards, "microdata": _microdata}


def extract_links(soup: BeautifulSoup, url: str) -> list[str]:
    """Absolute http(s) links on the page, without fragments, same host as ``url``, in order."""
    host = urlparse(url).netloc
    links: list[str] = []
    for a in soup.find_all("a", href=True):
        target = urldefrag(urljoin(url, a["href"]))[0]
        parsed = urlparse(target)
        if parsed.scheme in ("http", "https") and parsed.netloc == host and target not in links:
            links.append(target)
    return links


def extract_page(html: str, url: str) -> tuple[list[ListingRecord], list[str]]:
    """The listings of one page (whatever its layout) and its links."""
    soup = BeautifulSoup(html, "html.parser")
    records: list[ListingRecord] = []
    for fn in EXTRACTORS.values():
        records += fn(soup, url)
    return records, extract_links(soup, url)


def validate(record: ListingRecord) -> list[str]:
    """Why ``record`` is unusable (empty list: it is valid)."""
    problems = []
    if record.price is None or record.price <= 0:
        problems.append("price missing or not positive")
    if record.area_m2 is None or not 5 <= record.area_m2 <= 2000:
        problems.append("area missing or outside 5-2000 m²")
    if record.rooms is None or not 1 <= record.rooms <= 30:
        problems.append("rooms missing or outside 1-30")
    if not record.address:
        problems.append("address missing")
    return problems


def quality_report(records: list[ListingRecord]) -> dict:
    """Counts of valid and invalid records, reasons, layouts, and field fill rates."""
    reasons: Counter[str] = Counter()
    valid = 0
    for r in records:
        problems = validate(r)
        valid += not problems
        reasons.update(problems)
    n = len(records)
    fields = ("listing_id", "price", "area_m2", "rooms", "address")
    return {
        "records": n,
        "valid": valid,
        "invalid": n - valid,
        "reasons": dict(reasons.most_common()),
        "layouts": dict(Counter(r.layout for r in records)),
        "filled": {
            f: round(sum(getattr(r, f) is not None for r in records) / n, 3) if n else 0.0
            for f in fields
        },
    }
