"""The same crawl with Scrapy: the framework comparison for :mod:`ch06_data.crawl`.

:class:`ListingSpider` crawls the listing site the way people usually do it with Scrapy: the
politeness is settings (``ROBOTSTXT_OBEY``, ``DOWNLOAD_DELAY`` per host, ``RETRY_HTTP_CODES``
with 429 and 5xx, the redirect middleware), extraction is Scrapy's CSS selectors (parsel, lxml
underneath) instead of BeautifulSoup, one selector block per layout, and the validation is the
package's own :func:`ch06_data.extract.validate`. Items go to a JSONL feed.

Twisted's reactor can start only once per process, so :func:`scrapy_crawl` runs the spider in a
child process (``python -m ch06_data.scrapy_spider START_URL OUT.jsonl --rate R``) and reads the
feed back. Needs the ``scrapy`` extra (``pip install ch06-data[scrapy]``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from ch06_data.extract import ListingRecord, parse_area, parse_price, parse_rooms, validate
from llmpath_core import UserError

USER_AGENT = "llmpath-ch06-bot/0.1 (scrapy; +https://example.invalid/llmpath)"


def _clean(text: str | None) -> str | None:
    return " ".join(text.split()) if text and text.strip() else None


def _join(parts: list[str]) -> str | None:
    return _clean(" ".join(parts))


def extract_with_selectors(response) -> list[ListingRecord]:
    """Listings of one page from a Scrapy ``response``, every layout, with CSS selectors."""
    url = response.url
    out = []
    for tr in response.css("table.listings tbody tr"):
        out.append(
            ListingRecord(
                url,
                tr.attrib.get("data-id"),
                parse_price(_join(tr.css("td.price ::text").getall())),
                parse_area(_join(tr.css("td.area ::text").getall())),
                parse_rooms(_join(tr.css("td.rooms ::text").getall())),
                _join(tr.css("td.addr ::text").getall()),
                "table",
            )
        )
    for card in response.css("div.card"):
        meta = _join(card.css("p.meta ::text").getall()) or ""
        out.append(
            ListingRecord(
                url,
                card.attrib.get("id"),
                parse_price(_join(card.css("span.cost ::text").getall())),
                parse_area(meta),
                parse_rooms(meta),
                # the heading's own text only: in broken HTML it may swallow the card's rest
                _clean(card.css("h3::text").get()),
                "cards",
            )
        )
    for art in response.css("article[itemscope]"):

        def prop(name: str, art=art) -> str | None:
            return _join(art.css(f"[itemprop={name}] ::text").getall())

        out.append(
            ListingRecord(
                url,
                art.attrib.get("data-listing"),
                parse_price(prop("price")),
                parse_area(prop("floorSize")),
                parse_rooms(prop("numberOfRooms")),
                prop("address"),
                "microdata",
            )
        )
    return out


def _spider_class():
    import scrapy

    class ListingSpider(scrapy.Spider):
        """Follows same-host links from ``start_url`` and yields every extracted listing."""

        name = "listings"

        def __init__(self, start_url: str, **kwargs) -> None:
            super().__init__(**kwargs)
            self.start_urls = [start_url]
            self.allowed_domains = [urlparse(start_url).hostname]

        def parse(self, response):
            if not hasattr(response, "css"):  # not HTML (robots.txt is handled by middleware)
                return
            for record in extract_with_selectors(response):
                item = record.to_dict()
                item["problems"] = validate(record)
                yield item
            for href in response.css("a::attr(href)").getall():
                if href.startswith(("http", "/")) and not href.startswith("//"):
                    yield response.follow(href, callback=self.parse)

    return ListingSpider


def run_spider(start_url: str, out: Path, rate: float = 10.0) -> None:
    """Run the spider in this process (starts Twisted's reactor: once per process)."""
    from scrapy.crawler import CrawlerProcess

    settings = {
        "USER_AGENT": USER_AGENT,
        "ROBOTSTXT_OBEY": True,
        "DOWNLOAD_DELAY": 1.0 / rate,
        "RANDOMIZE_DOWNLOAD_DELAY": False,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": 3,
        "RETRY_HTTP_CODES": [429, 500, 502, 503, 504],
        "HTTPCACHE_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "ERROR",
        "FEEDS": {str(out): {"format": "jsonlines", "encoding": "utf8", "overwrite": True}},
    }
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(_spider_class())
    process.crawl(crawler, start_url=start_url)
    process.start()
    stats = crawler.stats.get_stats()
    keys = (
        "downloader/request_count",
        "downloader/response_count",
        "retry/count",
        "item_scraped_count",
        "response_received_count",
        "elapsed_time_seconds",
    )
    print(json.dumps({k: stats.get(k, 0) for k in keys}))


def scrapy_crawl(start_url: str, out: Path, rate: float = 10.0, timeout: float = 600.0) -> dict:
    """Crawl ``start_url`` with Scrapy in a child process; ``{"records", "valid", "stats", ...}``.

    ``records`` are the listing dicts (``problems`` lists why a record is invalid), ``valid``
    those without problems, with the fields of :func:`ch06_data.crawl.valid_records`.
    """
    try:
        import scrapy  # noqa: F401
    except ImportError:
        raise UserError("Scrapy is not installed: pip install 'ch06-data[scrapy]'") from None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "ch06_data.scrapy_spider", start_url, str(out), "--rate", str(rate)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise UserError(f"the Scrapy crawl failed: {proc.stderr.strip().splitlines()[-1:]}")
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    valid = [{k: v for k, v in r.items() if k != "problems"} for r in records if not r["problems"]]
    return {"records": records, "valid": valid, "stats": stats, "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Crawl the listing site with Scrapy")
    parser.add_argument("start_url")
    parser.add_argument("out", type=Path)
    parser.add_argument("--rate", type=float, default=10.0)
    args = parser.parse_args(argv)
    run_spider(args.start_url, args.out, args.rate)


if __name__ == "__main__":
    main()
