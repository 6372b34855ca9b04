"""Cluster mode: fetching and normalizing on any number of workers, storing in one place.

A round, as the coordinator (`policywatch crawl` with `[cluster]`) runs it:

1. It pushes one JSON work item per target onto a Redis list — the start-URLs key of
   scrapy-redis's `RedisSpider`, one list per region (`Keys.queue`). The item carries the
   target's own settings (selectors, timeout, rendering, conditional-GET validators), so a
   worker needs no configuration of targets, only the Redis URL. At most `WINDOW` targets
   are out at once, so Redis memory does not grow with the number of targets.
2. Workers (`policywatch worker`, crawler/spiders/worker.py) take items, fetch the pages with
   the same spider code as a single-machine crawl, run `watch.observe` (normalize and checks)
   and append the observation to the round's result stream: zstd/zlib of JSON, and the body
   packed beside it. Never pickle.
3. The coordinator reads the stream through a consumer group, validates each result
   (`decode_result`: types, sizes, the target is in this round, the document deserializes),
   stores it with `watch.record` — exactly the single-machine code path — and only then
   acknowledges it (XACK). A duplicate (a target already stored this round) or a result of
   another round is acknowledged and dropped.
4. A target whose region's queue is empty and that has had no result for `result_timeout`
   seconds (its worker died mid-page) is handed out again, up to `MAX_ATTEMPTS` times.

Workers announce themselves with a heartbeat key that expires (`WORKER_TTL`), so the
coordinator can tell "no worker is running" from "the workers are busy". Redis is imported
only here and in the worker, and only when a cluster is configured.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from monitor.config import ClusterSettings, Config, Target
from monitor.document import Document
from monitor.normalize import Range, Selection
from monitor.notify import DeliveryResult, deliver_pending, digest_crawl, group_mass_edits
from monitor.pages import DOWNLOAD_MAXSIZE
from monitor.store import Store, Validators, utcnow
from monitor.watch import (
    CheckResult,
    FetchedPage,
    Observation,
    needs_confirmation,
    record,
    record_confirmed,
)

log = logging.getLogger("policywatch.cluster")

FORMAT = 1  # of work items and results; a worker refuses another
WORKER_TTL = 15  # seconds a worker's heartbeat key lives; it renews it every HEARTBEAT_EVERY
HEARTBEAT_EVERY = 5.0
MAX_ATTEMPTS = 3  # times a target is handed out in one round
RESULT_TTL = 24 * 3600  # a round's result stream outlives a coordinator that died by this much
READ_BLOCK_MS = 1000
READ_COUNT = 64
GROUP = "coordinator"
WINDOW = 2000  # targets handed out and not yet stored, at most

# Bounds on what a worker may hand back: a page body as large as the download limit, and
# the observation's JSON (the document) a few times that, since text is smaller than HTML.
MAX_BODY_BYTES = DOWNLOAD_MAXSIZE
MAX_META_BYTES = 4 * DOWNLOAD_MAXSIZE
MAX_TEXT_FIELD = 10_000  # characters of an error, hint, URL, header value
MAX_HEADERS = 200

ZSTD, ZLIB = "zstd", "zlib"


class ClusterError(RuntimeError):
    """The cluster cannot run a round (Redis unreachable, no worker): a one-line reason,
    with the Redis URL's password hidden."""


class InvalidResult(ValueError):
    """A result from a worker that must not be stored; `str()` says why."""


# -- naming ------------------------------------------------------------------------------------


def redact_redis_url(url: str) -> str:
    """The Redis URL with its password (and any query, which may hold one) hidden."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    if parts.password:
        netloc = f"{parts.username or ''}:****@{netloc}"
    elif parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact_error(error: BaseException | str, url: str) -> str:
    """An error's first line, without the Redis password if the message quoted it."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    password = urlsplit(url).password
    return text.replace(password, "****") if password else text


@dataclass(frozen=True)
class Keys:
    """The Redis keys of one deployment (`[cluster] prefix`)."""

    prefix: str

    def queue(self, region: str | None) -> str:
        """The work list of a region (`None`: targets without a region)."""
        return f"{self.prefix}:queue" if region is None else f"{self.prefix}:queue:{region}"

    def results(self, round_id: str) -> str:
        return f"{self.prefix}:results:{round_id}"

    def worker(self, worker_id: str) -> str:
        return f"{self.prefix}:worker:{worker_id}"

    @property
    def workers(self) -> str:
        return f"{self.prefix}:worker:*"


