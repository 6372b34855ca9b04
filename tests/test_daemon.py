"""The daemon as systemd runs it: a child process, real schedules of seconds, real signals."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils
from test_crawl import NAME, policywatch, seed_page, wait_for, write_config

from monitor.schedule import ScheduleError, first_runs, parse_schedule

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Daemon:
    def __init__(self, config: Path) -> None:
        self.log = config.with_name("daemon.log")
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "monitor", "daemon", "--config", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, float]:
        started = time.monotonic()
        self.process.send_signal(signum)
        code = self.process.wait(timeout=40)
        return code, time.monotonic() - started

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def daemons():
    started: list[Daemon] = []

    def start(config: Path) -> Daemon:
        started.append(Daemon(config))
        return started[-1]

    yield start
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait()


def count(db_path: Path, table: str) -> int:
    if not db_path.exists():
        return 0
    db = sqlite_utils.Database(db_path)
    return db[table].count if table in db.table_names() else 0  # the schema may not exist yet


def test_scheduled_runs_one_alert_per_change_clean_stop_and_quiet_restart(
    tmp_path, page_server, json_receiver, daemons
):
    url = page_server.set("/privacy", seed_page())
    config = write_config(tmp_path, [(NAME, url)], [json_receiver.url], extra='schedule = "2s"')
    store = tmp_path / "store.db"

    daemon = daemons(config)
    wait_for(lambda: count(store, "versions") == 1, seconds=20)
    assert count(store, "versions") == 1, daemon.output()
    page_server.set("/privacy", seed_page(edited=True))
    wait_for(lambda: json_receiver.messages, seconds=20)
    checks = count(store, "fetches")
    wait_for(lambda: count(store, "fetches") >= checks + 2, seconds=20)  # two more runs
    assert count(store, "fetches") >= checks + 2, daemon.output()
    assert [m["title"].split(":")[0] for m in json_receiver.messages] == [NAME]

    code, seconds = daemon.stop()
    assert code == 0 and seconds < 30, daemon.output()
    assert "daemon stopped" in daemon.output()

    restarted = daemons(config)
    fetches = count(store, "fetches")
    wait_for(lambda: count(store, "fetches") >= fetches + 2, seconds=20)
    assert count(store, "fetches") >= fetches + 2, restarted.output()
    assert restarted.stop()[0] == 0
    assert len(json_receiver.messages) == 1
    assert count(store, "versions") == 2 and count(store, "alerts") == 1


def test_sigterm_during_a_crawl_exits_0_with_nothing_half_written(tmp_path, page_server, daemons):
    page_server.delay = 3.0
    url = page_server.set("/privacy", seed_page())
    config = write_config(tmp_path, [(NAME, url)], [], extra='schedule = "2s"')
    daemon = daemons(config)
    wait_for(lambda: "/privacy" in page_server.requests, seconds=30)
    assert "/privacy" in page_server.requests, daemon.output()

    code, seconds = daemon.stop()

    assert code == 0 and seconds < 30, daemon.output()
    store = sqlite3.connect(tmp_path / "store.db")
    assert store.execute("pragma integrity_check").fetchone() == ("ok",)
    fetches = store.execute("select count(*) from fetches").fetchone()[0]
    versions = store.execute("select count(*) from versions").fetchone()[0]
    assert versions <= fetches <= 1
    assert store.execute("select count(*) from claims").fetchone() == (0,)


def test_restart_after_recent_checks_causes_no_burst(tmp_path, page_server, daemons):
    urls = [page_server.set(f"/p{i}", seed_page()) for i in range(3)]
    config = write_config(
        tmp_path, [(f"t{i}", u) for i, u in enumerate(urls)], [], extra='schedule = "1h"'
    )
    assert policywatch("crawl", "--config", str(config)).returncode == 0
    requests = len(page_server.requests)

    daemon = daemons(config)
    time.sleep(5)

    assert len(page_server.requests) == requests, daemon.output()
    assert "first run" in daemon.output()
    assert daemon.stop()[0] == 0


def test_one_daemon_per_store_and_manual_crawl_skips_a_target_in_flight(
    tmp_path, page_server, daemons
):
    page_server.delay = 6.0
    url = page_server.set("/privacy", seed_page())
    config = write_config(tmp_path, [(NAME, url)], [], extra='schedule = "1h"')
    daemon = daemons(config)
    wait_for(lambda: "/privacy" in page_server.requests, seconds=30)

    manual = policywatch("crawl", "--config", str(config))
    second = policywatch("daemon", "--config", str(config))

    assert second.returncode == 2
    assert "another policywatch daemon is running" in second.stderr
    assert manual.returncode == 0
    assert f"{NAME}: skipped: being crawled by another process" in manual.stdout
    assert daemon.stop()[0] == 0
    assert count(tmp_path / "store.db", "versions") == 1


def test_sighup_reloads_targets_and_status_reports_them(tmp_path, page_server, daemons):
    a = page_server.set("/a", seed_page())
    b = page_server.set("/b", seed_page())
    config = write_config(tmp_path, [("a", a)], [], extra='schedule = "1h"')
    daemon = daemons(config)
    wait_for(lambda: "/a" in page_server.requests, seconds=20)

    config.write_text(config.read_text() + f'\n[[targets]]\nname = "b"\nurl = "{b}"\n')
    daemon.process.send_signal(signal.SIGHUP)
    wait_for(lambda: count(tmp_path / "store.db", "versions") == 2, seconds=20)

    status = policywatch("status", "--config", str(config), "--json")
    assert daemon.stop()[0] == 0
    assert "configuration reloaded: 2 targets" in daemon.output()
    payload = json.loads(status.stdout)
    assert payload["daemon"] == "running"
    rows = {row["name"]: row for row in payload["targets"]}
    assert set(rows) == {"a", "b"}
    assert rows["b"]["last_result"] == "baseline" and rows["b"]["health"] == "ok"
    assert rows["b"]["stated_date"] == "2025-01-01"
    next_run = datetime.fromisoformat(rows["b"]["next_run"])
    assert timedelta(minutes=59) < next_run - datetime.now(UTC) <= timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "interval", "cron"),
    [
        ("30s", timedelta(seconds=30), None),
        ("30m", timedelta(minutes=30), None),
        ("6h", timedelta(hours=6), None),
        ("1d", timedelta(days=1), None),
        ("0 9 * * MON", None, "0 9 * * MON"),
    ],
)
def test_parse_schedule(text, interval, cron):
    schedule = parse_schedule(text)
    assert (schedule.interval, schedule.cron) == (interval, cron)


@pytest.mark.parametrize("text", ["0s", "every day", "1y", "61 * * * *", ""])
def test_parse_schedule_rejects(text):
    with pytest.raises(ScheduleError):
        parse_schedule(text)


def test_cron_next_after():
    assert parse_schedule("0 9 * * MON").next_after(NOW) == datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_first_runs_keep_future_times_and_spread_the_overdue():
    due = {
        "future": NOW + timedelta(hours=2),
        "never": None,
        "late": NOW - timedelta(hours=3),
        "later": NOW - timedelta(hours=1),
    }
    runs = first_runs(due, NOW, timedelta(minutes=6))
    assert runs == {
        "future": NOW + timedelta(hours=2),
        "never": NOW,
        "late": NOW + timedelta(minutes=2),
        "later": NOW + timedelta(minutes=4),
    }


def test_redis_down_the_daemon_retries_with_backoff_and_alerts_once(
    tmp_path, page_server, json_receiver, daemons
):
    from conftest import free_port

    url = page_server.set("/privacy", seed_page())
    redis = f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0"
    config = write_config(
        tmp_path, [(NAME, url)], [json_receiver.url],
        extra=f'schedule = "2s"\n[cluster]\nredis = "{redis}"',
    )  # fmt: skip

    daemon = daemons(config)
    wait_for(lambda: "retrying in 10 s" in daemon.output(), seconds=30)
    code = daemon.stop()[0]

    log = daemon.output()
    assert code == 0
    assert "retrying in 5 s" in log and "retrying in 10 s" in log, log
    assert "s3cret-pass" not in log
    [alert] = json_receiver.messages
    assert (
        alert["title"].startswith("[policywatch] cluster redis://")
        and "unreachable" in alert["title"]
    )
    assert "s3cret-pass" not in json.dumps(alert)
    assert page_server.requests == [] and count(tmp_path / "store.db", "fetches") == 0


def test_a_service_outage_is_one_alert_and_one_recovery(tmp_path):
    from monitor.notify import note_service_problem
    from monitor.store import Store

    with Store(tmp_path / "s.db") as store:
        for error in ("connection refused", "connection refused", None, None):
            with store.transaction():
                note_service_problem(
                    store, ["json://127.0.0.1:9/x"], service="cluster redis://h:1/0",
                    error=error, at="2026-01-01T00:00:00+00:00",
                )  # fmt: skip
        titles = [alert["title"] for alert in store.alerts()]
    assert titles == [
        "[policywatch] cluster redis://h:1/0: unreachable",
        "[policywatch] cluster redis://h:1/0: recovered",
    ]
