"""The `policies` spider: one request per configured target, one FetchedPage per answer."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from monitor.config import Config, Target, load_config
from monitor.normalize import is_xpath
from monitor.render import MISSING_BROWSER, find_chromium, launch_options
from monitor.store import Validators, utcnow
from monitor.watch import ROBOTS_BLOCKED, FetchedPage, conditional_headers

# A failed fetch is reported once per target, by the crawl summary and the store; Scrapy's own
# tracebacks for the same failure (robots.txt download, retries given up) would only repeat it.
REPEATED_FAILURE_LOGGERS = (
    "scrapy.downloadermiddlewares.robotstxt",
    "scrapy.downloadermiddlewares.retry",
    "scrapy.downloadermiddlewares.httpcompression",
    "scrapy.core.downloader.handlers.http11",
    "scrapy-playwright",
)
# Rendering targets are downloaded by scrapy-playwright, which hands every request without
# meta["playwright"] (robots.txt, targets that do not render) to Scrapy's own handler.
RENDER_DOWNLOAD_HANDLER = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"


class PoliciesSpider(scrapy.Spider):
    name = "policies"

    def __init__(
        self, config: Config | str | None = None, targets: str | list[str] = "", **kwargs: Any
    ) -> None:
        """`config` is a Config or a path (`-a config=PATH`); `targets` names some targets
        (a list, or comma-separated with `-a targets=A,B`)."""
        super().__init__(**kwargs)
        for name in REPEATED_FAILURE_LOGGERS:  # set here: Scrapy's logging setup resets them
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self.config = config if isinstance(config, Config) else load_config(config)
        names = targets.split(",") if isinstance(targets, str) else targets
        self.targets = self.config.pick([n for n in names if n])
        # Set by the pipeline from the store before the first request: ETag and Last-Modified
        # of each target's last trusted fetch, for conditional GETs.
        self.validators: dict[str, Validators] = {}
        self.chromium = find_chromium() if any(t.render for t in self.targets) else None
        self.renders = 0
        self.slot_delays = slot_delays(self.targets)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> PoliciesSpider:
        """Installs scrapy-playwright only for a crawl with a target to render, and only for
        the schemes those targets use (each scheme's handler has a browser of its own): any
        other crawl starts no browser, nor Playwright's driver."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        for name, value in spider.config.crawl.scrapy_settings().items():
            crawler.settings.set(name, value, "spider")
        if spider.slot_delays:
            slots = crawler.settings.getdict("DOWNLOAD_SLOTS")
            for host, delay in spider.slot_delays.items():
                slots[host] = {**slots.get(host, {}), "delay": delay}
            crawler.settings.set("DOWNLOAD_SLOTS", slots, "spider")
        if spider.chromium:
            schemes = {urlsplit(t.url).scheme for t in spider.targets if t.render}
            handlers = dict.fromkeys(schemes & {"http", "https"}, RENDER_DOWNLOAD_HANDLER)
            handlers = crawler.settings.getdict("DOWNLOAD_HANDLERS") | handlers
            crawler.settings.set("DOWNLOAD_HANDLERS", handlers, "spider")
            crawler.settings.set(
                "PLAYWRIGHT_LAUNCH_OPTIONS", launch_options(spider.chromium), "spider"
            )
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request | FetchedPage]:
        for target in self.targets:
            yield self.target_request(target)

    def target_request(
        self, target: Target, *, confirming: bool = False
    ) -> scrapy.Request | FetchedPage:
        """The request for one target with its own settings (a cluster worker builds its
        requests here too, from the targets its work items carry).

        `confirming`: the second fetch of a changed text (`watch.needs_confirmation`), never
        conditional: a 304 would say nothing about what the page shows now."""
        if target.render:
            request = self.render_request(target)
        else:
            validators = None if confirming else self.validators.get(target.name)
            request = scrapy.Request(
                target.url,
                callback=self.fetched,
                errback=self.failed,
                dont_filter=True,
                headers=conditional_headers(target, validators),
                meta={"target": target.name, "download_timeout": target.timeout},
            )
        if isinstance(request, scrapy.Request):
            request.headers.update(request_headers(target))
            request.meta.update(request_meta(target, self.slot_delays))
            request.meta["confirming"] = confirming
        return request

    def fetched(self, response: Response) -> FetchedPage:
        meta = response.meta
        started_at, duration_ms = fetch_clock(meta)
        return FetchedPage(
            target=meta["target"],
            url=response.request.meta.get("redirect_urls", [response.url])[0],
            started_at=started_at,
            final_url=response.url,
            status=response.status,
            headers={
                key.decode("latin-1").lower(): response.headers.get(key).decode("latin-1")
                for key in response.headers
            },
            body=response.body,
            duration_ms=duration_ms,
            confirming=meta.get("confirming", False),
        )

    def render_request(self, target: Target) -> scrapy.Request | FetchedPage:
        """A request that Chromium loads, waiting for network idle or for `wait_for`, in a
        browser context of its own that `rendered` or `render_failed` closes. No conditional
        GET: a page built by scripts can change while its HTML stays the same."""
        if self.chromium is None:
            return FetchedPage(
                target.name, target.url, utcnow(), error=MISSING_BROWSER, duration_ms=0
            )
        from scrapy_playwright.page import PageMethod

        timeout_ms = target.timeout * 1000
        waits = []
        if target.wait_for:
            selector = f"xpath={target.wait_for}" if is_xpath(target.wait_for) else target.wait_for
            waits.append(
                PageMethod("wait_for_selector", selector, state="attached", timeout=timeout_ms)
            )
        self.renders += 1
        meta = {
            "target": target.name,
            "playwright": True,
            "playwright_include_page": True,
            "playwright_context": f"render-{self.renders}",
            "playwright_context_kwargs": {"service_workers": "block"},
            "playwright_page_goto_kwargs": {
                "wait_until": "load" if target.wait_for else "networkidle",
                "timeout": timeout_ms,
            },
            "playwright_page_methods": waits,
        }
        return scrapy.Request(
            target.url,
            callback=self.rendered,
            errback=self.render_failed,
            dont_filter=True,
            meta=meta,
        )

    async def rendered(self, response: Response) -> FetchedPage:
        """The page as Chromium shows it, re-encoded in UTF-8: the DOM is text, and the
        charset the server declared for its HTML may not hold what the scripts added."""
        await _close_browser_context(response.meta)
        page = self.fetched(response)
        if not isinstance(response, TextResponse):
            return page
        mime = (page.content_type or "text/html").split(";")[0].strip()
        headers = page.headers | {"content-type": f"{mime}; charset=utf-8"}
        return dataclasses.replace(page, headers=headers, body=response.text.encode("utf-8"))

    async def render_failed(self, failure: Failure) -> FetchedPage:
        await _close_browser_context(failure.request.meta)  # type: ignore[attr-defined]
        return self.failed(failure)

    def failed(self, failure: Failure) -> FetchedPage:
        request = failure.request  # type: ignore[attr-defined]
        started_at, duration_ms = fetch_clock(request.meta)
        return FetchedPage(
            target=request.meta["target"],
            url=request.url,
            started_at=started_at,
            error=_describe_failure(failure),
            duration_ms=duration_ms,
            confirming=request.meta.get("confirming", False),
        )


