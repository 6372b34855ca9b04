"""One fetched page in, one result out: normalize, compare with the last version, record, alert.

This is the single code path behind a crawl, the Scrapy pipeline and (later) the daemon and a
cluster's coordinator. Everything a check writes — the fetch, the new version, the change and
its alert — lands in one transaction.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from monitor.collapse import redirect_problem, suspicion, truncated
from monitor.config import DEFAULT_FAILURE_THRESHOLD, Destination, Target
from monitor.diff import Change, compare
from monitor.document import Document
from monitor.normalize import ExtractionError, PageReading
from monitor.notify import (
    AlertMessage,
    change_alert,
    change_alert_body,
    note_failure,
    note_success,
    queue_alert,
    routed_urls,
)
from monitor.render import short_page_hint, with_rendering_hint
from monitor.store import FetchRecord, Prepared, RecentText, Store, Validators, change_detail

NOT_MODIFIED = 304
# Results after which the fetched body's document is the target's newest version.
TRUSTED_RESULTS = ("baseline", "unchanged", "changed", "returned", "flapping")
ROBOTS_BLOCKED = "blocked by robots.txt"  # how a fetch robots.txt forbids is reported


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
    confirming: bool = False  # the second fetch of a changed text (`needs_confirmation`)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


@dataclass(frozen=True)
class CheckResult:
    target: str
    # "baseline" | "unchanged" | "changed" | "not-modified" | "suspect" | "failed", or
    # "returned" / "flapping" (back to a recent text) | "transient" (not confirmed)
    result: str
    error: str | None = None
    change: Change | None = None
    alerted: bool = False
    alert_id: int | None = None  # the change alert queued, if any
    hint: str | None = None  # the page probably needs rendering (monitor/render.py)
    summary: str | None = None  # the change's one line; set from `change` when not given

    def __post_init__(self) -> None:
        if self.change is not None and self.summary is None:
            object.__setattr__(self, "summary", self.change.summary)

    def without_change(self) -> CheckResult:
        """The result as a crawl keeps it for its summary: a change's full redline can be
        large, and a crawl of many targets would hold every one until it ends."""
        return replace(self, change=None)


def should_alert(change: Change, alert_on: str) -> bool:
    """`material`: material changes and stated-date changes; `any`: every text change."""
    if alert_on == "any":
        return change.changed
    return change.material or change.date_changed is not None


def validator_key(target: Target) -> str:
    """The settings a page's validators are valid for: a new URL or selection means a full
    fetch, since an unchanged page may now give a different document."""
    settings = f"{target.url}\n{target.selection!r}\n{target.day_first!r}"
    return hashlib.sha256(settings.encode("utf-8")).hexdigest()[:16]


def page_validators(target: Target, page: FetchedPage) -> Validators | None:
    """The ETag and Last-Modified a trusted answer came with, or None when it has neither."""
    etag, last_modified = page.headers.get("etag"), page.headers.get("last-modified")
    if not etag and not last_modified:
        return None
    return Validators(etag=etag, last_modified=last_modified, key=validator_key(target))


def conditional_headers(target: Target, validators: Validators | None) -> dict[str, str]:
    """If-None-Match / If-Modified-Since for a target's next fetch, when its validators were
    saved under its current settings."""
    if validators is None or validators.key != validator_key(target):
        return {}
    headers = {}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


@dataclass(frozen=True)
class Comparison:
    """An observed text against the target's newest version, worked out ahead of `record`
    (`prepare_record`, in a pool worker): valid while `previous_id` is still the newest."""

    previous_id: int
    suspicion: str | None  # collapse.suspicion of the new text against the previous one
    change: Change
    # Worked out ahead, as most of what recording a change costs the crawl's thread: the
    # Markdown body of its alert, when it alerts (`change_alert_body`), and its row's detail
    # (`store.change_detail`).
    alert_body: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Observation:
    """A fetched page, read: everything a check needs that does not need the store.

    `observe` is pure, so it can run wherever the page was fetched (a process pool, a
    worker on another machine); `record` is the one writer of what it means.
    """

    page: FetchedPage
    document: Document | None = None
    error: str | None = None
    error_kind: str | None = None
    hint: str | None = None  # the page probably needs rendering (monitor/render.py)
    truncation: str | None = None  # why the body looks cut short, if it does
    comparison: Comparison | None = None  # set by `prepare_record`
    prepared: Prepared | None = None  # set by `prepare_record`
    region: str | None = None  # the page's region key (`page_region`), when it has one
    # The region is the target's last trusted one (`observe_with_store`): the text is the
    # newest version's, and the page was not normalized.
    same_region: bool = False

    @property
    def not_modified(self) -> bool:
        return self.page.error is None and self.page.status == NOT_MODIFIED

    def comparison_with(self, previous_id: int) -> Comparison | None:
        """The comparison worked out ahead, if it was against version `previous_id`."""
        comparison = self.comparison
        return comparison if comparison and comparison.previous_id == previous_id else None


def observe(page: FetchedPage, target: Target, reading: PageReading | None = None) -> Observation:
    """Normalize a fetched page with its target's settings, or say why it cannot be used;
    `reading` is the page's `page_reading`, when the caller has already read it."""
    if page.error is None and page.status == NOT_MODIFIED:
        return Observation(page)
    error = page.error or _http_error(page)
    if error:
        kind = "robots" if error.startswith(ROBOTS_BLOCKED) else None
        return Observation(page, error=error, error_kind=kind)
    error = redirect_problem(page.url, page.final_url)
    if error:
        return Observation(page, error=error, error_kind="redirected")
    if reading is None:
        reading = page_reading(target, page)
    try:
        document = reading.document(default_day_first=target.day_first)
    except ExtractionError as err:
        error = str(err)
        if not target.render and err.kind in ("empty", "selector-miss"):
            error = with_rendering_hint(error, page.body, page.content_type)
        return Observation(page, error=error, error_kind=err.kind)
    # Computed where observe runs (cached on the document), they travel with it.
    document.fingerprint  # noqa: B018
    document.word_count  # noqa: B018
    return Observation(
        page,
        document=document,
        hint=None if target.render else short_page_hint(document, page.body, page.content_type),
        truncation=truncated(page.body, reading.kind),
    )


