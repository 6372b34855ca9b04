"""The cluster worker: scrapy-redis's RedisSpider over the `policies` spider's requests.

A worker takes JSON work items from its region's list in Redis (the start-URLs key of
scrapy-redis), builds each target's request with `PoliciesSpider.target_request` (the
target's own selectors, timeout, rendering and validators travel with the item), and hands
back what `watch.observe` made of the page on the round's result stream (monitor/cluster.py).
It keeps no state and never opens the store.

It takes no more items than it has room for (`CONCURRENT_REQUESTS` in flight), so that idle
workers, not busy ones, get the rest of a round. Scrapy's own scheduler holds the requests:
scrapy-redis's shared scheduler would pickle them into Redis, and it adds nothing here, where
one item is one request. On SIGTERM Scrapy finishes the pages in flight, their results are
sent, and the process exits 0; the worker takes nothing new meanwhile.

This module lives outside `crawler.spiders` on purpose: Scrapy imports every spider module
for every crawl, and a single-machine crawl must not need scrapy-redis or redis.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy_redis.spiders import RedisMixin
from twisted.internet.task import LoopingCall

from crawler.spiders.policies import REPEATED_FAILURE_LOGGERS, PoliciesSpider
from monitor.cluster import (
    HEARTBEAT_EVERY,
    WORKER_TTL,
    Keys,
    WorkItem,
    decode_work_item,
    encode_result,
    worker_id,
)
from monitor.config import Config
from monitor.render import find_chromium
from monitor.watch import FetchedPage, observe

log = logging.getLogger("policywatch.worker")

PULL_EVERY = 0.5  # seconds between looks at the queue when there is room for more


class WorkerSpider(RedisMixin, PoliciesSpider):
    name = "policywatch-worker"

    def __init__(self, config: Config, region: str | None = None, **kwargs: Any) -> None:
        # Not PoliciesSpider.__init__: a worker's targets come with the work, not the config
        # (whose `[crawl]` politeness settings it applies all the same).
        scrapy.Spider.__init__(self, **kwargs)
        for name in REPEATED_FAILURE_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        assert config.cluster is not None
        self.config = config
        self.keys = Keys(config.cluster.prefix)
        self.region = region
        self.redis_key = self.keys.queue(region)
        self.worker = worker_id()
        self.targets = ()
        self.validators = {}
        self.chromium = find_chromium()  # renders the targets that ask for it, if installed
        self.renders = 0
        self.slot_delays: dict[str, float] = {}  # per-target download_delay: not applied here
        self.assignments: dict[str, WorkItem] = {}  # target name → the item being worked on
        self.done = 0
        self.loops: list[LoopingCall] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> WorkerSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.setup_redis(crawler)
        crawler.signals.connect(spider.opened, signal=signals.spider_opened)
        return spider

    async def start(self):  # type: ignore[override]
        """No start requests: work comes from Redis (`pull`)."""
        return
        yield

    def opened(self) -> None:
        self.heartbeat()
        for call, every in ((self.pull, PULL_EVERY), (self.heartbeat, HEARTBEAT_EVERY)):
            loop = LoopingCall(call)
            loop.start(every, now=False).addErrback(self._loop_failed)
            self.loops.append(loop)

    def closed(self, reason: str) -> None:
        """Called by Scrapy when the spider closes: stop pulling, withdraw the heartbeat."""
        for loop in self.loops:
            if loop.running:
                loop.stop()
        try:
            self.server.delete(self.keys.worker(self.worker))
        except Exception as err:  # noqa: BLE001 - the key expires anyway
            log.warning("cannot withdraw the heartbeat: %s", err)

    def _loop_failed(self, failure: Any) -> None:
        log.error("worker loop stopped: %s", failure.getErrorMessage())

    def heartbeat(self) -> None:
        """Tell coordinators this worker is alive, for its region (expires on its own)."""
        try:
            value = json.dumps({"region": self.region, "done": self.done})
            self.server.set(self.keys.worker(self.worker), value, ex=WORKER_TTL)
        except Exception as err:  # noqa: BLE001 - Redis down: keep fetching what is in hand
            log.warning("heartbeat failed: %s", err)

    def room(self) -> int:
        return self.crawler.settings.getint("CONCURRENT_REQUESTS") - len(self.assignments)

    def pull(self) -> None:
        engine = self.crawler.engine
        if engine is None or not engine.running:
            return
        try:
            self.schedule_next_requests()
        except Exception as err:  # noqa: BLE001 - Redis down: try again on the next tick
            log.warning("cannot read work from Redis: %s", err)

    def next_requests(self):  # type: ignore[override]
        """RedisMixin's batch read, sized to the room this worker has (never 0: for Redis,
        LRANGE 0 -1 is the whole list)."""
        self.redis_batch_size = self.room()
        if self.redis_batch_size <= 0:
            return
        yield from super().next_requests()

    def make_request_from_data(self, data: bytes) -> list[scrapy.Request]:
        """The request for one work item; a fetch that cannot start (a render without a
        browser) is answered at once."""
        try:
            item = decode_work_item(data, self.keys)
        except (ValueError, TypeError) as err:
            log.error("refused a work item: %s", err)
            return []
        target = item.target
        self.assignments[target.name] = item
        if item.validators is not None:
            self.validators[target.name] = item.validators
        request = self.target_request(target, confirming=item.confirming)
        self.validators.pop(target.name, None)
        if isinstance(request, FetchedPage):
            self.hand_back(request)
            return []
        return [request]

    def hand_back(self, page: FetchedPage) -> None:
        """Observe the page with its target's settings and append the result to its round's
        stream."""
        item = self.assignments.pop(page.target, None)
        if item is None:
            log.error("%s: a page nobody asked this worker for", page.target)
            return
        entry = encode_result(item.round_id, self.worker, observe(page, item.target))
        try:
            # NOMKSTREAM: a round that has ended (its stream deleted) takes nothing more.
            self.server.xadd(item.results, entry, nomkstream=True)
        except Exception as err:  # noqa: BLE001 - the coordinator hands it out again
            log.error("%s: cannot send the result: %s", page.target, err)
            return
        self.done += 1


class ResultPipeline:
    """A worker's only pipeline: every fetched page goes back through Redis."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResultPipeline:
        return cls(crawler)

    def process_item(self, item: FetchedPage) -> FetchedPage:
        self.crawler.spider.hand_back(item)
        return item


