"""Downloader middlewares: time each fetch from when it reaches the downloader; honour a
server's Retry-After before Scrapy's retry of a 429 or 503; read each site's robots.txt at
most once a day; follow a meta refresh without decoding the whole page."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import HtmlResponse, Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.misc import build_from_crawler
from twisted.internet import reactor
from twisted.internet.task import deferLater

from monitor.store import Store, utcnow

log = logging.getLogger(__name__)

RETRY_AFTER_STATUSES = (429, 503)
# The longest wait a crawl accepts before retrying. A site asking for more is answered in a
# later run: the fetch is recorded as failed with the wait the site asked for.
MAX_RETRY_AFTER_SECONDS = 30.0


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """The wait a Retry-After header asks for (delay-seconds or an HTTP date); None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class FetchClockMiddleware:
    """The first of the chain: a request's fetch starts when it first reaches the downloader
    (the "started" and "started_at" its page is recorded with). A redirect or retry keeps the
    time of the request it follows, as it carries its meta."""

    def process_request(self, request: Request) -> None:
        if "started" not in request.meta:
            request.meta["started"] = time.monotonic()
            request.meta["started_at"] = utcnow()


class RetryAfterMiddleware:
    """Placed after RetryMiddleware (a higher order number), so it sees the response first: it
    waits the asked-for time before Scrapy's retry, or stops the retry when the wait is longer
    than `MAX_RETRY_AFTER_SECONDS` (the site asked us to come back later, not to hammer it)."""

    def __init__(self, max_wait: float, retry_times: int) -> None:
        self.max_wait = max_wait
        self.retry_times = retry_times

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        settings = crawler.settings
        return cls(
            settings.getfloat("RETRY_AFTER_MAX_WAIT", MAX_RETRY_AFTER_SECONDS),
            settings.getint("RETRY_TIMES"),
        )

    async def process_response(self, request: Request, response: Response) -> Response:
        if response.status not in RETRY_AFTER_STATUSES or request.meta.get("dont_retry"):
            return response
        header = response.headers.get("Retry-After")
        wait = retry_after_seconds(header.decode("latin-1") if header else None)
        last_attempt = request.meta.get("retry_times", 0) >= request.meta.get(
            "max_retry_times", self.retry_times
        )
        if wait is None or last_attempt:
            return response
        if wait > self.max_wait:
            request.meta["dont_retry"] = True
            return response
        await maybe_deferred_to_future(deferLater(reactor, wait, lambda: None))
        return response


# How long a site's robots.txt is trusted (RFC 9309, 2.4: a crawler should not use a cached
# copy for more than 24 hours).
ROBOTS_MAX_AGE = timedelta(hours=24)


class CachedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt handling, with each site's file kept in the store for a day: a
    crawl every few minutes over many sites would otherwise fetch every site's robots.txt
    every time (a third of all requests when a site has three targets). Read from the store
    when the crawl opens; the files fetched are saved when it closes, once the pipeline (the
    store's writer during the crawl) is done. A cluster's workers, which have no store, set
    ROBOTSTXT_KEEP_IN_STORE to false and read robots.txt as Scrapy does."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.fetched: dict[str, bytes] = {}
        if crawler.settings.getbool("ROBOTSTXT_KEEP_IN_STORE"):
            crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
            crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    def spider_opened(self) -> None:
        since = (datetime.now(UTC) - ROBOTS_MAX_AGE).isoformat(timespec="seconds")
        with Store(self.crawler.spider.config.store_path) as store:
            files = store.robots_files(since)
        for netloc, body in files.items():
            self._parsers.setdefault(
                netloc, build_from_crawler(self._parserimpl, self.crawler, body)
            )

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        self.fetched[netloc] = response.body
        await super()._parse_robots(response, netloc, request)

    def spider_closed(self) -> None:
        if self.fetched:
            with Store(self.crawler.spider.config.store_path) as store:
                store.save_robots_files(self.fetched, utcnow())


# Scrapy looks for a meta refresh in a page's first 4,096 characters.
META_REFRESH_HEAD = 4096


class HeadMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's meta refresh, read from the head of the page only. Scrapy's decodes the whole
    body to look at its first 4,096 characters, and keeps the decoded copy with the response:
    for a policy of several hundred kilobytes, a share of the crawl's own thread and memory
    for a page this crawler hands on as bytes."""

    def process_response(
        self, request: Request, response: Response, spider: object = None
    ) -> Request | Response:
        if not isinstance(response, HtmlResponse) or len(response.body) <= 4 * META_REFRESH_HEAD:
            return super().process_response(request, response)
        # Up to 4 bytes a character. The head's encoding is read from the head (headers, meta
        # charset, the bytes): asking the response for its own may decode the whole body.
        head_bytes = response.body[: 4 * META_REFRESH_HEAD]
        if b"refresh" not in head_bytes.lower() and b"\x00" not in head_bytes:
            # A refresh is declared by http-equiv="refresh", a word no encoding that keeps
            # ASCII as ASCII (no NUL bytes, unlike UTF-16) can spell otherwise: most pages
            # are ruled out without building and reading a response of their head (half of
            # them have an http-equiv, for their content type).
            return response
        head = response.replace(body=head_bytes, encoding=None)
        followed = super().process_response(request, head)
        return response if followed is head else followed
