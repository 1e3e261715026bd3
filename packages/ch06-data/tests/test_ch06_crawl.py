"""The crawler against a real local HTTP server: robots, rate limit, retries, resume, 304s."""

from __future__ import annotations

import itertools

import pytest

from ch06_data.crawl import CrawlConfig, Crawler
from ch06_data.listing_site import ListingSite, SiteServer
from llmpath_core import UserError


def _check_records(crawler, site):
    got = {r.listing_id: r for r in crawler.records()}
    assert len(got) == len(site.truth) == len(crawler.records())  # nothing lost, nothing twice
    for t in site.valid_truth:
        r = got[t.listing_id]
        assert (r.price, r.rooms, r.address) == (t.price, t.rooms, t.address)
        assert abs(r.area_m2 - t.area_m2) <= 0.6  # square feet round trip


def test_polite_crawl(tmp_path):
    site = ListingSite()
    with SiteServer(site) as srv:
        crawler = Crawler(tmp_path / "s.db", CrawlConfig(rate=8, backoff=0.05))
        report = crawler.crawl(srv.url)
        _check_records(crawler, site)
        log = list(srv.log)
    paths = [p for _, p, _, _ in log]
    assert "/private/admin.html" not in paths and report.disallowed[0].endswith(
        "/private/admin.html"
    )
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(log)]
    # the rate limit, measured by the server: on average at most 8/s, and no burst (the slack
    # is for thread scheduling on a loaded box; without a limit the gaps are milliseconds)
    assert (len(log) - 1) / (log[-1][0] - log[0][0]) <= 8 * 1.05
    assert min(gaps) >= 0.5 / 8
    assert srv.hits["/listings/page-2.html"] == 2 and srv.hits["/listings/page-4.html"] == 3
    # Retry-After: 1 was honoured before the second request for page 2
    t429 = [t for t, p, s, _ in log if p == "/listings/page-2.html"]
    assert t429[1] - t429[0] >= 0.95
    assert srv.hits["/listings/page-3.html"] == 1 and report.redirects == 1
    assert report.quality["valid"] == len(site.valid_truth) and report.quality["invalid"] == 2
    assert all(ua.startswith("llmpath-ch06-bot") for *_, ua in log)


def test_crawl_delay_from_robots(tmp_path):
    with SiteServer(ListingSite(crawl_delay=0.3)) as srv:
        Crawler(tmp_path / "s.db", CrawlConfig(rate=100, max_pages=3)).crawl(srv.url)
        times = [t for t, *_ in srv.log]
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.8 * 0.3


def test_killed_crawl_resumes_without_refetching(tmp_path):
    site = ListingSite()

    class Killed(Exception):
        pass

    done = []

    def kill_after_three(url):
        done.append(url)
        if len(done) == 3:
            raise Killed

    with SiteServer(site) as srv:
        with pytest.raises(Killed):
            Crawler(tmp_path / "s.db", CrawlConfig(rate=50, backoff=0.05)).crawl(
                srv.url, on_page=kill_after_three
            )
        before = dict(srv.hits)
        resumed = Crawler(tmp_path / "s.db", CrawlConfig(rate=50, backoff=0.05))
        resumed.crawl(srv.url)
        _check_records(resumed, site)
        hits = dict(srv.hits)
    assert before["/listings/page-1.html"] == 1
    for page in ("/", "/listings/page-1.html", "/listings/page-3.html", "/listings/page-5.html"):
        assert hits[page] == 1, page  # fetched once across both runs
    # a refresh sends conditional requests: unchanged pages cost a 304 and keep their records
    with SiteServer(site) as srv2:
        c = Crawler(tmp_path / "s2.db", CrawlConfig(rate=50, backoff=0.05))
        c.crawl(srv2.url)
        again = Crawler(tmp_path / "s2.db", CrawlConfig(rate=50)).crawl(srv2.url, refresh=True)
    assert again.not_modified >= 6 and again.records == len(site.truth)


def test_unreachable_start_url(tmp_path):
    with pytest.raises(UserError, match="cannot reach"):
        Crawler(tmp_path / "s.db", CrawlConfig(max_retries=0)).crawl("http://127.0.0.1:9/")
    with pytest.raises(UserError, match="absolute http"):
        Crawler(tmp_path / "s.db").crawl("ftp://example.com/")
