"""The page spiders (veeva, centerwatch, clinicaltrialexchange, trialpage), run the way the
program runs them (child process), against loopback replay servers.

The named sites' spiders are pointed at a replay server with `base_url` (each URL's host is
swapped for the mirror's, and the mirror's host becomes the allowed domain); trialpage, whose
allowed domain is each URL's own host, is given 127.0.0.1 / localhost URLs directly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from scrapy import Spider

from trialwatch.demo.replay import ReplayServer
from trialwatch.snapshots import SnapshotStore
from trialwatch.spiders.components import NOTICE, STOP
from trialwatch.spiders.ctgov import USER_AGENT
from trialwatch.spiders.runner import SPIDERS, Fetched, crawl
from trialwatch.spiders.site import BaseSiteSpider, host_allowed, validate_url

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "site_spiders"
FAST = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "RETRY_TIMES": 1,
    "RETRY_BACKOFF_BASE": 0,
}
SITES = {
    "veeva": "https://ctv.veeva.com",
    "centerwatch": "https://www.centerwatch.com",
    "clinicaltrialexchange": "https://www.clinicaltrialexchange.com",
}
PAGE = (FIXTURES / "study_page.html").read_bytes()


def run_site(
    slug: str, tmp_path: Path, paths: list[str], routes: Any = "routes.json"
) -> tuple[list[Fetched], ReplayServer, SnapshotStore]:
    with ReplayServer(FIXTURES, routes) as srv:
        rows = crawl(
            slug,
            data_dir=tmp_path,
            base_url=srv.base_url,
            urls=[SITES[slug] + p for p in paths],
            settings=FAST,
        )
    fetches = [r for r in rows if r.kind not in (NOTICE, STOP)]  # the retries' lines left out
    return fetches, srv, SnapshotStore(tmp_path)


def by_path(rows: list[Fetched]) -> dict[str, Fetched]:
    return {re.sub(r"^https?://[^/]+", "", f.requested_url): f for f in rows}


# -- fetching ------------------------------------------------------------------------------


def test_a_page_is_stored_exactly_and_its_links_are_never_followed(tmp_path: Path) -> None:
    rows, srv, store = run_site("veeva", tmp_path, ["/study/page-with-links"])
    # robots.txt and the page: no link, refresh tag, stylesheet, script, image or frame.
    assert [r.path for r in srv.received] == ["/robots.txt", "/study/page-with-links"]
    assert all(r.headers.get("User-Agent") == USER_AGENT for r in srv.received)
    [f] = rows
    assert (f.outcome, f.status, f.reason) == ("ok", 200, None)
    assert f.url == f.requested_url and f.url.endswith("/study/page-with-links")
    assert f.url.startswith("http://127.0.0.1:")
    assert store.get(f.snapshot) == PAGE
    assert f.fetched_at.utcoffset() is not None and f.fetched_at.utcoffset().total_seconds() == 0


def test_robots_txt_is_obeyed(tmp_path: Path) -> None:
    rows, srv, _ = run_site(
        "clinicaltrialexchange", tmp_path, ["/private/study/NCT05828225", "/study/gone"]
    )
    assert sorted(r.path for r in srv.received) == ["/robots.txt", "/study/gone"]
    blocked = by_path(rows)["/private/study/NCT05828225"]
    assert blocked.outcome == "failed" and blocked.status == 0 and blocked.snapshot is None
    assert "robots.txt" in (blocked.reason or "")
    assert blocked.requested_nct == "NCT05828225"  # the id in the URL is kept


def test_outcomes_404_410_retries_and_on_site_redirects(tmp_path: Path) -> None:
    paths = ["/study/gone", "/study/withdrawn", "/study/moved", "/study/flaky", "/study/broken"]
    rows, srv, store = run_site("centerwatch", tmp_path, paths)
    got = by_path(rows)
    assert set(got) == set(paths)
    for path, status in (("/study/gone", 404), ("/study/withdrawn", 410)):
        assert (got[path].outcome, got[path].status) == ("not_found", status)
        assert (
            got[path].reason
            == f"HTTP {status} {'Not Found' if status == 404 else 'Gone'} after 1 attempt"
        )
    moved = got["/study/moved"]  # same host: followed, the alias kept in requested_url
    assert (moved.outcome, moved.status) == ("ok", 200)
    assert moved.url.endswith("/study/page-with-links") and moved.redirected
    assert store.get(moved.snapshot) == PAGE
    assert (got["/study/flaky"].outcome, got["/study/flaky"].status) == ("ok", 200)
    assert len(srv.requests_to("/study/flaky")) == 2
    broken = got["/study/broken"]
    assert (broken.outcome, broken.status) == ("failed", 500)
    assert broken.reason == "HTTP 500 Internal Server Error after 2 attempts"


def _redirecting_routes(target: str) -> dict[str, Any]:
    return {
        "routes": [
            {
                "path": "/study/moved-away",
                "responses": [{"status": 302, "headers": {"Location": target}}],
            }
        ]
    }


def test_a_redirect_off_the_mirror_host_is_not_followed(tmp_path: Path) -> None:
    with ReplayServer(FIXTURES) as other:
        landing = other.base_url.replace("127.0.0.1", "localhost") + "/study/page-with-links"
        rows, _, store = run_site(
            "veeva", tmp_path, ["/study/moved-away"], _redirecting_routes(landing)
        )
    assert other.received == []
    [f] = rows
    assert (f.outcome, f.status) == ("failed", 302)
    assert "not followed" in (f.reason or "") and landing in (f.reason or "")
    assert f.url == f.requested_url


def test_trialpage_holds_each_url_to_its_own_host(tmp_path: Path) -> None:
    # Both hosts are allowed (both were given), but a redirect from one to the other is not
    # followed: each page is limited to the host it was asked for.
    with ReplayServer(FIXTURES) as other:
        other_base = other.base_url.replace("127.0.0.1", "localhost")
        landing = other_base + "/study/page-with-links"
        with ReplayServer(FIXTURES, _redirecting_routes(landing)) as srv:
            rows = crawl(
                "trialpage",
                data_dir=tmp_path,
                urls=[srv.base_url + "/study/moved-away", other_base + "/study/gone"],
                settings=FAST,
            )
    assert [r.path for r in srv.received] == ["/robots.txt", "/study/moved-away"]
    assert sorted(r.path for r in other.received) == ["/robots.txt", "/study/gone"]
    got = {f.requested_url.rsplit("/", 1)[1]: f for f in rows}
    assert (got["moved-away"].outcome, got["moved-away"].status) == ("failed", 302)
    assert "not followed" in (got["moved-away"].reason or "")
    assert got["gone"].outcome == "not_found"


# -- arguments, checked before any child starts --------------------------------------------


@pytest.mark.parametrize(
    ("slug", "url", "reason"),
    [
        ("veeva", "https://evil.example/study/x", "host 'evil.example' is not ctv.veeva.com"),
        ("veeva", "https://ctv.veeva.com.evil.example/study/x", "is not ctv.veeva.com"),
        ("centerwatch", "https://www.clinicaltrialexchange.com/x", "is not www.centerwatch.com"),
        ("clinicaltrialexchange", "https://ctv.veeva.com/study/x", "is not www.clinicaltrial"),
        ("veeva", "ftp://ctv.veeva.com/study/x", "only http and https"),
        ("trialpage", "file:///etc/passwd", "only http and https"),
        ("trialpage", "javascript:alert(1)", "only http and https"),
        ("veeva", "https://user:hunter2@ctv.veeva.com/study/x", "credentials"),
        ("trialpage", "http://user:hunter2@127.0.0.1/x", "credentials"),
        ("veeva", "https://ctv.veeva.com/study/" + "x" * 2100, "longer than 2048"),
        ("veeva", "https://ctv.veeva.com/study/a b", "whitespace"),
        ("trialpage", "https:///no-host", "no host"),
    ],
)
def test_bad_urls_are_rejected_before_crawling(
    tmp_path: Path, slug: str, url: str, reason: str
) -> None:
    with ReplayServer(FIXTURES) as srv:
        base = None if slug == "trialpage" else srv.base_url
        with pytest.raises(ValueError, match=re.escape(reason)) as err:
            crawl(slug, data_dir=tmp_path, base_url=base, urls=[url], settings=FAST)
    assert srv.received == []
    message = str(err.value)
    assert "\n" not in message and "hunter2" not in message and len(message) < 300


@pytest.mark.parametrize("slug", ["veeva", "centerwatch", "clinicaltrialexchange", "trialpage"])
def test_nct_ids_are_refused_where_the_url_needs_more(tmp_path: Path, slug: str) -> None:
    with pytest.raises(ValueError, match=f"{slug} cannot fetch by NCT id.*pass --url"):
        crawl(slug, data_dir=tmp_path, nct_ids=["NCT05828225"])


def test_nct_ids_make_urls_where_a_site_allows() -> None:
    class ById(BaseSiteSpider):
        name = "byid"
        site_hosts = ("trials.example.org",)
        nct_url_template = "https://trials.example.org/study/{nct_id}"

    spider = ById(nct_ids="NCT05828225,NCT05828225", urls=["https://trials.example.org/p"])
    assert [(t.url, t.nct_id) for t in spider.targets] == [
        ("https://trials.example.org/p", None),
        ("https://trials.example.org/study/NCT05828225", "NCT05828225"),
    ]
    mirrored = ById(nct_ids=["NCT05828225"], base_url="http://127.0.0.1:8080")
    assert [t.url for t in mirrored.targets] == ["http://127.0.0.1:8080/study/NCT05828225"]
    assert mirrored.allowed_domains == ["127.0.0.1"]
    with pytest.raises(ValueError, match="invalid NCT id 'NCT1'"):
        ById(nct_ids=["NCT1"])


def test_other_argument_errors_are_one_line(tmp_path: Path) -> None:
    url = "https://ctv.veeva.com/study/x"
    with pytest.raises(ValueError, match="ctgov does not take urls"):
        crawl("ctgov", data_dir=tmp_path, urls=[url])
    with pytest.raises(ValueError, match="query and updated_since are for ctgov"):
        crawl("veeva", data_dir=tmp_path, urls=[url], query={"query.cond": "asthma"})
    with pytest.raises(ValueError, match="nothing to crawl: give veeva urls"):
        crawl("veeva", data_dir=tmp_path)
    with pytest.raises(ValueError, match="not the string"):
        crawl("veeva", data_dir=tmp_path, urls=url)
    with pytest.raises(ValueError, match="trialpage takes no base_url"):
        crawl("trialpage", data_dir=tmp_path, urls=[url], base_url="http://127.0.0.1:1")
    with pytest.raises(ValueError, match="expected scheme://host"):
        crawl("veeva", data_dir=tmp_path, urls=[url], base_url="http://127.0.0.1:1/sub")


# -- settings and rules --------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["veeva", "centerwatch", "clinicaltrialexchange", "trialpage"])
def test_polite_defaults(slug: str) -> None:
    cls: type[Spider] = SPIDERS[slug]
    assert issubclass(cls, BaseSiteSpider) and cls.name == slug
    s: dict[str, Any] = cls.custom_settings
    assert s["ROBOTSTXT_OBEY"] is True and s["USER_AGENT"] == USER_AGENT
    assert 3.0 <= s["DOWNLOAD_DELAY"] <= 10.0 and s["AUTOTHROTTLE_ENABLED"] is True
    assert s["AUTOTHROTTLE_START_DELAY"] == s["DOWNLOAD_DELAY"]
    assert s["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1
    assert 429 in s["RETRY_HTTP_CODES"] and s["METAREFRESH_ENABLED"] is False


def test_allowed_domains_are_the_site_hosts_or_each_urls_host() -> None:
    cte = SPIDERS["clinicaltrialexchange"](
        urls=[
            "https://clinicaltrialexchange.com/clinical-trials/A-Study/NCT03099603",
            "https://www.clinicaltrialexchange.com/clinical-trials/A-Study/NCT03099603",
        ]
    )
    assert cte.allowed_domains == ["www.clinicaltrialexchange.com", "clinicaltrialexchange.com"]
    assert [t.nct_id for t in cte.targets] == ["NCT03099603", "NCT03099603"]
    page = SPIDERS["trialpage"](urls="https://b.example/x http://a.example:8080/y")
    assert page.allowed_domains == ["a.example", "b.example"]


def test_host_rule_is_the_offsite_middlewares() -> None:
    from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware

    domains = ["www.centerwatch.com", "centerwatch.com"]

    class S(Spider):
        name = "s"
        allowed_domains = domains

    regex = OffsiteMiddleware(None).get_host_regex(S())  # type: ignore[arg-type]
    for host in [
        "centerwatch.com",
        "www.centerwatch.com",
        "a.centerwatch.com",
        "evilcenterwatch.com",
        "centerwatch.com.evil.example",
        "",
    ]:
        assert host_allowed(host, domains) == bool(regex.search(host)), host


def test_validate_url_keeps_good_urls() -> None:
    url = "https://www.clinicaltrialexchange.com/clinical-trials/A-Study-of-X/NCT03099603"
    assert validate_url(f"  {url}\n", ["clinicaltrialexchange.com"]) == url
    assert validate_url("http://127.0.0.1:8080/p?q=1") == "http://127.0.0.1:8080/p?q=1"


def test_fixture_sources_say_the_pages_are_constructed() -> None:
    text = (FIXTURES / "SOURCES.md").read_text("utf-8")
    assert "constructed test pages, not any site's markup" in " ".join(text.split())
    assert json.loads((FIXTURES / "routes.json").read_text("utf-8"))["routes"]
