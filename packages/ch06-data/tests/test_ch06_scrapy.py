"""The Scrapy spider against the same local site: the same validated records as our crawler."""

from __future__ import annotations

import pytest

from ch06_data.crawl import CrawlConfig, Crawler, valid_records
from ch06_data.listing_site import ListingSite, SiteServer

pytest.importorskip("scrapy")


def _key(r: dict) -> tuple:
    return (r["listing_id"], r["price"], r["area_m2"], r["rooms"], r["address"], r["layout"])


def test_scrapy_spider_gives_the_same_records(tmp_path):
    from ch06_data.scrapy_spider import scrapy_crawl

    site = ListingSite()
    with SiteServer(site) as srv:
        crawler = Crawler(tmp_path / "s.db", CrawlConfig(rate=50, backoff=0.05))
        crawler.crawl(srv.url)
        ours = valid_records(crawler.records())
        crawler.close()
        ours_hits = dict(srv.hits)
        srv.hits.clear()
        got = scrapy_crawl(srv.url, tmp_path / "scrapy.jsonl", rate=50)
        hits = dict(srv.hits)
    # every layout (table, cards, microdata, broken cards), the 429, the 500s and the redirect
    assert {r["layout"] for r in got["records"]} == {"table", "cards", "microdata"}
    assert sorted(map(_key, got["valid"])) == sorted(map(_key, ours))
    assert len(got["valid"]) == len(site.valid_truth) and len(got["records"]) == len(site.truth)
    assert sum(bool(r["problems"]) for r in got["records"]) == 2
    # robots.txt obeyed by both; the retried pages were fetched again by both
    assert "/private/admin.html" not in hits and "/private/admin.html" not in ours_hits
    assert hits["/robots.txt"] == 1 and hits["/listings/page-4.html"] == 3
    assert got["stats"]["retry/count"] >= 3


def test_crawl_cli_with_scrapy(tmp_path, run_in_process):
    out = tmp_path / "records.jsonl"
    code, result, _ = run_in_process("crawl", "--framework", "scrapy", "--out", str(out), "--json")
    assert code == 0 and result["framework"] == "scrapy"
    assert result["valid_records"] == 46 and result["records"] == 48 and result["retries"] >= 3
    assert len(out.read_text().splitlines()) == 46
    code, _, err = run_in_process("crawl", "--framework", "selenium", "--json")
    assert code == 2 and "--framework" in err
