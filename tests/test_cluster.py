"""Cluster mode with real parts: Debian's redis-server, worker processes, pages served on
twenty loopback addresses, and the same crawl on one machine to compare with."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlite_utils
import tomlkit

from monitor.cluster import (
    InvalidResult,
    Keys,
    WorkItem,
    decode_result,
    decode_work_item,
    encode_result,
    encode_work_item,
    redact_redis_url,
)
from monitor.config import load_config
from monitor.normalize import normalize
from monitor.store import Validators
from monitor.watch import FetchedPage, observe

REPO = Path(__file__).resolve().parents[1]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
PASSWORD = "pw-Zq81xTt"
ADDRESSES = [f"127.0.0.{n}" for n in range(2, 22)]  # twenty loopback hosts
TARGETS = 300

needs_redis = pytest.mark.skipif(
    not os.access(REDIS_SERVER, os.X_OK),
    reason="redis-server is not installed (apt-get install redis-server; .ci/run does it)",
)


# -- real servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--requirepass", PASSWORD, "--dir", str(directory)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"redis://:{PASSWORD}@127.0.0.1:{self.port}/0"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


class Site:
    """The same pages (path → HTML) served on every address of ADDRESSES, one port each."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        self.servers = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = site.pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: object) -> None:
                pass

        for address in ADDRESSES:
            server = ThreadingHTTPServer((address, 0), Handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
            self.servers.append(server)

    def url(self, index: int, path: str) -> str:
        host, port = self.servers[index % len(self.servers)].server_address[:2]
        return f"http://{host}:{port}{path}"

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def site():
    served = Site()
    yield served
    served.close()


def policywatch(*args: str, env: dict | None = None, timeout: float = 150):
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def start_worker(config: Path, *extra: str) -> subprocess.Popen:
    """A worker process; its stderr goes to a worker-*.log beside the configuration."""
    log = config.parent / f"worker-{time.monotonic_ns()}.log"
    with log.open("w") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "worker", "--config", str(config), *extra],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def wait_for_workers(redis_server: RedisServer, count: int, seconds: float = 30) -> None:
    client = redis_server.client()
    deadline = time.monotonic() + seconds
    while len(list(client.scan_iter(match=Keys("policywatch").workers))) < count:
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.1)


def stop_workers(workers: list[subprocess.Popen]) -> list[int | None]:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    codes = []
    for worker in workers:
        try:
            codes.append(worker.wait(30))
        except subprocess.TimeoutExpired:
            worker.kill()
            codes.append(None)
    return codes


def write_config(
    path: Path, targets: list[dict], redis_url: str | None, result_timeout: float = 4, **top
) -> Path:
    document = tomlkit.document()
    for key, value in top.items():
        document[key] = value
    document["storage"] = {"path": "store.db"}
    if redis_url:
        document["cluster"] = {"redis": redis_url, "result_timeout": result_timeout}
    document["targets"] = tomlkit.aot()
    for target in targets:
        document["targets"].append(tomlkit.item(target))
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.toml").write_text(tomlkit.dumps(document))
    return path / "config.toml"


def result_lines(stdout: str) -> dict[str, str]:
    """`target: result` of each target line of a crawl's output."""
    lines = {}
    for line in stdout.splitlines():
        name, _, rest = line.partition(": ")
        if name.startswith("t") and name[1:].isdigit():
            lines[name] = rest.split(":")[0]
    return lines


def alerts(store: Path) -> Counter:
    db = sqlite_utils.Database(store)
    return Counter((row["kind"], row["target"], row["title"]) for row in db["alerts"].rows)


def shares(stdout: str) -> dict[str, int]:
    [line] = [line for line in stdout.splitlines() if line.startswith("cluster: ")]
    inside = line.split("(", 1)[1].split(")", 1)[0]
    parts = (part.rsplit(" ", 1) for part in inside.split(", "))
    return {worker: int(count) for worker, count in parts}


# -- the 300-page crawl ---------------------------------------------------------------------------


def corpus_targets(manifest: list[dict], site: Site) -> tuple[list[dict], list[tuple]]:
    """TARGETS targets over the corpus's pairs (cycled), each on one of the twenty hosts;
    and (path, before file, after file) for each."""
    pairs = [(entry, pair) for entry in manifest for pair in entry["pairs"]]
    targets, pages = [], []
    for index in range(TARGETS):
        entry, pair = pairs[index % len(pairs)]
        path = f"/t{index}"
        target = {"name": f"t{index}", "url": site.url(index, path)}
        for key in ("select", "remove"):
            if entry.get(key):
                target[key] = entry[key]
        targets.append(target)
        before, after = (f"{entry['id']}/{pair[key]}.html" for key in ("before", "after"))
        pages.append((path, before, after))
    return targets, pages