def prepare_record(observation: Observation, target: Target, reader: Store) -> Observation:
    """The observation with the costly part of `record` done ahead, reading the store as it
    is now: the body and, for a new text, the version packed (`Store.prepare`), and the
    comparison with the target's newest version. A crawl's pool workers call it, so that the
    one writer, on the reactor thread, only writes; `record` checks that what was read is
    still current and works out anything that is not.

    A confirming fetch (`needs_confirmation`) is not compared: its first fetch was."""
    document, page = observation.document, observation.page
    if document is None:
        return observation
    newest = reader.latest_fingerprint(target.name)
    new_text = newest != document.fingerprint
    prepared = reader.prepare(
        target.name, page.body, document if new_text else None, _body_hash(page)
    )
    comparison = None
    compared = newest is not None and new_text and not page.confirming
    previous = reader.latest_version(target.name) if compared else None
    if previous is not None and previous.fingerprint != document.fingerprint:
        change = compare(previous.document, document)
        alerts = should_alert(change, target.alert_on)
        comparison = Comparison(
            previous_id=previous.id,
            suspicion=suspicion(previous.document, document),
            change=change,
            alert_body=change_alert_body(target.name, target.url, change) if alerts else None,
            detail=change_detail(change.to_dict()),
        )
    return replace(observation, prepared=prepared, comparison=comparison)


def page_reading(target: Target, page: FetchedPage) -> PageReading:
    """The page as its target reads it: at its final URL, with its selection."""
    url = page.final_url or page.url
    return PageReading(
        page.body, content_type=page.content_type, url=url, selection=target.selection
    )


def page_region(target: Target, page: FetchedPage, reading: PageReading) -> str | None:
    """The key of what the target's selectors choose on the page (`PageReading.region_key`
    of its `page_reading`) under its settings; None for a failed fetch or when the page has
    no such key."""
    if page.error is not None or page.status is None or _http_error(page) or not page.body:
        return None
    if redirect_problem(page.url, page.final_url):
        return None
    key = reading.region_key()
    return key and hashlib.sha256(f"{validator_key(target)}\n{key}".encode()).hexdigest()


