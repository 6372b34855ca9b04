"""The `policies` spider: one request per configured target, one FetchedPage per answer."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from monitor.config import Config, load_config
from monitor.store import utcnow
from monitor.watch import FetchedPage

# A failed fetch is reported once per target, by the crawl summary and the store; Scrapy's own
# tracebacks for the same failure (robots.txt download, retries given up) would only repeat it.
REPEATED_FAILURE_LOGGERS = (
    "scrapy.downloadermiddlewares.robotstxt",
    "scrapy.downloadermiddlewares.retry",
)


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

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for target in self.targets:
            yield scrapy.Request(
                target.url,
                callback=self.fetched,
                errback=self.failed,
                dont_filter=True,
                meta={
                    "target": target.name,
                    "started": time.monotonic(),
                    "started_at": utcnow(),
                    "handle_httpstatus_all": True,
                },
            )

    def fetched(self, response: Response) -> FetchedPage:
        meta = response.meta
        return FetchedPage(
            target=meta["target"],
            url=response.request.meta.get("redirect_urls", [response.url])[0],
            started_at=meta["started_at"],
            final_url=response.url,
            status=response.status,
            headers={
                key.decode("latin-1").lower(): response.headers.get(key).decode("latin-1")
                for key in response.headers
            },
            body=response.body,
            duration_ms=_elapsed_ms(meta["started"]),
        )

    def failed(self, failure: Failure) -> FetchedPage:
        request = failure.request  # type: ignore[attr-defined]
        return FetchedPage(
            target=request.meta["target"],
            url=request.url,
            started_at=request.meta["started_at"],
            error=_describe_failure(failure),
            duration_ms=_elapsed_ms(request.meta["started"]),
        )


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _describe_failure(failure: Failure) -> str:
    """A one-line reason: the exception's class and message, without a traceback."""
    error = failure.value
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    name = type(error).__name__
    return f"{name}: {message}" if message else name