def connect(url: str) -> Any:  # -> redis.Redis
    import redis

    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# -- packing (JSON, compressed; bounded on the way in) -----------------------------------------


def _codec() -> str:
    from monitor.packing import DEFAULT_CODEC

    return DEFAULT_CODEC


def compress(data: bytes, codec: str) -> bytes:
    if codec == ZSTD:
        import zstandard

        return zstandard.ZstdCompressor(level=3).compress(data)
    return zlib.compress(data, 6)


def decompress(blob: bytes, codec: str, limit: int) -> bytes:
    """`blob` decompressed, refusing anything that would grow beyond `limit` bytes."""
    if codec not in (ZSTD, ZLIB):
        raise InvalidResult(f"unknown codec {codec!r}")
    try:
        if codec == ZSTD:
            import zstandard

            with zstandard.ZstdDecompressor().stream_reader(blob) as reader:
                data = reader.read(limit + 1)
        else:
            data = zlib.decompressobj().decompress(blob, limit + 1)
    except Exception as err:  # noqa: BLE001 - zstandard's and zlib's errors: a broken blob
        raise InvalidResult(f"cannot decompress: {err}") from None
    if len(data) > limit:
        raise InvalidResult(f"larger than {limit} bytes once decompressed")
    return data


# -- work items ---------------------------------------------------------------------------------


def target_to_dict(target: Target) -> dict[str, Any]:
    """A target's settings as JSON values (tuples as lists, ranges as mappings)."""
    data: dict[str, Any] = {}
    for item in fields(target):
        value = getattr(target, item.name)
        if isinstance(value, Selection):
            value = {
                "select": [_selector_to_json(s) for s in value.select],
                "remove": [_selector_to_json(s) for s in value.remove],
            }
        elif isinstance(value, tuple):
            value = list(value)
        data[item.name] = value
    return data


def _selector_to_json(selector: str | Range) -> str | dict[str, str | None]:
    return asdict(selector) if isinstance(selector, Range) else selector


def target_from_dict(data: Mapping[str, Any]) -> Target:
    known = {item.name: item for item in fields(Target)}
    unknown = set(data) - set(known)
    if unknown:
        raise ValueError(f"unknown target settings {sorted(unknown)} (a newer policywatch?)")
    values = dict(data)
    selection = values.get("selection") or {}
    values["selection"] = Selection.from_config(
        selection.get("select") or None, selection.get("remove") or None
    )
    for name, value in values.items():
        if isinstance(value, list) and "tuple" in str(known[name].type):
            values[name] = _tuples(value)
    return Target(**values)


