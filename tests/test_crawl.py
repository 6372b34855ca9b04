"""End to end: real Scrapy crawls of a local server into a real SQLite file, real alerts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path

import pytest
import sqlite_utils

from monitor.demo import EDITS, PAGES, SEEDS, seed_to_html
from monitor.watch import POOL_PIPE_SIZE, READING_NICENESS, normalizing_pool

REPO = Path(__file__).resolve().parents[1]
NAME, SEED = PAGES["/ecomsters/privacy"]


def policywatch(*args: str, cwd: Path = REPO, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def write_config(
    tmp_path: Path, targets: list[tuple[str, str]], urls: list[str], extra: str = ""
) -> Path:
    config = tmp_path / "config.toml"
    if "confirm_delay" not in extra:  # confirming a change need not take the default 2 s here
        extra = f"confirm_delay = 0.2\n{extra}"
    lines = [extra, '[storage]\npath = "store.db"', f"[notify]\nurls = {json.dumps(urls)}"]
    lines += [f"[[targets]]\nname = {json.dumps(n)}\nurl = {json.dumps(u)}" for n, u in targets]
    config.write_text("\n\n".join(lines) + "\n")
    return config


def seed_page(edited: bool = False) -> str:
    page = seed_to_html(NAME, (SEEDS / SEED).read_text())
    for old, new in EDITS if edited else []:
        assert old in page
        page = page.replace(old, new)
    return page


def wait_for(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_change_is_stored_and_alerted_once_by_email_and_json(
    tmp_path, page_server, json_receiver, smtp_server
):
    url = page_server.set("/privacy", seed_page())
    mailto = (
        f"mailto://127.0.0.1:{smtp_server.port}?from=policywatch@example.com"
        "&to=legal@example.com&smtp=127.0.0.1"
    )
    config = write_config(tmp_path, [(NAME, url)], [json_receiver.url, mailto])

    first = policywatch("crawl", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert f"{NAME}: baseline" in first.stdout
    db = sqlite_utils.Database(tmp_path / "store.db")
    assert db["versions"].count == 1
    assert db["alerts"].count == 0
    assert json_receiver.messages == [] and smtp_server.messages == []

    page_server.set("/privacy", seed_page(edited=True))
    second = policywatch("crawl", "--config", str(config))
    assert second.returncode == 0, second.stderr
    assert f"{NAME}: changed" in second.stdout
    wait_for(lambda: smtp_server.messages and json_receiver.messages)

    [posted] = json_receiver.messages
    assert posted["title"].startswith(f"{NAME}: material change")
    assert "2025-01-01 → 2025-03-15" in posted["title"]
    assert "Information Sharing and Disclosure** — modified (material)" in posted["message"]
    assert "{+may sell+}" in posted["message"] and "sale" in posted["message"]
    [mail] = smtp_server.messages
    assert isinstance(mail, Message)
    subject = str(make_header(decode_header(mail["Subject"])))
    assert subject == posted["title"]
    assert mail["To"] == "legal@example.com"

    versions = list(db["versions"].rows_where(order_by="id"))
    assert [v["last_updated"] for v in versions] == ["2025-01-01", "2025-03-15"]
    [change] = list(db["changes"].rows)
    assert change["material"] and change["date_from"] == "2025-01-01"
    deliveries = list(db["deliveries"].rows)
    assert len(deliveries) == 2 and {d["status"] for d in deliveries} == {"sent"}

    third = policywatch("crawl", "--config", str(config))
    assert third.returncode == 0, third.stderr
    assert f"{NAME}: unchanged" in third.stdout
    time.sleep(0.5)
    assert len(json_receiver.messages) == 1 and len(smtp_server.messages) == 1
    assert db["versions"].count == 2
    assert db["fetches"].count == 3


def test_failed_target_exits_1_and_others_are_still_stored(tmp_path, page_server):
    good = page_server.set("/privacy", seed_page())
    missing = page_server.base + "/gone"
    config = write_config(tmp_path, [("good", good), ("gone", missing)], [])

    result = policywatch("crawl", "--config", str(config))

    assert result.returncode == 1
    assert "gone: failed: HTTP 404" in result.stdout
    db = sqlite_utils.Database(tmp_path / "store.db")
    assert [v["target"] for v in db["versions"].rows] == ["good"]
    assert {f["target"]: f["result"] for f in db["fetches"].rows} == {
        "good": "baseline",
        "gone": "failed",
    }


def test_selector_that_matches_nothing_fails_the_fetch_and_stores_no_version(tmp_path, page_server):
    url = page_server.set("/privacy", seed_page())
    config = write_config(tmp_path, [("x", url)], [])
    config.write_text(config.read_text() + 'select = [".policy-body"]\n')

    result = policywatch("crawl", "--config", str(config))

    assert result.returncode == 1
    assert "x: failed:" in result.stdout and ".policy-body" in result.stdout
    db = sqlite_utils.Database(tmp_path / "store.db")
    assert db["versions"].count == 0


def test_crawl_of_named_targets_only(tmp_path, page_server):
    a = page_server.set("/a", seed_page())
    b = page_server.set("/b", seed_page())
    config = write_config(tmp_path, [("a", a), ("b", b)], [])

    result = policywatch("crawl", "b", "--config", str(config))

    assert result.returncode == 0, result.stderr
    assert page_server.requests.count("/b") == 1 and "/a" not in page_server.requests


def test_meta_refresh_is_followed_from_a_long_page_and_only_from_its_head(tmp_path, page_server):
    """A long page (more than the 16 KB the crawler reads a refresh from) that sends the
    reader on with a meta refresh in its head is followed; one whose refresh comes only after
    the first 4,096 characters is not (Scrapy's rule), and is read as it is. Attribute names
    are read whatever their case."""
    padding = "<!-- " + "x" * 40_000 + " -->"
    moved = page_server.set(
        "/moved",
        f"<html><head><META HTTP-EQUIV='Refresh' content='0; url=/privacy'></head>"
        f"<body>{padding}<p>Redirecting.</p></body></html>",
    )
    late = page_server.set(
        "/late",
        seed_page().replace(
            "</body>", f"{padding}<meta http-equiv='refresh' content='0; url=/other'></body>"
        ),
    )
    page_server.set("/privacy", seed_page())
    config = write_config(tmp_path, [("moved", moved), ("late", late)], [])

    result = policywatch("crawl", "--config", str(config))

    assert result.returncode == 0, result.stderr
    assert "/privacy" in page_server.requests and "/other" not in page_server.requests
    db = sqlite_utils.Database(tmp_path / "store.db")
    fetches = {r["target"]: r for r in db["fetches"].rows}
    assert fetches["moved"]["final_url"] == page_server.base + "/privacy"
    assert fetches["late"]["final_url"] == late
    texts = {r["target"]: r["text"] for r in db["versions"].rows}
    assert texts["moved"] == texts["late"] and "Redirecting" not in texts["moved"]


def test_scrapy_crawl_policies_does_the_same_job(tmp_path, page_server, json_receiver):
    url = page_server.set("/privacy", seed_page())
    config = write_config(tmp_path, [(NAME, url)], [json_receiver.url])
    env = {"POLICYWATCH_CONFIG": str(config)}
    scrapy = [sys.executable, "-m", "scrapy", "crawl", "policies"]

    first = subprocess.run(scrapy, cwd=REPO, env={**os.environ, **env}, capture_output=True)
    page_server.set("/privacy", seed_page(edited=True))
    second = subprocess.run(scrapy, cwd=REPO, env={**os.environ, **env}, capture_output=True)

    assert first.returncode == 0 and second.returncode == 0, second.stderr
    db = sqlite_utils.Database(tmp_path / "store.db")
    assert db["versions"].count == 2
    wait_for(lambda: json_receiver.messages)
    assert [m["title"].split(":")[0] for m in json_receiver.messages] == [NAME]


def test_demo_prints_the_alert_for_the_changed_seed(json_receiver):
    result = policywatch("demo", "--notify", json_receiver.url)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Ecomsters privacy policy: material change" in result.stdout
    assert "Ecomgigs privacy policy: baseline" in result.stdout
    wait_for(lambda: json_receiver.messages)
    assert len(json_receiver.messages) == 1


def test_alert_to_a_receiver_that_is_down_stays_pending_and_is_delivered_once_later(
    tmp_path, page_server
):
    from conftest import JsonReceiver, free_port

    port = free_port()
    url = page_server.set("/privacy", seed_page())
    config = write_config(tmp_path, [(NAME, url)], [f"json://127.0.0.1:{port}/hook"])
    assert policywatch("crawl", "--config", str(config)).returncode == 0

    page_server.set("/privacy", seed_page(edited=True))
    down = policywatch("crawl", "--config", str(config))
    assert down.returncode == 0, down.stderr
    db = sqlite_utils.Database(tmp_path / "store.db")
    [delivery] = list(db["deliveries"].rows)
    assert delivery["status"] == "failed" and delivery["attempts"] == 1

    receiver = JsonReceiver(port)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        for _ in range(2):  # the next crawl delivers it; the one after sends nothing more
            assert policywatch("crawl", "--config", str(config)).returncode == 0
        wait_for(lambda: receiver.messages)
        time.sleep(0.3)
        assert [m["title"].split(":")[0] for m in receiver.messages] == [NAME]
        [delivery] = list(db["deliveries"].rows)
        assert delivery["status"] == "sent" and delivery["attempts"] == 2
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_a_crawl_does_not_load_what_it_does_not_use(tmp_path, page_server):
    """Scrapy imports every component it is given only to find out it is off; the two whose
    modules are heavy (aiohttp, tldextract) are left out of its base components. Apprise
    (nothing to deliver) and APScheduler (an interval schedule) are imported only when used."""
    url = page_server.set("/privacy", seed_page())
    config = write_config(tmp_path, [(NAME, url)], [])
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['policywatch', 'crawl', '--config', {str(config)!r}]\n"
        "try:\n"
        "    runpy.run_module('monitor', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('aiohttp', 'tldextract', 'apprise', 'apscheduler')\n"
        "print('loaded:', [name for name in heavy if name in sys.modules])\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert f"{NAME}: baseline" in result.stdout
    assert "loaded: []" in result.stdout


def _pipe_size(connection) -> int:
    import fcntl

    return fcntl.fcntl(connection.fileno(), fcntl.F_GETPIPE_SZ)


@pytest.mark.skipif(
    not Path("/proc/sys/fs/pipe-max-size").exists()
    or int(Path("/proc/sys/fs/pipe-max-size").read_text()) < POOL_PIPE_SIZE,
    reason="pipes cannot be sized here",
)
def test_a_crawls_pool_carries_a_large_page_through_pipes_that_hold_it_whole():
    pool = normalizing_pool()
    try:
        queues = (pool._call_queue, pool._result_queue)
        assert [_pipe_size(q._reader) for q in queues] == [POOL_PIPE_SIZE] * 2
        page = os.urandom(900_000)
        assert pool.submit(bytes, page).result(timeout=60) == page
    finally:
        pool.shutdown()


def test_a_crawls_pool_workers_read_below_the_crawls_priority():
    pool = normalizing_pool()
    try:
        below = min(os.nice(0) + READING_NICENESS, 19)  # 19: the lowest priority there is
        assert pool.submit(os.nice, 0).result(timeout=60) == below
    finally:
        pool.shutdown()


def test_a_fetch_is_timed_from_when_it_is_sent_not_from_when_it_was_scheduled(
    tmp_path, page_server
):
    """Eight pages, one request at a time, each answered in 0.3 s: the last waits 2 s in
    Scrapy's scheduler for the others. Each fetch is recorded as starting when it was sent,
    and as taking its own 0.3 s."""
    page_server.delay = 0.3
    targets = [(f"p{i}", page_server.set(f"/p{i}", seed_page())) for i in range(8)]
    extra = "[crawl]\nautothrottle = false\ndownload_delay = 0\nconcurrent_requests = 1"
    config = write_config(tmp_path, targets, [], extra=extra)

    result = policywatch("crawl", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr

    rows = list(sqlite_utils.Database(tmp_path / "store.db")["fetches"].rows)
    assert len(rows) == 8
    assert max(row["duration_ms"] for row in rows) < 1000
    starts = sorted(datetime.fromisoformat(row["started_at"]) for row in rows)
    assert (starts[-1] - starts[0]).total_seconds() >= 2  # 2.1 s, in whole seconds
