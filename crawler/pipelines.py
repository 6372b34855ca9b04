"""The one pipeline: hands each FetchedPage to monitor's check, then digests and delivers
the crawl's alerts when the spider closes."""

from __future__ import annotations

import logging

import scrapy
from scrapy.crawler import Crawler
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

from monitor.notify import deliver_pending, digest_crawl, group_mass_edits
from monitor.store import Store
from monitor.watch import (
    CheckResult,
    FetchedPage,
    Observation,
    needs_confirmation,
    observe,
    record,
    record_confirmed,
)

log = logging.getLogger(__name__)


class StorePipeline:
    """Owns the store for the length of a crawl; the spider never touches SQLite."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.store: Store | None = None
        self.results: list[CheckResult] = []
        # First fetches of changed texts, by target, until their confirming fetch arrives.
        self.unconfirmed: dict[str, Observation] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        spider = self.crawler.spider
        self.store = Store(spider.config.store_path)
        self.targets = {t.name: t for t in spider.targets}
        spider.results = self.results
        spider.validators = self.store.validators()  # read by the spider's first request

    async def process_item(self, item: FetchedPage) -> FetchedPage:
        """Record a fetched page; a changed text first waits `confirm_delay` and asks the
        engine for a second, unconditional fetch, and is recorded only when that agrees."""
        assert self.store is not None
        spider = self.crawler.spider
        config = spider.config
        target = self.targets[item.target]
        observation = observe(item, target)
        first = self.unconfirmed.pop(item.target, None) if item.confirming else None
        if first is not None:
            result = record_confirmed(
                self.store, target, first, observation, config.destinations,
                config.failure_threshold,
            )  # fmt: skip
        elif not item.confirming and needs_confirmation(self.store, target, observation):
            from twisted.internet import reactor  # the one Scrapy installed

            self.unconfirmed[item.target] = observation
            await maybe_deferred_to_future(deferLater(reactor, target.confirm_delay, lambda: None))
            request = spider.target_request(target, confirming=True)
            assert isinstance(request, scrapy.Request)
            self.crawler.engine.crawl(request)
            return item
        else:
            result = record(
                self.store, target, observation, config.destinations, config.failure_threshold
            )
        self.results.append(result)
        progress = getattr(spider, "progress", None)  # run_crawl's callback, per target
        if progress is not None:
            progress(result)
        if result.error:
            log.warning("%s: %s", item.target, result.error)
        return item

    def close_spider(self) -> None:
        assert self.store is not None
        spider = self.crawler.spider
        config = spider.config
        alert_ids = [r.alert_id for r in self.results if r.alert_id is not None]
        alert_ids = group_mass_edits(self.store, alert_ids, spider.targets, config.notify_urls)
        digest_crawl(self.store, alert_ids, config.notify_urls, config.digest_threshold)
        spider.deliveries = deliver_pending(self.store, config.notify_urls)
        self.store.close()
