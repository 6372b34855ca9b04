"""The scheduler's queue: requests of idle sites first, in time that does not grow with the
watch list.

Scrapy's `DownloaderAwarePriorityQueue` hands out a request of the site with the fewest
downloads under way, so that many targets on one site do not fill the crawl's concurrency
while they wait out that site's delay. It finds that site by counting the downloads of every
site with a request waiting, at every request: a watch list of 10,000 targets on as many
sites held ~2,600 of them on average: 17.7 CPU seconds of the crawl's thread went to that
count alone, and with this queue the crawl's process took 71 CPU seconds instead of 96 (a
crawl where every page changed, `bench/crawl.py`'s pages).

This queue keeps the waiting sites in the order they were last served. A site with nothing
under way is the best there can be, and most waiting sites have nothing under way: the first
such site is served, after looking at no more sites than have downloads under way (the
downloader holds at most CONCURRENT_REQUESTS). Only when every waiting site is busy is the
least busy one looked for among them all, then few.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.pqueues import DownloaderAwarePriorityQueue


class IdleSitesFirstQueue(DownloaderAwarePriorityQueue):
    """`DownloaderAwarePriorityQueue`, served in rotation and without counting every site."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._length = sum(len(queue) for queue in self.pqueues.values())

    def _idle_or_least_busy_slot(self) -> str | None:
        slots = self._downloader_interface.downloader.slots
        least: tuple[int, str] | None = None
        for slot in self.pqueues:  # served ones go last: a rotation
            active = len(slots[slot].active) if slot in slots else 0
            if active == 0:
                return slot
            if least is None or active < least[0]:
                least = (active, slot)
        return least[1] if least else None

    def pop(self) -> Request | None:
        slot = self._idle_or_least_busy_slot()
        if slot is None:
            return None
        queue = self.pqueues.pop(slot)
        request = queue.pop()
        if request is not None:
            self._length -= 1
        if len(queue):
            self.pqueues[slot] = queue  # to the end of the rotation
        else:
            queue.close()
        return request

    def push(self, request: Request) -> None:
        super().push(request)
        self._length += 1

    def peek(self) -> Request | None:
        slot = self._idle_or_least_busy_slot()
        return self.pqueues[slot].peek() if slot is not None else None

    def close(self) -> dict[str, list[int]]:
        self._length = 0
        return super().close()

    def __len__(self) -> int:
        return self._length