def observe_with_store(page: FetchedPage, target: Target, reader: Store) -> Observation:
    """`observe` and `prepare_record`, reading the store beside its writer (a crawl's pool
    worker): a page whose selected region is the one of the target's last trusted fetch is
    not normalized at all (`same_region`; `record` then checks that fetch is still the
    last trusted one)."""
    reading = page_reading(target, page)
    region = page_region(target, page, reading)
    if region is not None and region == reader.trusted_region(target.name):
        prepared = reader.prepare(target.name, page.body, None, _body_hash(page))
        return Observation(page, region=region, same_region=True, prepared=prepared)
    observation = replace(observe(page, target, reading), region=region)
    return prepare_record(observation, target, reader)


def observe_in_worker(page: FetchedPage, target: Target, store_path: Path) -> Observation:
    """`observe_with_store` in a crawl's pool worker, reading the store beside the crawl (one
    read-only connection per worker and store): the crawl's thread is left with writing. The
    observation comes back without the page's body, which the crawl already has (a policy
    page is often several hundred kilobytes)."""
    reader = _readers.get(store_path)
    if reader is None:
        reader = _readers[store_path] = Store(store_path, read_only=True)
    observation = observe_with_store(page, target, reader)
    return replace(observation, page=replace(page, body=b""))


_readers: dict[Path, Store] = {}  # a pool worker's read-only connection, per store


# How much lower a pool worker's priority is than its crawl's (`os.nice`). The crawl's thread
# is the one that waits on the clock: it sends the requests, reads the answers as they come,
# and fetches changed pages again when their confirmation falls due; the workers' reading
# can wait a moment. At equal priority, two workers reading on two cores left that thread a
# third of the machine: answers waited to be read off their sockets, the downloader kept
# fewer pages ahead of reading, and a crawl where every page changed ended waiting for the
# confirmations of its last pages. A niceness changes who goes first, not how much is done:
# the workers still have every core the crawl's thread does not use.
READING_NICENESS = 10


def start_pool_worker(crawl_pid: int) -> None:
    """A pool worker's initializer: below its crawl's priority (`READING_NICENESS`), and
    ending with the crawl (`exit_with`)."""
    os.nice(READING_NICENESS)
    exit_with(crawl_pid)


def exit_with(crawl_pid: int) -> None:
    """End this pool worker once the crawl is gone. A crawl killed outright (SIGKILL, the
    kernel's out-of-memory killer) cannot shut its pool down, and a worker waiting for work
    would wait forever (it holds the write end of its own task queue), and keep a fork
    server alive with it."""

    def watch() -> None:
        while True:
            time.sleep(1)
            try:
                os.kill(crawl_pid, 0)
            except ProcessLookupError:
                os._exit(0)

    threading.Thread(target=watch, name="exit-with-crawl", daemon=True).start()


def normalizing_pool(started: bool = False) -> ProcessPoolExecutor:
    """A crawl's pool for `observe_in_worker`: one worker per core, each below the crawl's
    priority (`start_pool_worker`).

    On Linux, a process that runs no other thread (`run_crawl`, before it loads Scrapy)
    forks its workers, all at once: they start with what it has imported, instead of
    importing `monitor.watch` again each (about 0.3 s of CPU per worker, every crawl).
    Otherwise (a pool started inside a running crawl; macOS, whose system libraries may run
    threads of their own) a fork server starts them, as forking a process that runs threads
    can leave a lock held for good in the child: they do not inherit the reactor's threads
    and sockets, nor its memory, and import `monitor.watch` only (not Scrapy), when their
    first task arrives, or now if `started`."""
    forking = sys.platform == "linux" and threading.active_count() == 1
    context = multiprocessing.get_context("fork" if forking else "forkserver")
    workers = os.cpu_count() or 1
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=start_pool_worker,
        initargs=(os.getpid(),),
    )
    _widen_pipes(pool)
    for _ in range(workers if started else 0):
        pool.submit(os.getpid)  # forked: all start with the first; else one per task
    return pool


# Bytes a pool's pipes hold (Linux: at most /proc/sys/fs/pipe-max-size, 1 MiB by default).
POOL_PIPE_SIZE = 1 << 20