def request_headers(target: Target) -> dict[str, str]:
    """A target's own headers, and its User-Agent when it (or `[crawl]`) names one; Scrapy's
    USER_AGENT (policywatch, its version and URL) otherwise."""
    headers = dict(target.headers)
    if target.user_agent:
        headers["User-Agent"] = target.user_agent
    return headers


def request_meta(target: Target, delays: dict[str, float]) -> dict[str, Any]:
    """Scrapy's per-request switches for a target: robots.txt, and a fixed delay on a host
    that a target gave a `download_delay` (AutoThrottle then leaves that host's slot alone)."""
    meta: dict[str, Any] = {}
    if not target.obey_robots:
        meta["dont_obey_robotstxt"] = True
    if urlsplit(target.url).hostname in delays:
        meta["autothrottle_dont_adjust_delay"] = True
    return meta


def slot_delays(targets: Sequence[Target]) -> dict[str, float]:
    """Per host (Scrapy's download slot): the longest `download_delay` of its targets."""
    delays: dict[str, float] = {}
    for target in targets:
        host = urlsplit(target.url).hostname
        if target.download_delay is not None and host:
            delays[host] = max(delays.get(host, 0.0), target.download_delay)
    return delays


async def _close_browser_context(meta: dict[str, Any]) -> None:
    """Close the page's browser context, so that memory stays flat over many renders."""
    from playwright.async_api import Error as PlaywrightError

    page = meta.pop("playwright_page", None)
    if page is not None:
        with contextlib.suppress(PlaywrightError):  # the browser has gone: nothing to close
            await page.context.close()


def fetch_clock(meta: dict[str, Any]) -> tuple[str, int]:
    """When the fetch of a request started (ISO) and how long it has taken (ms): from when
    it reached the downloader (`FetchClockMiddleware`), not from when it was scheduled (a
    watch list of thousands waits minutes in the scheduler); now, if it never got there."""
    started = meta.get("started")
    if started is None:
        return utcnow(), 0
    return meta["started_at"], int((time.monotonic() - started) * 1000)


# What a failed download means, in the words of the store and the crawl summary.
_FAILURE_REASONS = {
    "CannotResolveHostError": "cannot resolve the host name",
    "DNSLookupError": "cannot resolve the host name",
    "DownloadConnectionRefusedError": "connection refused",
    "ConnectionRefusedError": "connection refused",
    "DownloadTimeoutError": "timed out",
    "TimeoutError": "timed out",
    "ResponseDataLossError": "the connection closed before the whole page arrived (truncated)",
    "DownloadCancelledError": "the page is larger than the download size limit",
}


def _describe_failure(failure: Failure) -> str:
    """A one-line reason, without a traceback: what went wrong in plain words, then the
    exception's own message (a redirect loop, a body over the size limit before or after
    decompression)."""
    error = failure.value
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    name = type(error).__name__
    if message == "max redirections reached":
        return "redirect loop: max redirections reached"
    if name == "IgnoreRequest" and "robots.txt" in message:
        return f"{ROBOTS_BLOCKED} (set obey_robots = false on the target to fetch it anyway)"
    if "exceeded DOWNLOAD_MAXSIZE" in message and "decompress" in message:
        return f"the decompressed page is larger than the download size limit ({message})"
    reason = _FAILURE_REASONS.get(name)
    if reason:
        return f"{reason} ({name}: {message})" if message else f"{reason} ({name})"
    return f"{name}: {message}" if message else name