def _tuples(value: Any) -> Any:
    """JSON lists back into the (nested) tuples a frozen Target holds."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


@dataclass(frozen=True)
class WorkItem:
    round_id: str
    results: str  # the stream key the result goes to
    target: Target
    validators: Validators | None = None
    confirming: bool = False  # the second fetch of a changed text (watch.needs_confirmation)


def encode_work_item(item: WorkItem) -> bytes:
    return json.dumps(
        {
            "format": FORMAT,
            "round": item.round_id,
            "results": item.results,
            "target": target_to_dict(item.target),
            "validators": asdict(item.validators) if item.validators else None,
            "confirming": item.confirming,
        },
        separators=(",", ":"),
    ).encode("utf-8")


def decode_work_item(data: bytes | str, keys: Keys) -> WorkItem:
    """A work item as a worker reads it; ValueError when it is not one this worker can do."""
    raw = json.loads(data)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ValueError("not a policywatch work item of this version")
    round_id, results = raw.get("round"), raw.get("results")
    if not isinstance(round_id, str) or not isinstance(results, str):
        raise ValueError("work item without a round")
    if not results.startswith(keys.results("")):
        raise ValueError(f"result stream {results!r} is outside {keys.prefix!r}")
    target = raw.get("target")
    if not isinstance(target, dict):
        raise ValueError("work item without a target")
    validators = raw.get("validators")
    return WorkItem(
        round_id=round_id,
        results=results,
        target=target_from_dict(target),
        validators=Validators(**validators) if isinstance(validators, dict) else None,
        confirming=raw.get("confirming") is True,
    )


# -- results ------------------------------------------------------------------------------------


def encode_result(round_id: str, worker: str, observation: Observation) -> dict[str, bytes]:
    """The stream entry a worker appends: the observation as compressed JSON, the body apart."""
    page = observation.page
    meta = {
        "format": FORMAT,
        "round": round_id,
        "worker": worker,
        "page": {
            "target": page.target,
            "url": page.url,
            "started_at": page.started_at,
            "final_url": page.final_url,
            "status": page.status,
            "headers": page.headers,
            "error": page.error,
            "duration_ms": page.duration_ms,
            "confirming": page.confirming,
        },
        "document": observation.document.to_dict() if observation.document else None,
        "error": observation.error,
        "error_kind": observation.error_kind,
        "hint": observation.hint,
        "truncation": observation.truncation,
    }
    codec = _codec()
    packed = compress(json.dumps(meta, separators=(",", ":")).encode("utf-8"), codec)
    return {"codec": codec.encode(), "meta": packed, "body": compress(page.body, codec)}


@dataclass(frozen=True)
class WorkerResult:
    round_id: str
    worker: str
    observation: Observation


def decode_result(entry: Mapping[bytes, bytes]) -> WorkerResult:
    """A stream entry checked field by field; InvalidResult says what is wrong with it.

    The checks are those of untrusted input: a worker may run an old version, a bug, or
    be someone else's process on the same Redis."""
    if set(entry) != {b"codec", b"meta", b"body"}:
        raise InvalidResult(f"unexpected fields {sorted(k.decode('latin-1') for k in entry)}")
    codec = entry[b"codec"].decode("ascii", "replace")
    if len(entry[b"meta"]) > MAX_META_BYTES or len(entry[b"body"]) > MAX_BODY_BYTES:
        raise InvalidResult("too large")
    try:
        meta = json.loads(decompress(entry[b"meta"], codec, MAX_META_BYTES))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidResult(f"not JSON: {err}") from None
    body = decompress(entry[b"body"], codec, MAX_BODY_BYTES)
    _expect(meta, dict, "result")
    if meta.get("format") != FORMAT:
        raise InvalidResult(f"format {meta.get('format')!r}, expected {FORMAT}")
    page = _expect(meta.get("page"), dict, "page")
    headers = _expect(page.get("headers"), dict, "page.headers")
    if len(headers) > MAX_HEADERS or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) <= MAX_TEXT_FIELD
        for k, v in headers.items()
    ):
        raise InvalidResult("page.headers: expected at most 200 text headers")
    status = _optional(page.get("status"), int, "page.status")
    if status is not None and not 100 <= status <= 599:
        raise InvalidResult(f"page.status: {status} is not an HTTP status")
    duration = _optional(page.get("duration_ms"), int, "page.duration_ms")
    fetched = FetchedPage(
        target=_text(page.get("target"), "page.target"),
        url=_text(page.get("url"), "page.url"),
        started_at=_timestamp(page.get("started_at")),
        final_url=_optional_text(page.get("final_url"), "page.final_url"),
        status=status,
        headers=headers,
        body=body,
        error=_optional_text(page.get("error"), "page.error"),
        duration_ms=None if duration is None else max(0, duration),
        confirming=_expect(page.get("confirming"), bool, "page.confirming"),
    )
    document = None
    if meta.get("document") is not None:
        document = _document(meta["document"])
    observation = Observation(
        fetched,
        document=document,
        error=_optional_text(meta.get("error"), "error"),
        error_kind=_optional_text(meta.get("error_kind"), "error_kind"),
        hint=_optional_text(meta.get("hint"), "hint"),
        truncation=_optional_text(meta.get("truncation"), "truncation"),
    )
    if document is None and observation.error is None and not observation.not_modified:
        raise InvalidResult("neither a document nor an error")
    return WorkerResult(
        round_id=_text(meta.get("round"), "round"),
        worker=_text(meta.get("worker"), "worker"),
        observation=observation,
    )