def _widen_pipes(pool: ProcessPoolExecutor) -> None:
    """Let the pipes that carry a pool's pages and results hold a whole page. A page (often a
    few hundred kilobytes) and its observation went through Linux's default 64 KiB pipe in
    pieces, each piece a wakeup of the other side: on a crawl of 1,000 corpus pages where
    every page changed, 8 runs each, alternately, 22.0 against 23.6 CPU seconds. Best effort:
    where pipes cannot be sized (another system, a lower limit, a Python whose pool keeps them
    elsewhere) they stay as they are."""
    try:
        import fcntl

        for queue in (pool._call_queue, pool._result_queue):  # type: ignore[attr-defined]
            fcntl.fcntl(queue._reader.fileno(), fcntl.F_SETPIPE_SZ, POOL_PIPE_SIZE)
    except (ImportError, AttributeError, OSError):
        pass


def check_page(
    store: Store,
    target: Target,
    page: FetchedPage,
    destinations: Sequence[Destination | str],
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
) -> CheckResult:
    """Observe and record one fetched page (see `observe` and `record`); a body identical
    to the last trusted one is recorded as unchanged without being read again."""
    return record_identical_body(store, target, page, destinations) or record_and_trust(
        store, target, observe(page, target), destinations, failure_threshold
    )


def body_key(target: Target, page: FetchedPage, prepared: Prepared | None = None) -> str:
    """What decides the document a body gives: its bytes (by their hash, `_body_hash`), its
    content type, the URL it came from, and the target's URL and extraction settings."""
    digest = hashlib.sha256()
    parts = (validator_key(target), page.content_type or "", page.final_url or page.url)
    for part in (*parts, _body_hash(page, prepared) or ""):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()


def record_identical_body(
    store: Store, target: Target, page: FetchedPage, destinations: Sequence[Destination | str]
) -> CheckResult | None:
    """Record a fetch as "unchanged" when its body is byte for byte the body of the target's
    last trusted fetch, whose version is still the newest: the same bytes under the same
    settings give the same document, so the page is not normalized again. None otherwise."""
    if page.error is not None or _http_error(page) or page.status is None or not page.body:
        return None
    trusted = store.trusted_body(target.name)
    if trusted is None or trusted != body_key(target, page):  # no trusted body: no hashing
        return None
    return _record_unchanged(store, target, page, _fetch_record(target, page, None), destinations)


def record_and_trust(
    store: Store,
    target: Target,
    observation: Observation,
    destinations: Sequence[Destination | str],
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
) -> CheckResult:
    """`record`, and, in the same transaction, remember the body of a fetch whose document
    is now the target's newest version (see `record_identical_body`)."""
    page = observation.page
    with store.transaction():
        result = record(store, target, observation, destinations, failure_threshold)
        if result.result in TRUSTED_RESULTS and page.body:
            version_id = store.latest_version_id(target.name)
            key = body_key(target, page, observation.prepared)
            store.save_trusted_body(target.name, key, version_id, observation.region)
    return result


