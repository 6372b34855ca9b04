"""The one pipeline: hands each FetchedPage to monitor's check, then digests and delivers
the crawl's alerts when the spider closes."""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler

from monitor.notify import deliver_pending, digest_crawl
from monitor.store import Store
from monitor.watch import CheckResult, FetchedPage, check_page

log = logging.getLogger(__name__)


class StorePipeline:
    """Owns the store for the length of a crawl; the spider never touches SQLite."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.store: Store | None = None
        self.results: list[CheckResult] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        spider = self.crawler.spider
        self.store = Store(spider.config.store_path)
        self.targets = {t.name: t for t in spider.targets}
        spider.results = self.results
        spider.validators = self.store.validators()  # read by the spider's first request

    def process_item(self, item: FetchedPage) -> FetchedPage:
        assert self.store is not None
        spider = self.crawler.spider
        config = spider.config
        result = check_page(
            self.store,
            self.targets[item.target],
            item,
            config.destinations,
            failure_threshold=config.failure_threshold,
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
        digest_crawl(self.store, alert_ids, config.notify_urls, config.digest_threshold)
        spider.deliveries = deliver_pending(self.store, config.notify_urls)
        self.store.close()
