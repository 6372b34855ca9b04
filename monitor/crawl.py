"""Start a crawl of the configured targets: the one place `monitor` starts `crawler`.

`policywatch crawl` runs Scrapy in this process with `CrawlerProcess`. Twisted's reactor
cannot be restarted, so a process runs one crawl; callers that need several crawls (the demo,
tests) run `policywatch crawl` as a child process each time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from monitor.config import Config
from monitor.notify import DeliveryResult
from monitor.watch import CheckResult


@dataclass(frozen=True)
class CrawlSummary:
    results: tuple[CheckResult, ...]
    deliveries: tuple[DeliveryResult, ...]

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.result == "failed")


def crawler_settings() -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    return settings


def run_crawl(config: Config, names: Sequence[str] = ()) -> CrawlSummary:
    """Crawl the named targets (all when none are named) and deliver pending alerts."""
    from crawler.spiders.policies import PoliciesSpider

    targets = config.pick(tuple(names))
    process = CrawlerProcess(crawler_settings())
    crawler = process.create_crawler(PoliciesSpider)
    process.crawl(crawler, config=config, targets=[t.name for t in targets])
    process.start()
    spider = crawler.spider
    results = tuple(getattr(spider, "results", ()))
    missing = {t.name for t in targets} - {r.target for r in results}
    results += tuple(
        CheckResult(name, "failed", error="no response (crawl stopped early)")
        for name in sorted(missing)
    )
    return CrawlSummary(results=results, deliveries=tuple(getattr(spider, "deliveries", ())))