def record(
    store: Store,
    target: Target,
    observation: Observation,
    destinations: Sequence[Destination | str],
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
) -> CheckResult:
    """Store what an observation means: a failed, unchanged or suspect fetch, a baseline, or a
    new version with its change and alert, each in one transaction.

    `destinations`: the configured notification URLs (with their tags); the alert goes to
    those routed to the target. A failure, and the first success after one, may also queue an
    operational alert (see `notify.note_failure`).

    A 304 answer to a conditional GET is recorded as a "not-modified" fetch, without parsing.
    The body of every 2xx answer is kept (packed, once per distinct body) so that history can
    be normalized again later (`policywatch reprocess`)."""
    page, document, hint = observation.page, observation.document, observation.hint
    if observation.not_modified:
        with store.transaction():
            store.record_fetch(_fetch_record(target, page, None), "not-modified")
            note_success(store, target, destinations, page.started_at)
        return CheckResult(target.name, "not-modified")
    error, prepared = observation.error, observation.prepared
    fetched = _fetch_record(target, page, error, prepared)
    if observation.same_region:
        if store.trusted_region(target.name) != observation.region:
            raise ValueError(f"{target.name}: the region read ahead is no longer the trusted one")
        return _record_unchanged(store, target, page, fetched, destinations, None, prepared)
    if document is None:
        with store.transaction():
            _keep_body(store, page)
            store.record_fetch(fetched, "failed")
            store.save_validators(target.name, None)
            note_failure(
                store,
                target,
                destinations,
                error=error,
                kind=observation.error_kind,
                failure_threshold=failure_threshold,
                at=page.started_at,
            )
        return CheckResult(target.name, "failed", error=error)

    previous_id = store.latest_version_id(target.name)
    if previous_id is not None and store.latest_fingerprint(target.name) == document.fingerprint:
        return _record_unchanged(store, target, page, fetched, destinations, hint, prepared)

    ahead = observation.comparison_with(previous_id) if previous_id is not None else None
    previous = None
    if previous_id is not None:
        recent = store.recent_texts(target.name, target.recent_versions)
        known = next((t for t in recent[1:] if t.fingerprint == document.fingerprint), None)
        if known is not None:
            return _record_return(store, target, observation, recent, known, destinations)
        if ahead is None:
            previous = store.latest_version(target.name)

    if ahead is not None:
        reason = ahead.suspicion
    else:
        reason = suspicion(previous.document if previous else None, document)
    reason = reason or observation.truncation
    warning = None
    if reason:
        seen = store.suspect_streak(target.name, document.fingerprint) + 1
        if seen < target.confirm_collapse:
            return _hold_suspect(store, target, page, fetched, document, reason, seen,
                                 destinations, failure_threshold)  # fmt: skip
        warning = f"{reason}; the same text came back {seen} fetches in a row"

    with store.transaction():
        _keep_body(store, page, prepared)
        if previous_id is None:
            fetch_id = store.record_fetch(fetched, "baseline")
            store.save_validators(target.name, page_validators(target, page))
            store.add_version(target.name, fetch_id, page.started_at, document, prepared=prepared)
            note_success(store, target, destinations, page.started_at)
            return CheckResult(
                target.name, "baseline", error=warning and f"warning: {warning}", hint=hint
            )
        fetch_id = store.record_fetch(fetched, "changed")
        store.save_validators(target.name, page_validators(target, page))
        note_success(store, target, destinations, page.started_at)
        version_id = store.add_version(
            target.name, fetch_id, page.started_at, document, prepared=prepared
        )
        if ahead is not None:
            change = ahead.change
        else:
            assert previous is not None
            change = compare(previous.document, document)
        detail = ahead.detail if ahead is not None else None
        if warning:
            change = replace(change, summary=f"Warning: {warning}. {change.summary}")
            detail = None  # the change compared ahead, without the warning
        change_id = store.add_change(
            target.name, previous_id, version_id, page.started_at, change.to_dict(), detail
        )
        alerted = should_alert(change, target.alert_on) or warning is not None
        alert_id = None
        if alerted:
            body = ahead.alert_body if ahead is not None and not warning else None
            message = change_alert(target.name, target.url, change, page.started_at, body)
            if warning:
                message = replace(message, title=f"{message.title} — WARNING: {warning}")
            urls = routed_urls(target, destinations)
            alert_id = queue_alert(store, message, urls, target=target.name, change_id=change_id)
    return CheckResult(
        target.name, "changed", change=change, alerted=alerted, alert_id=alert_id, hint=hint
    )


def needs_confirmation(store: Store, target: Target, observation: Observation) -> bool:
    """Whether to fetch the page once more before recording this observation: its text differs
    from the target's current version (confirm-before-record). A baseline, an unchanged text,
    a 304 and a failure are recorded at once, so an unchanged page costs no extra request; so
    is a text the collapse guard holds (`collapse.suspicion`, a truncated page): it must come
    back `confirm_collapse` runs in a row anyway, and a broken site is not asked twice.

    The confirming fetch must not be conditional, and its observation goes to
    `record_confirmed` with this one: the Scrapy pipeline and a cluster coordinator both
    decide here and record there."""
    document = observation.document
    if not target.confirm_changes or document is None or observation.not_modified:
        return False
    current = store.latest_fingerprint(target.name)
    if current is None or current == document.fingerprint:
        return False
    if observation.truncation:
        return False
    ahead = observation.comparison_with(store.latest_version_id(target.name) or 0)
    if ahead is not None:
        return not ahead.suspicion
    previous = store.latest_version(target.name)
    return previous is None or not suspicion(previous.document, document)


