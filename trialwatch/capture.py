"""Capture live pages as test fixtures: one folder per URL, the body exactly as received.

``capture(urls, out_dir=...)`` runs the `capture` spider through the crawl runner (a child
process, with robots.txt, the project's user agent and delays) and writes, per URL::

    <out_dir>/<slug-or-host>_<sha256(url)[:12]>/
        response.<html|json|xml|txt>   the body bytes as Scrapy hands them over (any gzip or
                                       brotli content-encoding undone, nothing else changed)
        meta.json                      url, final_url, status, fetched_at (UTC), headers, ...

Folder and file names come only from a sanitised host name ([a-z0-9.-]) or a source slug and
a hash of the URL: nothing from the page or the rest of the URL ever becomes a path. Any HTTP
response is saved, whatever its status (a 404 page is a fixture too); a URL that gave no
response (robots.txt, a connection error) gets no folder and a warning in the log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Spider

from trialwatch.snapshots import write_atomic
from trialwatch.spiders.components import write_manifest_line
from trialwatch.spiders.site import BaseSiteSpider, host_allowed, validate_url

__all__ = ["CapturePipeline", "body_extension", "capture", "fixture_dir_name"]

log = logging.getLogger(__name__)

_HOST_LABEL_MAX = 63
_BODY_NAMES = {f"response.{ext}" for ext in ("html", "json", "xml", "txt")}


def capture(
    urls: Sequence[str], *, out_dir: Path, settings: Mapping[str, Any] | None = None
) -> list[Path]:
    """Fetch each URL and save it as a fixture folder under `out_dir`; return the folders
    written, in the order of `urls`. Bad URLs raise ValueError before anything is fetched."""
    from trialwatch.spiders.runner import crawl  # the runner imports the spiders; keep it late

    if isinstance(urls, str):
        raise ValueError(f"urls must be a sequence of URLs, not the string {urls!r}")
    checked = list(dict.fromkeys(validate_url(u) for u in urls))
    if not checked:
        raise ValueError("nothing to capture: give at least one URL")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {str(out)!r} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    rows = crawl("capture", data_dir=out, urls=checked, settings=settings)
    written: dict[str, Path] = {}
    for row in rows:
        folder = out / fixture_dir_name(row.requested_url)
        if row.status and (folder / "meta.json").is_file():
            written[row.requested_url] = folder
            if row.outcome != "ok":
                log.warning(
                    "captured %s with HTTP %s: %s", row.requested_url, row.status, row.reason
                )
        else:
            log.warning("nothing captured for %s: %s", row.requested_url, row.reason or row.outcome)
    return [written[u] for u in checked if u in written]


def fixture_dir_name(url: str) -> str:
    """`<slug-or-host>_<first 12 hex of sha256(url)>`; safe as one path component."""
    digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{_label(url)}_{digest}"


def _label(url: str) -> str:
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        host = ""
    slug = _slug_for_host(host)
    if slug:
        return slug
    label = re.sub(r"[^a-z0-9.-]+", "-", host)
    label = re.sub(r"\.{2,}", ".", label)[:_HOST_LABEL_MAX].strip(".-")
    return label or "page"


def _slug_for_host(host: str) -> str | None:
    from trialwatch.spiders.runner import SPIDERS

    for slug, cls in SPIDERS.items():
        if (
            issubclass(cls, BaseSiteSpider)
            and cls.site_hosts
            and host_allowed(host, cls.site_hosts)
        ):
            return slug
    return None


def body_extension(content_type: str | None) -> str:
    """html, json, xml or txt, from a Content-Type header value."""
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime in ("text/html", "application/xhtml+xml"):
        return "html"
    if mime == "application/json" or mime.endswith("+json"):
        return "json"
    if mime in ("application/xml", "text/xml") or mime.endswith("+xml"):
        return "xml"
    return "txt"


def write_fixture(out_dir: Path, item: Mapping[str, Any], body: bytes) -> Path:
    """Write one fixture folder from a capture item; replace an earlier capture of the URL."""
    folder = Path(out_dir) / fixture_dir_name(item["requested_url"])
    folder.mkdir(parents=True, exist_ok=True)
    headers: dict[str, str] = dict(item.get("headers") or {})
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    body_name = f"response.{body_extension(content_type)}"
    for old in folder.iterdir():
        if old.name in _BODY_NAMES and old.name != body_name:
            old.unlink()
    meta = {
        "url": item["requested_url"],
        "final_url": item["url"],
        "status": item["status"],
        "fetched_at": item["fetched_at"],
        "headers": headers,
        "body_file": body_name,
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body_bytes": len(body),
    }
    write_atomic(folder / body_name, body)
    text = json.dumps(meta, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    write_atomic(folder / "meta.json", text.encode("utf-8"))
    return folder


class CapturePipeline:
    """The capture spider's pipeline (in the crawl's child): write the fixture folder under
    the crawl's data_dir, then the manifest line (no snapshot: the body is in the folder)."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)

    @classmethod
    def from_crawler(cls, crawler: Any) -> CapturePipeline:
        return cls(crawler.settings.get("TRIALWATCH_DATA_DIR") or "fixtures")

    def process_item(self, item: dict[str, Any], spider: Spider | None = None) -> dict[str, Any]:
        body = item.pop("body", None)
        if body is not None and item.get("status"):
            write_fixture(self.out_dir, item, body)
        item.pop("headers", None)
        item["snapshot"] = None
        write_manifest_line(item)
        return item
