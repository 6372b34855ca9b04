"""`policywatch daemon`: scheduled crawls that survive restarts, overlaps and signals.

Design. Twisted's reactor cannot be restarted, and a long-lived Scrapy process accumulates
whatever its components keep. So the daemon itself never imports Scrapy: APScheduler's
`BackgroundScheduler` marks targets due, and the main thread runs each batch of due targets as
one `policywatch crawl NAME...` child process — exactly the command a user runs by hand. Memory
stays flat whatever the number of runs, a crash in one crawl cannot take the daemon down, and
stopping means asking one child to finish (Scrapy's graceful SIGTERM) while nothing new starts.

- Restart safety: each target's first run comes from its last check in the store; overdue
  targets are spread over the first minutes instead of firing at once (`schedule.first_runs`).
  Jobs use `coalesce=True`, `max_instances=1` and a misfire grace time.
- Signals: SIGTERM/SIGINT stop scheduling, let the running crawl finish its writes (it gets
  SIGTERM, then SIGKILL after `STOP_GRACE_SECONDS`; every write is a transaction) and exit 0.
  SIGHUP reloads config.toml; a broken file is logged and the old configuration kept.
- With `[cluster]`, each batch first checks that Redis and a worker answer; while they do
  not, due targets wait with a growing backoff (5 s doubling to 5 minutes), and one
  operational alert goes out, then one "recovered" message.
- One daemon per store: an exclusive lock on `<store>.daemon.lock`. A manual `policywatch
  crawl` beside it is safe: WAL, busy timeouts, and per-target claims in the store
  (`Store.claim_targets`) so that no target is crawled twice at once.
"""

from __future__ import annotations

import fcntl
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler

from monitor.cluster import check_cluster, redact_redis_url
from monitor.config import Config, ConfigError, load_config
from monitor.notify import deliver_pending, note_service_problem, retry_deliveries
from monitor.schedule import Schedule, first_runs, parse_schedule
from monitor.store import Store, utcnow

log = logging.getLogger("policywatch.daemon")

STOP_GRACE_SECONDS = 25
BATCH_WINDOW_SECONDS = 1.0
RETRY_EVERY_SECONDS = 60
CLUSTER_RETRY_FIRST = 5
CLUSTER_RETRY_MAX = 300
MISFIRE_GRACE_SECONDS = 300
CATCH_UP_SPREAD = timedelta(minutes=5)


class DaemonError(RuntimeError):
    """The daemon cannot start; `str()` is the one-line reason."""


def lock_path(config: Config) -> Path:
    return config.store_path.with_name(config.store_path.name + ".daemon.lock")


