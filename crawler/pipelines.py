"""The one pipeline: hands each FetchedPage to monitor's check, then groups, digests and
delivers the crawl's alerts when the spider closes.

Pages are normalized in a pool of processes, one per core, off the reactor thread: the crawl
uses every core while the reactor keeps downloading. The store is written from the reactor
thread only (one writer)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from monitor.config import Target
from monitor.notify import deliver_pending, digest_crawl, group_mass_edits
from monitor.store import Store
from monitor.watch import (
    CheckResult,
    FetchedPage,
    Observation,
    held,
    needs_confirmation,
    normalizing_pool,
    observe,
    observe_in_worker,
    observed_again,
    record_and_trust,
    record_confirmed,
    record_identical_body,
)

log = logging.getLogger(__name__)

# Seconds between the crawl's commits (`Store.begin_batch`): a crash loses at most this much
# of the crawl's work, which the next crawl does again.
COMMIT_INTERVAL = 0.25


class StorePipeline:
    """Owns the store for the length of a crawl; the spider never touches SQLite."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.store: Store | None = None
        self.results: list[CheckResult] = []
        # First fetches of changed texts, by target, until their confirming fetch arrives.
        self.unconfirmed: dict[str, Observation] = {}
        self.confirmations_due: set[str] = set()  # targets whose confirmation is under way
        self.kept_open = False  # `keep_open` refused to let the idle crawl close
        self.closing: asyncio.Future[None] | None = None  # `close_if_idle`'s closing
        self.pool: ProcessPoolExecutor | None = None  # created when a page is first read
        # First answers arrived so far (confirming fetches aside), their bytes, and whether
        # `run_ahead_at_the_end` has widened the downloader's run-ahead.
        self.first_answers = 0
        self.first_answer_bytes = 0
        self.widened = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        spider = self.crawler.spider
        self.store = Store(spider.config.store_path)
        self.targets = {t.name: t for t in spider.targets}
        spider.results = self.results
        spider.validators = self.store.validators()  # read by the spider's first request
        self.crawler.signals.connect(self.keep_open, signal=signals.spider_idle)
        self.store.begin_batch()
        self.committer = LoopingCall(self.commit)
        self.committer.start(COMMIT_INTERVAL, now=False)
        # `run_crawl` starts the workers before Scrapy loads (the spider's `pool`); otherwise
        # they start here when a target is new (it will be read in full), or with the first
        # page that needs reading.
        self.pool = getattr(spider, "pool", None)
        if self.pool is None and set(self.targets) - self.store.trusted_targets():
            self.pool = normalizing_pool(started=True)

    async def process_item(self, item: FetchedPage) -> FetchedPage:
        """Record a fetched page. A body identical to the last trusted one is recorded as
        unchanged without being read; a changed text asks the engine for a second,
        unconditional fetch `confirm_delay` after this one, and is recorded only when that
        agrees."""
        arrived = time.monotonic()
        assert self.store is not None
        spider = self.crawler.spider
        config = spider.config
        target = self.targets[item.target]
        first = self.unconfirmed.pop(item.target, None) if item.confirming else None
        result = None
        if not item.confirming:
            self.first_answers += 1
            self.first_answer_bytes += len(item.body)
            self.run_ahead_at_the_end()
            result = record_identical_body(self.store, target, item, config.destinations)
        if result is None:
            again = observed_again(first, item) if first is not None else None
            observation = again or await self.observe(item, target)
            if first is not None:
                result = record_confirmed(
                    self.store, target, first, observation, config.destinations,
                    config.failure_threshold,
                )  # fmt: skip
            elif not item.confirming and needs_confirmation(self.store, target, observation):
                self.unconfirmed[item.target] = held(observation)
                self.confirm_later(target, arrived)
                return item
            else:
                result = record_and_trust(
                    self.store, target, observation, config.destinations,
                    config.failure_threshold,
                )  # fmt: skip
        self.results.append(result.without_change())
        progress = getattr(spider, "progress", None)  # run_crawl's callback, per target
        if progress is not None:
            progress(result)
        if result.error:
            log.warning("%s: %s", item.target, result.error)
        return item

    def run_ahead_at_the_end(self) -> None:
        """Near the end of the crawl, let the downloader take every request left: once the
        targets still to answer would fit (at the mean size of the answers so far) in the
        answers it may hold ahead of reading (`SCRAPER_SLOT_MAX_ACTIVE_SIZE`), that limit is
        doubled. A changed page's confirming fetch is due `confirm_delay` after its first
        answer arrived: held back by the limit, the last pages arrived only as reading made
        room, and the crawl ended waiting out their delays with idle cores. The memory the
        limit bounds grows by as much, in the crawl's last seconds only."""
        if self.widened:
            return
        slot = getattr(self.crawler.engine.scraper, "slot", None)  # Scrapy's, while it runs
        if slot is None:
            return
        left = len(self.targets) - self.first_answers
        if answers_left_fit(
            left, self.first_answers, self.first_answer_bytes, slot.max_active_size
        ):
            slot.max_active_size *= 2
            self.widened = True

    def confirm_later(self, target: Target, arrived: float) -> None:
        """Fetch the page again `confirm_delay` after its first answer `arrived` (monotonic
        time), and record what it shows. Reading the first answer counts towards the delay:
        when reading is what holds a crawl back, the downloader runs seconds ahead of it
        (`SCRAPER_SLOT_MAX_ACTIVE_SIZE`), so a page found changed can often be fetched again
        at once, and the crawl does not end idle, waiting out its last pages' delays.

        The item is done meanwhile (Scrapy stops downloading while the items it holds add up
        to `SCRAPER_SLOT_MAX_ACTIVE_SIZE`), and the confirming request goes straight to the
        downloader, with its middlewares and per-site politeness, not behind every request
        still in the scheduler: the first fetch's observation is held only until then."""
        from twisted.internet import reactor  # the one Scrapy installed

        self.confirmations_due.add(target.name)
        delay = max(0.0, arrived + target.confirm_delay - time.monotonic())
        reactor.callLater(delay, lambda: asyncio.ensure_future(self.confirm(target)))

    async def confirm(self, target: Target) -> None:
        spider = self.crawler.spider
        try:
            request = spider.target_request(target, confirming=True)
            if isinstance(request, FetchedPage):
                page = request
            else:
                try:
                    response = await self.crawler.engine.download_async(request)
                    page = request.callback(response)
                except Exception as error:  # noqa: BLE001 - the spider's errback says what
                    failure = Failure(error)
                    failure.request = request  # type: ignore[attr-defined]
                    page = request.errback(failure)
                if inspect.isawaitable(page):
                    page = await page
            await self.process_item(page)
        except Exception:
            log.exception("%s: the confirming fetch could not be recorded", target.name)
        finally:
            self.confirmations_due.discard(target.name)
            if self.kept_open and not self.confirmations_due:
                self.close_if_idle()

    def keep_open(self) -> None:
        """Scrapy's spider_idle: the crawl is not over while a confirmation is under way."""
        if self.confirmations_due:
            self.kept_open = True
            raise DontCloseSpider

    def close_if_idle(self) -> None:
        """Close the crawl once its last confirmation is recorded, if nothing else is left.
        Scrapy asks `keep_open` again only at its next heartbeat, up to 5 s later: the crawl
        would wait that long with nothing to do."""
        self.kept_open = False
        engine = self.crawler.engine
        if engine.spider is not None and engine.spider_is_idle():  # not already closed
            # Kept: asyncio holds only a weak reference to a task.
            self.closing = asyncio.ensure_future(engine.close_spider_async(reason="finished"))

    async def observe(self, page: FetchedPage, target: Target) -> Observation:
        """`observe` in the pool when there is a body to read; inline otherwise."""
        if page.error is not None or not page.body:
            return observe(page, target)
        if self.pool is None:
            self.pool = normalizing_pool()
        store_path = self.crawler.spider.config.store_path
        work = self.pool.submit(observe_in_worker, page, target, store_path)
        observation = await asyncio.wrap_future(work)
        assert self.store is not None
        if observation.same_region and self.store.trusted_region(target.name) != observation.region:
            # The target's trusted fetch changed since the worker read it: read the page.
            observation = await asyncio.wrap_future(self.pool.submit(observe, page, target))
        return replace(observation, page=page)

    def commit(self) -> None:
        """Commit the writes of the last COMMIT_INTERVAL, and go on batching. Runs on the
        reactor thread, between two pages' writes (each page's `record` is synchronous)."""
        assert self.store is not None
        self.store.commit_batch()
        self.store.begin_batch()

    def close_spider(self) -> None:
        assert self.store is not None
        self.committer.stop()
        self.store.commit_batch()
        if self.pool is not None:
            self.pool.shutdown()
        spider = self.crawler.spider
        config = spider.config
        alert_ids = [r.alert_id for r in self.results if r.alert_id is not None]
        alert_ids = group_mass_edits(self.store, alert_ids, spider.targets, config.notify_urls)
        digest_crawl(self.store, alert_ids, config.notify_urls, config.digest_threshold)
        spider.deliveries = deliver_pending(self.store, config.notify_urls)
        self.store.close()


def answers_left_fit(left: int, answers: int, answer_bytes: int, room: int) -> bool:
    """Whether `left` more answers, at the mean size of the `answers` so far (`answer_bytes`
    in all), would fit in `room` bytes (`StorePipeline.run_ahead_at_the_end`)."""
    return left * answer_bytes <= room * answers
