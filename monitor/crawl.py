"""Start a crawl of the configured targets: the one place `monitor` starts `crawler`.

`policywatch crawl` runs Scrapy in this process with `CrawlerProcess`. Twisted's reactor
cannot be restarted, so a process runs one crawl; callers that need several crawls (the demo,
tests) run `policywatch crawl` as a child process each time.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.config import Config
from monitor.notify import DeliveryResult
from monitor.store import Store, claim_holder
from monitor.watch import CheckResult, normalizing_pool

if TYPE_CHECKING:
    from scrapy.settings import Settings

    from monitor.cluster import ClusterRound


@dataclass(frozen=True)
class CrawlSummary:
    results: tuple[CheckResult, ...]
    deliveries: tuple[DeliveryResult, ...]
    cluster: ClusterRound | None = None  # who did the work, when workers did it

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.result == "failed")


def crawler_settings() -> Settings:
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    return settings


def run_crawl(
    config: Config,
    names: Sequence[str] = (),
    on_result: Callable[[CheckResult], None] | None = None,
) -> CrawlSummary:
    """Crawl the named targets (all when none are named) and deliver pending alerts.

    `on_result` is called with each target's result as soon as it is stored (a progress bar).

    Targets another live crawl is working on (the daemon's, or a second manual one) are
    skipped and reported as such, never crawled twice at once.

    With `[cluster]` configured, workers fetch and normalize the pages and this process
    stores them (`cluster.run_round`); it raises `cluster.ClusterError` when Redis cannot be
    reached or no worker runs.
    """
    targets = config.pick(tuple(names))
    holder = claim_holder()
    with Store(config.store_path) as store:
        claimed = store.claim_targets([t.name for t in targets], holder)
    skipped = tuple(
        CheckResult(t.name, "skipped", error="being crawled by another process")
        for t in targets
        if t.name not in claimed
    )
    if not claimed:
        return CrawlSummary(results=skipped, deliveries=())
    if config.cluster is not None:
        from monitor.cluster import run_round

        try:
            outcome = run_round(config, config.pick(claimed), on_result)
        finally:
            with Store(config.store_path) as store:
                store.release_targets(holder)
        return CrawlSummary(
            results=outcome.results + skipped, deliveries=outcome.deliveries, cluster=outcome.round
        )
    pool = None
    try:
        collect_cycles_less_often()
        # The pool's workers are forked now, before Scrapy loads (no reactor, no thread yet),
        # and find the first pages ready for them. What this process holds by then (modules,
        # the config) is frozen out of the cycle collector first: neither it nor the workers
        # scan those objects again, and a worker's collector does not copy the pages it
        # shares with this process by writing to them. The pipeline shuts the pool down when
        # the spider closes.
        gc.freeze()
        pool = normalizing_pool(started=True)
        keep_large_buffers_apart()  # in this process only: see its docstring
        from scrapy.crawler import CrawlerProcess

        from crawler.spiders.policies import PoliciesSpider

        process = CrawlerProcess(crawler_settings())
        crawler = process.create_crawler(PoliciesSpider)
        process.crawl(crawler, config=config, targets=claimed, progress=on_result, pool=pool)
        process.start()
    finally:
        if pool is not None:
            pool.shutdown()  # a no-op once the pipeline has; else the crawl failed to start
        with Store(config.store_path) as store:
            store.release_targets(holder)
    spider = crawler.spider
    results = tuple(getattr(spider, "results", ()))
    missing = set(claimed) - {r.target for r in results}
    results += tuple(
        CheckResult(name, "failed", error="no response (crawl stopped early)")
        for name in sorted(missing)
    )
    return CrawlSummary(
        results=results + skipped, deliveries=tuple(getattr(spider, "deliveries", ()))
    )


def keep_large_buffers_apart() -> None:
    """Serve every buffer above 128 KB (a page body, its packed copy) from its own mapping,
    given back to the system when freed. glibc raises that threshold once such a buffer is
    freed and then carves them from its heap, which a crawl of large pages fragments: the
    crawl's process, which holds pages and results for a while, grew with every thousand
    pages. Not in the pool's workers, forked before: each reads one page at a time, and a
    fresh mapping (zeroed by the kernel) for every large buffer of every page cost them
    1.0-1.1 s of system time per 1,000 new pages, against 0.4-0.5 s from their heap, for no
    less memory (at 10,000 targets the crawl's peak stayed at 257-263 MB). Linux with glibc
    only; elsewhere, nothing."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 128 * 1024)
    except (OSError, AttributeError):
        pass


_M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h


def collect_cycles_less_often() -> None:
    """Run Python's cycle collector after every 10,000 new objects rather than 700. Twisted
    and Scrapy make a few hundred objects per request, nearly all freed by reference counts:
    at the default, the collector took nearly a fifth of a crawl's own thread (1.5 s of 8 s for
    1,000 new pages; 0.3 s with this). Garbage cycles wait a little longer."""
    gc.set_threshold(10_000, 10, 10)


def result_detail(result: CheckResult) -> str:
    """What a crawl says of one target beside its result: the error or the change, whether it
    alerted, and a rendering hint."""
    detail = result.error or result.summary or ""
    if result.alerted:
        detail += " [alert]"
    if result.hint:
        detail += f"{'; ' if detail else ''}warning: {result.hint}"
    return detail


def summary_table(results: Sequence[CheckResult]) -> str:
    """The end-of-crawl table for a terminal: one row per target, then the count per result,
    both in a fixed order (pages finish in any order)."""
    results = sorted(results, key=lambda r: r.target)
    width = max([len("target"), *(len(r.target) for r in results)])
    rows = [f"{'target':{width}}  {'result':12}  detail", f"{'-' * width}  {'-' * 12}  ------"]
    for result in results:
        rows.append(f"{result.target:{width}}  {result.result:12}  {result_detail(result)}")
    counts: dict[str, int] = {}
    for result in results:
        counts[result.result] = counts.get(result.result, 0) + 1
    rows.append("")
    rows.append(", ".join(f"{counts[name]} {name}" for name in sorted(counts)))
    return "\n".join(rows)
