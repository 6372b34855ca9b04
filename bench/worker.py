"""CPU per page of a crawl's pool worker, and of the crawl's thread for what comes back.

The corpus's snapshot pairs, as bench/crawl.py serves them (target i is pair i, cycled;
pairs touching a snapshot where the selector no longer matches are left out), go through
two crawls of one store, in one process and without Scrapy or a pool:

1. all new         — every target's first snapshot;
2. all changed     — every target's second snapshot (no confirming fetch).

For each crawl it prints, in CPU milliseconds per page (`time.process_time`, the median of
`--repeat` runs, each on a fresh store), what a pool worker does (`observe_with_store`, then
pickling the observation it returns) and what the crawl's thread does with it (unpickling,
`record_and_trust` inside a batch), and, from a separate pass over the same pages, the
worker's stages: parsing, the region key, the store's reads, normalizing, `Store.prepare`.
Last, `observe_with_store`'s CPU per page of each kind the crawl found: a selected region
unchanged (not normalized), a new text, the same text from a changed region, a first text.

    python bench/worker.py [--targets 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from crawl import corpus_sites, site_addresses

from monitor.config import Target
from monitor.normalize import Selection
from monitor.store import Store
from monitor.watch import (
    FetchedPage,
    Observation,
    observe,
    observe_with_store,
    page_reading,
    page_region,
    record_and_trust,
)

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "policy-corpus"
CRAWLS = ("all new", "all changed")


def targets(count: int) -> list[tuple[Target, bytes, bytes]]:
    """(target, first body, second body) per target, as bench/crawl.py pairs them."""
    chosen = []
    for index, site in enumerate(corpus_sites(CORPUS, count, site_addresses(count))):
        target = Target(
            name=f"t{index}",
            url=f"http://127.0.0.1/p{index}",
            selection=Selection.from_config(site.select, site.remove),
            alert_on="material",
            schedule="1d",
            confirm_changes=False,
        )
        chosen.append((target, site.before.read_bytes(), site.after.read_bytes()))
    return chosen


def fetched(target: Target, body: bytes) -> FetchedPage:
    return FetchedPage(
        target=target.name,
        url=target.url,
        started_at="2026-01-01T00:00:00+00:00",
        final_url=target.url,
        status=200,
        headers={"content-type": "text/html; charset=utf-8"},
        body=body,
    )


class Clock:
    """CPU seconds per named stage, and per kind of page (`kind_spent`, `kind_pages`)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.kind_spent: dict[str, float] = defaultdict(float)
        self.kind_pages: dict[str, int] = defaultdict(int)

    def __call__(self, name: str, work: Callable[..., Any], *args: Any) -> Any:
        start = time.process_time()
        result = work(*args)
        self.spent[name] += time.process_time() - start
        return result


def stages(clock: Clock, target: Target, page: FetchedPage, reader: Store) -> None:
    """The worker's stages, one by one, as `observe_with_store` runs them for a new region."""
    reading = page_reading(target, page)
    clock("  parse", reading._parsed_html)
    clock("  region key", page_region, target, page, reading)
    clock("  store reads", reader.trusted_region, target.name)
    observation = clock("  normalize", observe, page, target, reading)
    document = observation.document
    if document is None:
        return
    newest = clock("  store reads", reader.latest_fingerprint, target.name)
    new_text = newest != document.fingerprint
    clock("  prepare", reader.prepare, target.name, page.body, document if new_text else None)
    if newest is not None and new_text:
        clock("  store reads", reader.latest_version, target.name)


def crawl_pages(clock: Clock, chosen: list, which: int, store: Store, reader: Store) -> None:
    for target, *bodies in chosen:
        stages(clock, target, fetched(target, bodies[which]), reader)
    for target, *bodies in chosen:
        page = fetched(target, bodies[which])
        start = time.process_time()
        observation = clock("worker", observe_with_store, page, target, reader)
        kind = page_kind(observation)
        clock.kind_spent[kind] += time.process_time() - start
        clock.kind_pages[kind] += 1
        returned = replace(observation, page=replace(page, body=b""))
        payload = clock("worker", pickle.dumps, returned, pickle.HIGHEST_PROTOCOL)
        clock.spent["  pickle kB (not ms)"] += len(payload) / 1e6
        received = clock("crawl thread", pickle.loads, payload)
        clock("crawl thread", record_and_trust, store, target, replace(received, page=page), [])
    store.commit_batch()
    store.begin_batch()


def page_kind(observation: Observation) -> str:
    """What a page turned out to be, as the worker's cost depends on it."""
    if observation.same_region:
        return "region unchanged"
    if observation.document is None:
        return "not read"
    if observation.prepared is None or observation.prepared.document is None:
        return "same text, new region"
    return "first text" if observation.comparison is None else "new text"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    chosen = targets(args.targets)
    runs: list[list[dict[str, float]]] = [[] for _ in CRAWLS]
    kinds: list[list[Clock]] = [[] for _ in CRAWLS]
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "store.db"
            store = Store(path)
            store.begin_batch()
            reader = Store(path, read_only=True)
            for which in range(len(CRAWLS)):
                clock = Clock()
                crawl_pages(clock, chosen, which, store, reader)
                runs[which].append(dict(clock.spent))
                kinds[which].append(clock)
            reader.close()
            store.close()
    for name, spent in zip(CRAWLS, runs, strict=True):
        print(f"{name}: CPU ms per page, median of {args.repeat} ({len(chosen)} pages)")
        for stage in spent[0]:
            value = statistics.median(run.get(stage, 0.0) for run in spent)
            print(f"  {stage:24} {value * 1000 / len(chosen):8.3f}")
    for name, clocks in zip(CRAWLS, kinds, strict=True):
        print(f"{name}: observe_with_store, CPU ms per page of each kind, median of {args.repeat}")
        for kind, pages in clocks[0].kind_pages.items():
            value = statistics.median(clock.kind_spent[kind] / pages for clock in clocks)
            print(f"  {kind:24} {value * 1000:8.3f}  ({pages} pages)")


if __name__ == "__main__":
    main()