@dataclass(frozen=True)
class WorkerOptions:
    config: Config  # with `[cluster]`
    region: str | None = None


def run_worker(options: WorkerOptions) -> int:
    """Run a worker in this process until SIGTERM or SIGINT (the reactor runs once): 0, or
    1 when the worker could not start."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import default_settings

    from monitor.crawl import crawler_settings

    assert options.config.cluster is not None
    settings = crawler_settings()
    settings.set("REDIS_URL", options.config.cluster.redis, priority="cmdline")
    settings.set("REDIS_PARAMS", {"socket_timeout": 10, "socket_connect_timeout": 5}, "cmdline")
    settings.set("MAX_IDLE_TIME_BEFORE_CLOSE", 0, priority="cmdline")  # run until stopped
    settings.set("ITEM_PIPELINES", {"crawler.worker.ResultPipeline": 300}, "cmdline")
    settings.set("ROBOTSTXT_KEEP_IN_STORE", False, priority="cmdline")  # a worker has no store
    # A single machine's crawl downloads 20 MB ahead of its reading, so that a changed page's
    # confirming fetch is due when it is read; a worker gains nothing from it (the coordinator
    # asks for confirmations), it would only hold more pages at once.
    default_ahead = default_settings.SCRAPER_SLOT_MAX_ACTIVE_SIZE
    settings.set("SCRAPER_SLOT_MAX_ACTIVE_SIZE", default_ahead, priority="cmdline")
    process = CrawlerProcess(settings)
    failures: list[Any] = []
    started = process.crawl(WorkerSpider, config=options.config, region=options.region)
    started.addErrback(failures.append)
    process.start()
    for failure in failures:
        log.error("the worker stopped: %s", failure.getErrorMessage())
    return 1 if failures else 0
