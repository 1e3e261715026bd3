"""Our crawler vs the Scrapy spider on the same local site: records and pages per second.

    uv run python packages/ch06-data/benchmarks/bench_crawlers.py [--pages 60] [--rate 200]

Both crawl a :class:`ListingSite` with ``--pages`` listing pages (three layouts, broken HTML, a
429 with ``Retry-After: 1``, two 500s, a redirect, a disallowed path) at the same per-host rate.
Pages/s counts pages the server answered with 200, over each crawler's own crawl time (Scrapy's
``elapsed_time_seconds``, without the child process's start; ours: ``CrawlReport.seconds``).
Writes ``results/crawlers.json``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ch06_data.crawl import CrawlConfig, Crawler, valid_records
from ch06_data.listing_site import ListingSite, SiteServer
from ch06_data.scrapy_spider import scrapy_crawl
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

RESULTS = Path(__file__).parent / "results"


def key(r: dict) -> tuple:
    return (r["listing_id"], r["price"], r["area_m2"], r["rooms"], r["address"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    site = ListingSite(n_pages=args.pages)
    rows = []
    with SiteServer(site) as srv, tempfile.TemporaryDirectory() as tmp:
        crawler = Crawler(Path(tmp) / "s.db", CrawlConfig(rate=args.rate, backoff=0.05))
        report = crawler.crawl(srv.url)
        ours = valid_records(crawler.records())
        crawler.close()
        ok = sum(s == 200 for _, _, s, _ in srv.log)
        rows.append(
            {
                "crawler": "ours (urllib + BeautifulSoup + SQLite state)",
                "requests": len(srv.log),
                "pages_200": ok,
                "valid_records": len(ours),
                "seconds": round(report.seconds, 3),
                "pages_per_s": round(ok / report.seconds, 1),
            }
        )
        srv.log.clear()
        got = scrapy_crawl(srv.url, Path(tmp) / "scrapy.jsonl", rate=args.rate)
        ok = sum(s == 200 for _, _, s, _ in srv.log)
        elapsed = got["stats"]["elapsed_time_seconds"]
        rows.append(
            {
                "crawler": "Scrapy (Twisted + parsel selectors)",
                "requests": len(srv.log),
                "pages_200": ok,
                "valid_records": len(got["valid"]),
                "seconds": round(elapsed, 3),
                "pages_per_s": round(ok / elapsed, 1),
                "process_seconds": round(got["seconds"], 3),
            }
        )
    same = sorted(map(key, ours)) == sorted(map(key, got["valid"]))
    for row in rows:
        print(row)
    print("same records:", same)
    write_json(
        RESULTS / "crawlers.json",
        {
            "rows": rows,
            "same_valid_records": same,
            "site_pages": args.pages,
            "rate": args.rate,
            "truth_valid": len(site.valid_truth),
            "machine": machine_info(),
            "note": "loaded shared 2-core CPU box (other jobs running)",
        },
    )


if __name__ == "__main__":
    main()