@contextmanager
def daemon_lock(config: Config) -> Iterator[None]:
    """Hold the store's daemon lock, or fail at once if another daemon holds it."""
    path = lock_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DaemonError(
                f"another policywatch daemon is running for {config.store_path}"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def daemon_running(config: Config) -> bool:
    path = lock_path(config)
    if not path.exists():
        return False
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def next_due(config: Config, now: datetime) -> dict[str, datetime | None]:
    """When each target is next due by its schedule and its last check (None: never checked)."""
    with Store(config.store_path) as store:
        checked = store.last_checks()
    due: dict[str, datetime | None] = {}
    for target in config.targets:
        last = checked.get(target.name)
        due[target.name] = (
            parse_schedule(target.schedule).next_after(datetime.fromisoformat(last))
            if last
            else None
        )
    return due


def catch_up_spread(schedules: Iterable[Schedule]) -> timedelta:
    """How long to spread overdue targets over: five minutes, or less than one period."""
    periods = [s.interval for s in schedules if s.interval is not None]
    return min([CATCH_UP_SPREAD, *periods])


class Daemon:
    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self.config = load_config(config_path)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
        )
        self.due: dict[str, None] = {}  # an ordered set of target names
        self.due_lock = threading.Lock()
        self.stopping = False
        self.reload_requested = False
        self.cluster_failures = 0
        self.cluster_retry_at = 0.0

    def run(self) -> int:
        with daemon_lock(self.config):
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._stop)
            signal.signal(signal.SIGHUP, self._request_reload)
            self._schedule_all()
            self.scheduler.start()
            log.info(
                "daemon started: %d targets, store %s",
                len(self.config.targets),
                self.config.store_path,
            )
            try:
                self._loop()
            finally:
                self.scheduler.shutdown(wait=False)
            log.info("daemon stopped")
        return 0

    # -- signals (they only set flags; the main loop acts on them) ------------------------

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        self.stopping = True

    def _request_reload(self, signum: int, frame: FrameType | None) -> None:
        self.reload_requested = True

    # -- scheduling --------------------------------------------------------------------------

    def _schedule_all(self) -> None:
        self.scheduler.remove_all_jobs()
        now = datetime.now(UTC)
        schedules = {t.name: parse_schedule(t.schedule) for t in self.config.targets}
        runs = first_runs(next_due(self.config, now), now, catch_up_spread(schedules.values()))
        for target in self.config.targets:
            schedule = schedules[target.name]
            start = runs[target.name]
            if schedule.interval is not None or start < schedule.next_after(now):
                # The first run at its exact time (already spread if overdue); the schedule's
                # jitter applies to the runs after it. A cron target gets this only when overdue.
                self.scheduler.add_job(
                    self._mark_due,
                    "date",
                    run_date=start,
                    args=[target.name],
                    id=f"{target.name}#first",
                )
            self.scheduler.add_job(
                self._mark_due,
                schedule.trigger(schedule.next_after(start)),
                args=[target.name],
                id=target.name,
                replace_existing=True,
            )
            log.info(
                "%s: schedule %s, first run %s",
                target.name,
                schedule.text,
                start.isoformat(timespec="seconds"),
            )

    def _mark_due(self, name: str) -> None:
        with self.due_lock:
            self.due[name] = None

    def _take_due(self) -> list[str]:
        with self.due_lock:
            names = list(self.due)
            self.due.clear()
        return names

    def _reload(self) -> None:
        self.reload_requested = False
        try:
            config = load_config(self.config_path)
        except ConfigError as err:
            log.error("reload failed, keeping the running configuration: %s", err)
            return
        if config.store_path != self.config.store_path:
            log.error("reload: [storage] path cannot change while running; restart instead")
            return
        self.config = config
        known = {t.name for t in config.targets}
        with self.due_lock:
            self.due = {name: None for name in self.due if name in known}
        self._schedule_all()
        log.info("configuration reloaded: %d targets", len(config.targets))

    # -- running crawls ----------------------------------------------------------------------

    def _loop(self) -> None:
        retried_at = time.monotonic()
        while not self.stopping:
            if self.reload_requested:
                self._reload()
            time.sleep(BATCH_WINDOW_SECONDS)  # also gathers targets due at nearly the same time
            if self.due and not self._cluster_ready():
                continue  # the due targets wait in `self.due` for the cluster to come back
            names = self._take_due()
            if names and not self.stopping:
                self._crawl(names)
            elif time.monotonic() - retried_at > RETRY_EVERY_SECONDS:
                # Failed deliveries are due again on their backoff, crawl or no crawl.
                retried_at = time.monotonic()
                for result in retry_deliveries(self.config):
                    log.info(
                        "alert %d → %s: %s",
                        result.alert_id,
                        result.destination,
                        result.error or "sent",
                    )

    def _cluster_ready(self) -> bool:
        """With `[cluster]`: whether Redis and a worker answer. While they do not, crawls wait
        with a growing backoff, and one operational alert (then one "recovered") goes out."""
        settings = self.config.cluster
        if settings is None:
            return True
        if time.monotonic() < self.cluster_retry_at:
            return False
        problem = check_cluster(settings)
        with Store(self.config.store_path) as store:
            with store.transaction():
                note_service_problem(
                    store,
                    self.config.notify_urls,
                    at=utcnow(),
                    error=problem,
                    service=f"cluster {redact_redis_url(settings.redis)}",
                )
            deliver_pending(store, self.config.notify_urls)
        if problem is None:
            self.cluster_failures = 0
            return True
        self.cluster_failures += 1
        wait = min(CLUSTER_RETRY_FIRST * 2 ** (self.cluster_failures - 1), CLUSTER_RETRY_MAX)
        self.cluster_retry_at = time.monotonic() + wait
        log.error("%s; retrying in %d s", problem, wait)
        return False

    def _crawl(self, names: list[str]) -> None:
        command = [sys.executable, "-m", "monitor", "crawl"]
        if self.config_path is not None:
            command += ["--config", str(self.config_path)]
        log.info("crawl: %s", ", ".join(names))
        # The child's summary goes to our stderr, with the rest of the daemon's log.
        child = subprocess.Popen([*command, "--", *names], stdout=sys.stderr)
        terminated_at: float | None = None
        while child.poll() is None:
            time.sleep(0.1)
            if self.stopping and terminated_at is None:
                log.info("waiting for the running crawl to finish its writes")
                child.send_signal(signal.SIGTERM)
                terminated_at = time.monotonic()
            elif terminated_at and time.monotonic() - terminated_at > STOP_GRACE_SECONDS:
                child.kill()
        if child.returncode not in (0, 1):
            log.error("crawl exited with status %s", child.returncode)