@needs_redis
def test_three_workers_crawl_300_pages_like_one_machine_even_when_one_is_killed(
    tmp_path, corpus, manifest, redis_server, site
):
    targets, pages = corpus_targets(manifest, site)
    # Politeness towards the loopback hosts lowered for the tests' sake, in both crawls.
    quick = {"confirm_delay": 0.5, "crawl": {"download_delay": 0.05, "autothrottle": False}}
    # A worker takes up to CONCURRENT_REQUESTS (128) of the 300 targets at once and reads them
    # one after the other: on a loaded 2-core machine its last answer can come more than 4 s
    # after the queue ran dry, and the targets were handed out again, then given up.
    cluster_config = write_config(
        tmp_path / "cluster", targets, redis_server.url, result_timeout=15, **quick
    )
    single_config = write_config(tmp_path / "single", targets, None, **quick)

    def serve(snapshot: int) -> None:
        for path, *files in pages:
            site.pages[path] = (corpus / files[snapshot]).read_bytes()

    serve(0)
    workers = [start_worker(cluster_config) for _ in range(3)]
    try:
        wait_for_workers(redis_server, 3)
        first = policywatch("crawl", "--config", str(cluster_config))
        single_first = policywatch("crawl", "--config", str(single_config))
        assert first.returncode == single_first.returncode, first.stderr
        assert result_lines(first.stdout) == result_lines(single_first.stdout)
        assert len(result_lines(first.stdout)) == TARGETS
        first_shares = shares(first.stdout)
        assert len(first_shares) == 3 and min(first_shares.values()) > 0
        assert sum(first_shares.values()) == TARGETS
        db = sqlite_utils.Database(tmp_path / "cluster" / "store.db")
        assert Counter(row["target"] for row in db["fetches"].rows) == {
            f"t{i}": 1 for i in range(TARGETS)
        }

        # The pages change; one worker is killed in the middle of the second crawl.
        serve(1)
        crawl = subprocess.Popen(
            [sys.executable, "-m", "monitor", "crawl", "--config", str(cluster_config)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while db["fetches"].count < TARGETS + 60:
            assert time.monotonic() < deadline and crawl.poll() is None, crawl.communicate()
            time.sleep(0.05)
        workers[0].kill()
        killed = f"{socket.gethostname()}:{workers[0].pid}"
        stdout, stderr = crawl.communicate(timeout=120)
        single_second = policywatch("crawl", "--config", str(single_config))
    finally:
        codes = stop_workers(workers)

    assert crawl.returncode == single_second.returncode, stderr
    assert result_lines(stdout) == result_lines(single_second.stdout)
    assert "handed out again" in stdout
    second_shares = shares(stdout)
    assert sum(second_shares.values()) == TARGETS and killed in second_shares
    cluster_alerts = alerts(tmp_path / "cluster" / "store.db")
    assert cluster_alerts == alerts(tmp_path / "single" / "store.db")
    assert set(cluster_alerts.values()) == {1}  # none doubled
    changes = Counter(target for kind, target, _ in cluster_alerts if kind == "change")
    assert set(changes.values()) == {1} and len(changes) >= 40
    assert Counter(row["target"] for row in db["fetches"].rows) == {
        f"t{i}": 2 for i in range(TARGETS)
    }
    assert codes[1:] == [0, 0]  # SIGTERM: the others finish their pages and exit 0
    assert redis_server.client().keys("policywatch:*") == []  # nothing left behind


# -- failures: Redis down, no worker --------------------------------------------------------------


@needs_redis
def test_redis_stopped_crawl_exits_1_naming_the_address_without_the_password(
    tmp_path, redis_server, site
):
    site.pages["/p"] = b"<h1>Privacy</h1><p>We collect your e-mail address to send receipts.</p>"
    config = write_config(
        tmp_path, [{"name": "p", "url": site.url(0, "/p")}], "redis://:${REDIS_PW}@127.0.0.1:"
        f"{redis_server.port}/0",
    )  # fmt: skip
    redis_server.stop()

    result = policywatch("crawl", "--config", str(config), env={"REDIS_PW": PASSWORD})

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: cannot reach Redis at redis://:****@127.0.0.1:{redis_server.port}/0:"
        f" Error 111 connecting to 127.0.0.1:{redis_server.port}. Connection refused."
    ]
    assert PASSWORD not in result.stdout + result.stderr
    db = sqlite_utils.Database(tmp_path / "store.db")
    assert db["fetches"].count == 0 and db["versions"].count == 0 and db["claims"].count == 0


@needs_redis
def test_no_worker_running_crawl_exits_1_and_hands_out_nothing(tmp_path, redis_server, site):
    config = write_config(tmp_path, [{"name": "p", "url": site.url(0, "/p")}], redis_server.url)

    result = policywatch("crawl", "--config", str(config))

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: no policywatch worker is running at redis://:****@127.0.0.1:{redis_server.port}/0"
        " (start one with: policywatch worker)"
    )
    assert redis_server.client().keys("*") == []


@needs_redis
def test_a_region_is_fetched_only_by_its_workers(tmp_path, redis_server, site):
    page = b"<h1>Privacy</h1><p>We collect your e-mail address to send receipts.</p>"
    targets = []
    for index, region in enumerate([None, None, "eu", "eu", "eu"]):
        site.pages[f"/r{index}"] = page
        targets.append({"name": f"t{index}", "url": site.url(index, f"/r{index}")})
        if region:
            targets[-1]["region"] = region
    config = write_config(tmp_path, targets, redis_server.url)
    workers = [start_worker(config), start_worker(config, "--region", "eu")]
    try:
        wait_for_workers(redis_server, 2)
        result = policywatch("crawl", "--config", str(config))
    finally:
        codes = stop_workers(workers)

    assert result.returncode == 0, result.stderr
    host = socket.gethostname()
    assert shares(result.stdout) == {f"{host}:{workers[0].pid}": 2, f"{host}:{workers[1].pid}": 3}
    assert codes == [0, 0]


