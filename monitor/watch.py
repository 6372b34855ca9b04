"""One fetched page in, one result out: normalize, compare with the last version, record, alert.

This is the single code path behind a crawl, the Scrapy pipeline and (later) the daemon and a
cluster's coordinator. Everything a check writes — the fetch, the new version, the change and
its alert — lands in one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.config import DEFAULT_FAILURE_THRESHOLD, Destination, Target
from monitor.diff import Change, compare
from monitor.document import Document
from monitor.normalize import ExtractionError, normalize
from monitor.notify import change_alert, note_failure, note_success, queue_alert, routed_urls
from monitor.store import FetchRecord, Store


@dataclass(frozen=True)
class FetchedPage:
    """What the crawler hands on: a response, or the reason there is none."""

    target: str
    url: str
    started_at: str
    final_url: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    duration_ms: int | None = None

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


@dataclass(frozen=True)
class CheckResult:
    target: str
    result: str  # "baseline" | "unchanged" | "changed" | "failed"
    error: str | None = None
    change: Change | None = None
    alerted: bool = False
    alert_id: int | None = None  # the change alert queued, if any


def should_alert(change: Change, alert_on: str) -> bool:
    """`material`: material changes and stated-date changes; `any`: every text change."""
    if alert_on == "any":
        return change.changed
    return change.material or change.date_changed is not None


def check_page(
    store: Store,
    target: Target,
    page: FetchedPage,
    destinations: Sequence[Destination | str],
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
) -> CheckResult:
    """`destinations`: the configured notification URLs (with their tags); the alert goes to
    those routed to the target. A failure, and the first success after one, may also queue an
    operational alert (see `notify.note_failure`)."""
    error = page.error or _http_error(page)
    error_kind: str | None = None
    document: Document | None = None
    if error is None:
        try:
            document = normalize(
                page.body,
                content_type=page.content_type,
                url=page.final_url or page.url,
                selection=target.selection,
                default_day_first=target.day_first,
            )
        except ExtractionError as err:
            error, error_kind = str(err), err.kind
    record = FetchRecord(
        target=target.name,
        url=page.url,
        started_at=page.started_at,
        final_url=page.final_url,
        status=page.status,
        error=error,
        duration_ms=page.duration_ms,
        body_hash=hashlib.sha256(page.body).hexdigest() if page.body else None,
        content_type=page.content_type,
    )
    if document is None:
        with store.transaction():
            store.record_fetch(record, "failed")
            note_failure(
                store,
                target,
                destinations,
                error=error,
                kind=error_kind,
                failure_threshold=failure_threshold,
                at=page.started_at,
            )
        return CheckResult(target.name, "failed", error=error)

    previous = store.latest_version(target.name)
    if previous is not None and previous.fingerprint == document.fingerprint:
        with store.transaction():
            store.record_fetch(record, "unchanged")
            note_success(store, target, destinations, page.started_at)
        return CheckResult(target.name, "unchanged")

    with store.transaction():
        if previous is None:
            fetch_id = store.record_fetch(record, "baseline")
            store.add_version(target.name, fetch_id, page.started_at, document)
            note_success(store, target, destinations, page.started_at)
            return CheckResult(target.name, "baseline")
        fetch_id = store.record_fetch(record, "changed")
        note_success(store, target, destinations, page.started_at)
        version_id = store.add_version(target.name, fetch_id, page.started_at, document)
        change = compare(previous.document, document)
        change_id = store.add_change(
            target.name, previous.id, version_id, page.started_at, change.to_dict()
        )
        alerted = should_alert(change, target.alert_on)
        alert_id = None
        if alerted:
            message = change_alert(target.name, target.url, change, page.started_at)
            urls = routed_urls(target, destinations)
            alert_id = queue_alert(store, message, urls, target=target.name, change_id=change_id)
    return CheckResult(target.name, "changed", change=change, alerted=alerted, alert_id=alert_id)


def _http_error(page: FetchedPage) -> str | None:
    if page.status is not None and not 200 <= page.status < 300:
        return f"HTTP {page.status}"
    return None