def _expect(value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InvalidResult(f"{what}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _optional(value: Any, kind: type, what: str) -> Any:
    return None if value is None else _expect(value, kind, what)


def _text(value: Any, what: str) -> str:
    text = _expect(value, str, what)
    if not text or len(text) > MAX_TEXT_FIELD:
        raise InvalidResult(f"{what}: expected a text of 1 to {MAX_TEXT_FIELD} characters")
    return text


def _optional_text(value: Any, what: str) -> str | None:
    return None if value is None else _text(value, what)


def _timestamp(value: Any) -> str:
    from datetime import datetime

    text = _text(value, "page.started_at")
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise InvalidResult(f"page.started_at: not an ISO time: {text[:40]!r}") from None
    return text


def _document(data: Any) -> Document:
    """A document that deserializes and serializes back to the same JSON, with text where
    text belongs: anything else was not made by `normalize`."""
    _expect(data, dict, "document")
    _expect(data.get("title"), str, "document.title")
    for section in _expect(data.get("sections"), list, "document.sections"):
        _expect(section, dict, "document section")
        _expect(section.get("heading"), str, "document section heading")
        _expect(section.get("level"), int, "document section level")
        for block in _expect(section.get("blocks"), list, "document blocks"):
            _expect(block, dict, "document block")
            _expect(block.get("text"), str, "document block text")
            _expect(block.get("kind"), str, "document block kind")
            for link in _expect(block.get("links"), list, "document block links"):
                _expect(link, str, "document link")
    try:
        document = Document.from_dict(data)
        if document.to_dict() != data:
            raise InvalidResult("document: does not serialize back to itself")
        document.fingerprint  # noqa: B018 - computing it proves the document is usable
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        if isinstance(err, InvalidResult):
            raise
        raise InvalidResult(f"document: {type(err).__name__}: {err}") from None
    return document


# -- the coordinator ----------------------------------------------------------------------------


@dataclass
class _Pending:
    target: Target
    item: bytes
    attempts: int = 1
    handed_out: float = field(default_factory=time.monotonic)
    first: Observation | None = None  # a changed text, waiting for its confirming fetch
    due: float | None = None  # when the confirming fetch is handed out


@dataclass(frozen=True)
class ClusterRound:
    """What a round did besides its results: who worked, what was retried or refused."""

    redis: str  # redacted
    shares: dict[str, int]  # results stored, per worker
    handed_out_again: int = 0
    duplicates: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class RoundOutcome:
    results: tuple[CheckResult, ...]
    deliveries: tuple[DeliveryResult, ...]
    round: ClusterRound


def live_workers(client: Any, keys: Keys) -> dict[str, str | None]:
    """Workers whose heartbeat has not expired, with their region."""
    workers: dict[str, str | None] = {}
    prefix = keys.worker("")
    for key in client.scan_iter(match=keys.workers, count=500):
        value = client.get(key)
        if value is None:
            continue
        try:
            region = json.loads(value).get("region")
        except (ValueError, AttributeError):
            continue
        workers[key.decode("utf-8", "replace")[len(prefix) :]] = region
    return workers


def check_redis(url: str) -> str | None:
    """Why Redis at `url` cannot be used now, or None."""
    try:
        connect(url).ping()
    except Exception as err:  # noqa: BLE001 - redis-py raises several kinds; all mean "down"
        return _unreachable(url, err)
    return None


def check_cluster(settings: ClusterSettings) -> str | None:
    """Why a round cannot start now (Redis unreachable, no worker), or None."""
    try:
        client = connect(settings.redis)
        client.ping()
        if not live_workers(client, Keys(settings.prefix)):
            return f"no policywatch worker is running at {redact_redis_url(settings.redis)}"
    except Exception as err:  # noqa: BLE001 - redis-py raises several kinds; all mean "down"
        return _unreachable(settings.redis, err)
    return None


def _unreachable(url: str, err: BaseException) -> str:
    return f"cannot reach Redis at {redact_redis_url(url)}: {redact_error(err, url)}"


def run_round(
    config: Config,
    targets: Sequence[Target],
    on_result: Callable[[CheckResult], None] | None = None,
) -> RoundOutcome:
    """Hand the targets to the cluster's workers, store what comes back, deliver alerts.

    Raises ClusterError, before anything is pushed or stored, when Redis cannot be reached
    or no worker is running; and when Redis goes away in the middle of a round (what was
    stored by then stays stored, each target in its own transaction)."""
    import redis

    settings = config.cluster
    assert settings is not None
    try:
        return _Round(config, settings, targets, on_result).run()
    except redis.RedisError as err:
        raise ClusterError(_unreachable(settings.redis, err)) from None


class _Round:
    def __init__(
        self,
        config: Config,
        settings: ClusterSettings,
        targets: Sequence[Target],
        on_result: Callable[[CheckResult], None] | None,
    ) -> None:
        self.config, self.settings, self.on_result = config, settings, on_result
        self.targets = {t.name: t for t in targets}
        self.keys = Keys(settings.prefix)
        self.round_id = f"{utcnow()[:19].replace(':', '')}-{uuid.uuid4().hex[:12]}"
        self.stream = self.keys.results(self.round_id)
        self.client = connect(settings.redis)
        self.consumer = worker_id()
        self.pending: dict[str, _Pending] = {}
        self.results: list[CheckResult] = []
        self.shares: dict[str, int] = {}
        self.handed_out_again = self.duplicates = self.rejected = 0
        self.waiting: deque[Target] = deque()  # not handed out yet
        self.validators: Mapping[str, Validators] = {}
        self.drained_since: dict[str | None, float] = {}
        self.orphaned_since: dict[str | None, float] = {}
        self.checked_workers = 0.0

    def run(self) -> RoundOutcome:
        self.client.ping()
        workers = live_workers(self.client, self.keys)
        if not workers:
            raise ClusterError(
                f"no policywatch worker is running at {redact_redis_url(self.settings.redis)}"
                " (start one with: policywatch worker)"
            )
        served = set(workers.values())
        for target in list(self.targets.values()):
            if target.region not in served:  # fails now, rather than after result_timeout
                del self.targets[target.name]
                self._done(CheckResult(target.name, "failed", error=self._no_worker(target)))
        self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        self.client.expire(self.stream, RESULT_TTL)
        with Store(self.config.store_path) as store:
            self.validators = store.validators()
            self.waiting = deque(self.targets.values())
            try:
                while self.pending or self.waiting:
                    self._hand_out()
                    self._receive(store)
                    self._check_lost()
            finally:
                self._withdraw()
            alert_ids = [r.alert_id for r in self.results if r.alert_id is not None]
            alert_ids = group_mass_edits(
                store, alert_ids, tuple(self.targets.values()), self.config.notify_urls
            )
            digest_crawl(store, alert_ids, self.config.notify_urls, self.config.digest_threshold)
            deliveries = deliver_pending(store, self.config.notify_urls)
        return RoundOutcome(
            results=tuple(self.results),
            deliveries=tuple(deliveries),
            round=ClusterRound(
                redis=redact_redis_url(self.settings.redis),
                shares=dict(sorted(self.shares.items())),
                handed_out_again=self.handed_out_again,
                duplicates=self.duplicates,
                rejected=self.rejected,
            ),
        )

    def _hand_out(self) -> None:
        """Queue targets until WINDOW are out: Redis then holds at most WINDOW work items and
        results whatever the number of targets, and a coordinator slower than its workers
        is never buried under results."""
        by_queue: dict[str, list[bytes]] = {}
        while self.waiting and len(self.pending) < WINDOW:
            target = self.waiting.popleft()
            item = encode_work_item(
                WorkItem(self.round_id, self.stream, target, self.validators.get(target.name))
            )
            self.pending[target.name] = _Pending(target, item)
            by_queue.setdefault(self.keys.queue(target.region), []).append(item)
        if not by_queue:
            return
        with self.client.pipeline(transaction=False) as pipe:
            for queue, items in by_queue.items():
                for start in range(0, len(items), 1000):
                    pipe.rpush(queue, *items[start : start + 1000])
            pipe.execute()

    def _receive(self, store: Store) -> None:
        """Read, store and acknowledge what the workers sent. An entry is acknowledged (and
        deleted) only after `record` committed it; the stream belongs to this round alone."""
        answer = self.client.xreadgroup(
            GROUP, self.consumer, {self.stream: ">"}, count=READ_COUNT, block=READ_BLOCK_MS
        )
        for _stream, entries in answer or []:
            for entry_id, entry in entries:
                self._take(store, entry)
                with self.client.pipeline(transaction=False) as pipe:
                    pipe.xack(self.stream, GROUP, entry_id)
                    pipe.xdel(self.stream, entry_id)
                    pipe.execute()

    def _take(self, store: Store, entry: Mapping[bytes, bytes]) -> None:
        try:
            result = decode_result(entry)
        except InvalidResult as err:
            self.rejected += 1
            log.warning("refused a result: %s", err)
            return
        observation = result.observation
        name = observation.page.target
        pending = self.pending.get(name)
        if (
            result.round_id != self.round_id
            or pending is None
            or observation.page.confirming != (pending.first is not None)
        ):
            self.duplicates += 1
            return
        target = pending.target
        if observation.page.url != target.url:
            self.rejected += 1
            log.warning("refused a result for %s: it is for another URL", name)
            return
        destinations, threshold = self.config.destinations, self.config.failure_threshold
        if pending.first is not None:
            checked = record_confirmed(
                store, target, pending.first, observation, destinations, threshold
            )
        elif needs_confirmation(store, target, observation):
            # Confirm-before-record, as in a single-machine crawl: the same target once more,
            # unconditionally, `confirm_delay` seconds later (on whichever worker is free).
            pending.first = observation
            pending.item = encode_work_item(
                WorkItem(self.round_id, self.stream, target, confirming=True)
            )
            pending.attempts = 1
            pending.due = time.monotonic() + target.confirm_delay
            return
        else:
            checked = record(store, target, observation, destinations, threshold)
        del self.pending[name]
        self.shares[result.worker] = self.shares.get(result.worker, 0) + 1
        self._done(checked)

    def _done(self, result: CheckResult) -> None:
        self.results.append(result.without_change())
        if self.on_result is not None:
            self.on_result(result)

    def _check_lost(self) -> None:
        """Hand out again the targets whose worker went silent; give up on a region no
        worker serves any more."""
        now = time.monotonic()
        timeout = self.settings.result_timeout
        for pending in self.pending.values():
            if pending.due is not None and pending.due <= now:
                pending.due, pending.handed_out = None, now
                self.client.lpush(self.keys.queue(pending.target.region), pending.item)
        regions = {p.target.region for p in self.pending.values()}
        if now - self.checked_workers >= 1.0:
            self.checked_workers = now
            served = set(live_workers(self.client, self.keys).values())
            for region in regions:
                if region in served:
                    self.orphaned_since.pop(region, None)
                elif now - self.orphaned_since.setdefault(region, now) >= timeout:
                    self._give_up(region)
            regions = {p.target.region for p in self.pending.values()}
        for region in regions:
            if self.client.llen(self.keys.queue(region)):
                self.drained_since.pop(region, None)
                continue
            drained = self.drained_since.setdefault(region, now)
            for name, pending in list(self.pending.items()):
                if pending.target.region != region or pending.due is not None:
                    continue
                if now - max(pending.handed_out, drained) < timeout:
                    continue
                if pending.attempts >= MAX_ATTEMPTS:
                    del self.pending[name]
                    self._done(CheckResult(name, "failed", error=self._no_result(pending)))
                    continue
                pending.attempts += 1
                pending.handed_out = now
                self.handed_out_again += 1
                self.client.lpush(self.keys.queue(region), pending.item)

    def _withdraw(self) -> None:
        """End the round in Redis: its stream, and any of its items still queued."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.delete(self.stream)
            for pending in self.pending.values():
                pipe.lrem(self.keys.queue(pending.target.region), 0, pending.item)
            pipe.execute()

    def _give_up(self, region: str | None) -> None:
        for name, pending in list(self.pending.items()):
            if pending.target.region == region:
                del self.pending[name]
                error = f"{self._no_worker(pending.target)} for {self.settings.result_timeout:g} s"
                self._done(CheckResult(name, "failed", error=error))

    @staticmethod
    def _no_worker(target: Target) -> str:
        region = f" of region {target.region!r}" if target.region else " without a region"
        return f"no policywatch worker{region} is running"

    def _no_result(self, pending: _Pending) -> str:
        return (
            f"no result from a worker after {pending.attempts} attempts"
            f" of {self.settings.result_timeout:g} s each"
        )