def observed_again(first: Observation, page: FetchedPage) -> Observation | None:
    """`first` again, for a page that answered exactly as `first.page` did (status, content
    type, final URL, body bytes): `observe` would read the same document from it. None when
    anything `observe` reads differs."""
    before = first.page
    same = (
        page.error is None
        and before.error is None
        and (page.status, page.content_type, page.final_url)
        == (before.status, before.content_type, before.final_url)
        and _body_hash(page) == _body_hash(before, first.prepared)
    )
    return replace(first, page=page) if same else None


def held(observation: Observation) -> Observation:
    """The observation as kept while its confirming fetch is awaited: without the page's
    body when its hash was prepared (`observed_again` and `record_confirmed` need no more),
    since a crawl may hold many changed pages at once."""
    if observation.prepared is None:
        return observation
    return replace(observation, page=replace(observation.page, body=b""))


def record_confirmed(
    store: Store,
    target: Target,
    first: Observation,
    second: Observation,
    destinations: Sequence[Destination | str],
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
) -> CheckResult:
    """Record a changed text once a second fetch agrees: the second observation is recorded
    as usual (the collapse guard then counts it as one fetch: `confirm_collapse` counts runs,
    not the two fetches of one run). When they disagree, the first fetch is logged as
    "transient" and nothing else is recorded or sent."""
    assert first.document is not None
    if second.document is not None and second.document.fingerprint == first.document.fingerprint:
        if second.comparison is None and second.document == first.document:
            second = replace(second, comparison=first.comparison)
        return record_and_trust(store, target, second, destinations, failure_threshold)
    if second.same_region:  # its region is the current version's (`observe_with_store`)
        outcome = "showed the current version again"
    elif second.document is None:
        outcome = f"failed ({second.error})"
    elif second.document.fingerprint == store.latest_fingerprint(target.name):
        outcome = "showed the current version again"
    else:
        outcome = "showed yet another text"
    error = (
        f"the text differed for one fetch only; the confirming fetch {outcome} (nothing recorded)"
    )
    fetched = replace(
        _fetch_record(target, first.page, error, first.prepared),
        fingerprint=first.document.fingerprint,
    )
    with store.transaction():
        store.record_fetch(fetched, "transient")
    return CheckResult(target.name, "transient", error=error)


def _record_return(
    store: Store,
    target: Target,
    observation: Observation,
    recent: Sequence[RecentText],
    known: RecentText,
    destinations: Sequence[Destination | str],
) -> CheckResult:
    """The page shows again one of its recent texts: a version that names the one it repeats,
    no change. The first return alerts only with `on_revert = "alert"`; the second return
    since the last new text marks the target flapping and alerts once with how the variants
    differ; later returns are quiet until a text never seen before appears."""
    page, document = observation.page, observation.document
    assert document is not None
    returns = [*store.returns_since_new_text(target.name), known.version]
    flapping = len(returns) >= 2
    change = None
    message = None
    if len(returns) == 2 or (not flapping and target.on_revert == "alert"):
        ahead = observation.comparison_with(recent[0].latest)
        if ahead is not None:
            change = ahead.change
        else:
            previous = store.latest_version(target.name)
            assert previous is not None
            change = compare(previous.document, document)
        if should_alert(change, target.alert_on):
            message = _return_alert(target, page.started_at, change, recent, returns, known)
    with store.transaction():
        _keep_body(store, page, observation.prepared)
        fetch_id = store.record_fetch(
            _fetch_record(target, page, None), "flapping" if flapping else "returned"
        )
        store.save_validators(target.name, page_validators(target, page))
        note_success(store, target, destinations, page.started_at)
        store.add_version(
            target.name, fetch_id, page.started_at, document, same_as=known.version,
            prepared=observation.prepared,
        )  # fmt: skip
        alert_id = None
        if message is not None:
            urls = routed_urls(target, destinations)
            alert_id = queue_alert(store, message, urls, target=target.name)
    return CheckResult(
        target.name,
        "flapping" if flapping else "returned",
        error=f"same as the version of {known.created_at}",
        change=change,
        alerted=alert_id is not None,
        alert_id=alert_id,
        hint=observation.hint,
    )


