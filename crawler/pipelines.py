"""The one pipeline: hands each FetchedPage to monitor's check, then delivers alerts."""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler

from monitor.notify import deliver_pending
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

    def process_item(self, item: FetchedPage) -> FetchedPage:
        assert self.store is not None
        spider = self.crawler.spider
        result = check_page(self.store, self.targets[item.target], item,
                            spider.config.notify_urls)  # fmt: skip
        self.results.append(result)
        if result.error:
            log.warning("%s: %s", item.target, result.error)
        return item

    def close_spider(self) -> None:
        assert self.store is not None
        spider = self.crawler.spider
        spider.deliveries = deliver_pending(self.store, spider.config.notify_urls)
        self.store.close()
