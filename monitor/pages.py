"""Read one page for `inspect` and `compare`: a saved file, or a URL fetched once."""

from __future__ import annotations

import mimetypes
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

try:
    VERSION = version("policywatch")
except PackageNotFoundError:  # a checkout that was not installed
    VERSION = "0"

USER_AGENT = f"policywatch/{VERSION} (+https://github.com/policywatch/policywatch)"
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024


class PageError(OSError):
    """The page could not be read; `str()` is a one-line reason."""


@dataclass(frozen=True)
class Page:
    body: bytes
    content_type: str | None
    url: str


def read_page(source: str) -> Page:
    if source.startswith(("http://", "https://")):
        return _fetch(source)
    path = Path(source)
    try:
        body = path.read_bytes()
    except OSError as err:
        raise PageError(err.strerror or str(err)) from None
    content_type, _ = mimetypes.guess_type(path.name)
    return Page(body=body, content_type=content_type, url=path.resolve().as_uri())


def render_page(
    url: str, *, wait_for: str | None = None, timeout: float = DOWNLOAD_TIMEOUT
) -> Page:
    """The page at `url` as Chromium shows it after its scripts ran: fetched by the crawl's own
    spider, settings and scrapy-playwright, without a store. It runs a Scrapy crawl, and
    Twisted's reactor cannot be restarted: call it once per process (`inspect --render`)."""
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from crawler.spiders.policies import PoliciesSpider
    from monitor.config import Config, Target
    from monitor.crawl import crawler_settings
    from monitor.normalize import Selection

    if not url.startswith(("http://", "https://")):
        raise PageError("only an http:// or https:// URL can be rendered")
    target = Target(
        name=url,
        url=url,
        selection=Selection(),
        alert_on="any",
        schedule="1d",
        timeout=timeout,
        render=True,
        wait_for=wait_for,
    )
    config = Config(
        path=Path("inspect"),
        store_path=Path(os.devnull),
        destinations=(),
        alert_on="any",
        schedule="1d",
        targets=(target,),
    )
    settings = crawler_settings()
    settings.set("ITEM_PIPELINES", {})
    settings.set("ROBOTSTXT_KEEP_IN_STORE", False)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(PoliciesSpider)
    fetched: list[Any] = []

    def keep(item: Any) -> None:
        fetched.append(item)

    crawler.signals.connect(keep, signal=signals.item_scraped)
    process.crawl(crawler, config=config)
    process.start()
    if not fetched:
        raise PageError("cannot render: the crawl ended without an answer")
    page = fetched[0]
    if page.error:
        raise PageError(f"cannot render: {page.error}")
    if not 200 <= page.status < 300:
        raise PageError(f"HTTP {page.status}")
    return Page(page.body, page.content_type, page.final_url or url)


def _fetch(url: str) -> Page:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
            body = response.read(DOWNLOAD_MAXSIZE + 1)
            if len(body) > DOWNLOAD_MAXSIZE:
                raise PageError(f"larger than {DOWNLOAD_MAXSIZE} bytes")
            return Page(body, response.headers.get("content-type"), response.geturl())
    except urllib.error.HTTPError as err:
        raise PageError(f"HTTP {err.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise PageError(f"cannot fetch: {reason}") from None