# -- what crosses Redis ---------------------------------------------------------------------------


def test_a_work_item_carries_the_targets_settings(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        '[[targets]]\nname = "x"\nurl = "https://example.com/privacy"\nselect = ["main"]\n'
        'remove = [{startBefore = "#a", endAfter = "#b"}]\ntimeout = 12\nregion = "eu"\n'
        'tags = ["legal"]\nalert_on = "any"\n'
    )
    [target] = load_config(config).targets
    keys = Keys("policywatch")
    validators = Validators(etag='"v1"', last_modified=None, key="k")
    item = WorkItem("r1", keys.results("r1"), target, validators)

    assert decode_work_item(encode_work_item(item), keys) == item
    with pytest.raises(ValueError, match="outside"):
        decode_work_item(encode_work_item(WorkItem("r1", "elsewhere", target)), keys)


POLICY = (
    b"<html><body><main><h1>Privacy</h1><p>We collect your e-mail address and keep it for "
    b"two years.</p></main></body></html>"
)


def entry_for(page: FetchedPage, target_settings) -> dict[bytes, bytes]:
    fields = encode_result("r1", "host:1", observe(page, target_settings))
    return {key.encode(): value for key, value in fields.items()}


@pytest.fixture
def good_entry(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[[targets]]\nname = "x"\nurl = "https://example.com/p"\n')
    [target] = load_config(config).targets
    page = FetchedPage(
        "x", target.url, "2025-01-01T00:00:00+00:00", final_url=target.url, status=200,
        headers={"content-type": "text/html"}, body=POLICY, duration_ms=5,
    )  # fmt: skip
    return entry_for(page, target)


def test_a_result_comes_back_as_it_was_observed(good_entry):
    result = decode_result(good_entry)

    assert (result.round_id, result.worker) == ("r1", "host:1")
    assert result.observation.page.body == POLICY
    expected = normalize(POLICY, content_type="text/html", url="https://example.com/p")
    assert result.observation.document.fingerprint == expected.fingerprint


def _repack(entry: dict[bytes, bytes], change) -> dict[bytes, bytes]:
    from monitor.cluster import compress, decompress

    codec = entry[b"codec"].decode()
    meta = json.loads(decompress(entry[b"meta"], codec, 10**7))
    change(meta)
    return entry | {b"meta": compress(json.dumps(meta).encode(), codec)}


def _set(path: str, value):
    def change(meta: dict) -> None:
        *parents, last = path.split(".")
        for part in parents:
            meta = meta[part]
        meta[last] = value

    return change


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda e: e | {b"extra": b"1"}, "unexpected fields"),
        (lambda e: e | {b"codec": b"lzma"}, "unknown codec"),
        (lambda e: e | {b"meta": b"not compressed"}, "cannot decompress"),
        (lambda e: e | {b"meta": zlib.compress(b"\0" * (81 * 2**20)), b"codec": b"zlib"},
         "larger than"),
        (lambda e: _repack(e, _set("format", 2)), "format 2"),
        (lambda e: _repack(e, _set("page.status", "200")), "page.status: expected int"),
        (lambda e: _repack(e, _set("page.status", 999)), "not an HTTP status"),
        (lambda e: _repack(e, _set("page.started_at", "yesterday")), "not an ISO time"),
        (lambda e: _repack(e, _set("page.headers", {"x": 1})), "page.headers"),
        (lambda e: _repack(e, _set("document.title", 5)), "document.title"),
        (lambda e: _repack(e, _set("document.sections", [{"heading": "", "level": 0,
                                                          "blocks": [{"text": 3}]}])),
         "document block text"),
        (lambda e: _repack(e, _set("document.extra", 1)), "serialize back"),
        (lambda e: _repack(e, _set("document", None)), "neither a document nor an error"),
        (lambda e: _repack(e, _set("worker", "")), "worker"),
    ],
)  # fmt: skip
def test_a_result_that_is_not_one_is_refused(good_entry, tamper, message):
    with pytest.raises(InvalidResult, match=message):
        decode_result(tamper(good_entry))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:secret@10.0.0.5:6379/0", "redis://:****@10.0.0.5:6379/0"),
        ("rediss://app:secret@redis.example.com:6380/2", "rediss://app:****@redis.example.com:6380/2"),
        ("redis://10.0.0.5:6379/0?password=secret", "redis://10.0.0.5:6379/0"),
        ("redis://localhost", "redis://localhost"),
        ("unix:///run/redis.sock?password=secret", "unix:///run/redis.sock"),
    ],
)  # fmt: skip
def test_the_redis_password_is_never_shown(url, shown):
    assert redact_redis_url(url) == shown