def _return_alert(
    target: Target,
    at: str,
    change: Change,
    recent: Sequence[RecentText],
    returns: Sequence[int],
    known: RecentText,
) -> AlertMessage:
    """A return's alert: the change from the text left to the text returned to; when the
    target is flapping, the title says so and names the variants' dates."""
    message = change_alert(target.name, target.url, change, at)
    if len(returns) < 2:
        title = f"{target.name}: returned to the version of {known.created_at}"
        return replace(message, title=f"{title} — {message.title.split(': ', 1)[1]}")
    variants = {*returns, recent[0].version}
    dates = [t.created_at for t in recent if t.version in variants]
    title = (
        f"{target.name}: flapping between {len(variants)} versions ({', '.join(sorted(dates))})"
        " — quiet until a text never seen before appears"
    )
    note = (
        f"The page alternates between {len(variants)} versions it has shown before"
        " (an A/B test, CDN edges serving different copies, a rollback and redeploy?);"
        " policywatch records each swing and alerts again when a new text appears. How they"
        " differ:"
    )
    change = replace(change, summary=f"{note} {change.summary}")
    return replace(change_alert(target.name, target.url, change, at), title=title)


def _record_unchanged(
    store: Store,
    target: Target,
    page: FetchedPage,
    fetched: FetchRecord,
    destinations: Sequence[Destination | str],
    hint: str | None = None,
    prepared: Prepared | None = None,
) -> CheckResult:
    with store.transaction():
        _keep_body(store, page, prepared)
        store.record_fetch(fetched, "unchanged")
        store.save_validators(target.name, page_validators(target, page))
        note_success(store, target, destinations, page.started_at)
    return CheckResult(target.name, "unchanged", hint=hint)


def _hold_suspect(
    store: Store,
    target: Target,
    page: FetchedPage,
    record: FetchRecord,
    document: Document,
    reason: str,
    seen: int,
    destinations: Sequence[Destination | str],
    failure_threshold: int,
) -> CheckResult:
    """Record a fetch whose text looks like a broken page: no version, no change alert; an
    operational alert only once `failure_threshold` fetches in a row went wrong."""
    error = (
        f"suspect: {reason} (held: becomes a version if it persists for"
        f" {target.confirm_collapse} fetches in a row; seen {seen})"
    )
    with store.transaction():
        _keep_body(store, page)
        store.record_fetch(
            replace(record, error=error, fingerprint=document.fingerprint), "suspect"
        )
        note_failure(
            store,
            target,
            destinations,
            error=error,
            kind="suspect",
            failure_threshold=failure_threshold,
            at=page.started_at,
        )
    return CheckResult(target.name, "suspect", error=error)


def _body_hash(page: FetchedPage, prepared: Prepared | None = None) -> str | None:
    """The page body's hash: as prepared (`prepare_record`; the body may be gone, `held`),
    or worked out once per page and kept on it (a frozen value): a fetch is matched by it,
    keyed by it (`body_key`) and recorded with it, and hashing a policy page costs more than
    its writes. None without a body."""
    if prepared is not None:
        return prepared.body_hash
    if not page.body:
        return None
    known = vars(page).get("_body_hash")
    if known is None:
        known = vars(page)["_body_hash"] = hashlib.sha256(page.body).hexdigest()
    return known


def _fetch_record(
    target: Target, page: FetchedPage, error: str | None, prepared: Prepared | None = None
) -> FetchRecord:
    body_hash = _body_hash(page, prepared)
    return FetchRecord(
        target=target.name,
        url=page.url,
        started_at=page.started_at,
        final_url=page.final_url,
        status=page.status,
        error=error,
        duration_ms=page.duration_ms,
        body_hash=body_hash,
        content_type=page.content_type,
    )


def _keep_body(store: Store, page: FetchedPage, prepared: Prepared | None = None) -> None:
    body_hash = _body_hash(page, prepared)
    if body_hash and _http_error(page) is None and page.error is None:
        store.keep_raw_body(page.target, page.body, body_hash, page.started_at, prepared)


def _http_error(page: FetchedPage) -> str | None:
    """ "HTTP 503" for a status that is not a success, with the wait the server asked for."""
    if page.status is not None and not 200 <= page.status < 300:
        retry_after = page.headers.get("retry-after")
        return f"HTTP {page.status}" + (f" (Retry-After: {retry_after})" if retry_after else "")
    return None
