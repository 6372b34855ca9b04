"""Hostile and broken answers, crawled for real: each is retried where that helps, recorded as
a failed or suspect fetch with its reason, and never becomes a version or a change alert; the
healthy targets of the same crawl are unaffected, and memory stays bounded.

Most faults are crawled together (three crawls in all): a baseline of good pages, a crawl
where every target misbehaves, and a crawl where the pages come back. Each target has its own
loopback address (127.0.0.N), so Scrapy's per-host politeness does not queue them.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlite_utils
from conftest import JsonReceiver, free_port
from test_crawl import policywatch

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024

# -- pages ---------------------------------------------------------------------------------

TOPICS = [
    "Information We Collect",
    "How We Use Information",
    "Données et cookies",
    "Sharing With Partners",
    "Data Retention",
    "Your Rights",
    "International Transfers",
    "Security Measures",
    "Children",
    "Changes to This Policy",
    "Contact Us",
    "Governing Law",
]


def policy_html(*, sections: int = len(TOPICS), extra: str = "", charset: str = "utf-8") -> str:
    """A policy page with numbered sections, accented text and a stated date."""
    parts = [
        f'<!doctype html><html lang="en"><head><meta charset="{charset}">'
        "<title>Privacy Policy | Example</title></head><body><main>",
        "<h1>Privacy Policy</h1><p>Last Updated: January 1, 2025</p>",
    ]
    for number, topic in enumerate(TOPICS[:sections], 1):
        parts.append(f"<h2>{number}. {html.escape(topic)}</h2>")
        parts.append(
            f"<p>Section {number} explains how Example handles personal information about"
            f" {topic.lower()}, including the données we keep, why we keep them and for how"
            " long, and the choices you have about them at any time.</p>"
            "<p>We review these practices every year and describe any change here first.</p>"
        )
    parts.append(f"<p>{extra}</p></main></body></html>" if extra else "</main></body></html>")
    return "".join(parts)


GOOD = policy_html()
EDITED = policy_html(extra="We may now sell your personal information to data brokers.")
SHRUNK = policy_html(sections=1)
_CUT = GOOD.index("how long", len(GOOD) * 6 // 10)
TRUNCATED = GOOD[:_CUT]  # ends mid-sentence: the server cut it off
CHALLENGE = (
    "<html><head><title>Just a moment...</title></head><body>"
    '<div id="challenge-running">Checking if the site connection is secure</div>'
    '<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1"></script></body></html>'
)
CAPTCHA = (
    "<html><head><title>Security check</title></head><body>"
    '<form action="/captcha/verify"><div class="g-recaptcha" data-sitekey="k"></div>'
    "<p>Please complete the security check to access the site.</p></form></body></html>"
)
ERROR_PAGE = (
    "<html><head><title>Page not found</title></head><body><h1>Oops! Page not found</h1>"
    "<p>The page you are looking for does not exist. Go back to the home page.</p></body></html>"
)
HOME = "<html><body><h1>Example</h1><p>Welcome to Example, the best dating app.</p></body></html>"
LOGIN = (
    "<html><body><h1>Sign in</h1><form><input name=user><input type=password name=pw>"
    "</form><p>Forgot your password?</p></body></html>"
)
DEEP = (
    "<html><body>" + "<div>" * 10_000 + "<p>Deep text.</p>" + "</div>" * 10_000 + "</body></html>"
)
BINARY = bytes(range(256)) * 64


def gzip_bomb(size: int = 100 * MB) -> bytes:
    """`size` bytes of spaces, gzipped to about a thousandth of that."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b" " * MB
    return b"".join(compressor.compress(chunk) for _ in range(size // MB)) + compressor.flush()


# -- a server that misbehaves on request ---------------------------------------------------

Responder = Callable[["_FaultHandler"], None]


def page(body: str | bytes, status: int = 200, content_type: str = "text/html; charset=utf-8",
         headers: dict[str, str] | None = None) -> Responder:  # fmt: skip
    data = body.encode() if isinstance(body, str) else body

    def respond(handler: _FaultHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    return respond


def redirect(location: str) -> Responder:
    return page(b"", 302, headers={"Location": location})


def slow_headers(seconds: float) -> Responder:
    def respond(handler: _FaultHandler) -> None:
        time.sleep(seconds)
        page(GOOD)(handler)

    return respond


def slow_body(seconds: float) -> Responder:
    data = GOOD.encode()

    def respond(handler: _FaultHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data[:100])
        handler.wfile.flush()
        time.sleep(seconds)
        handler.wfile.write(data[100:])

    return respond


def cut_transfer(handler: _FaultHandler) -> None:
    """Announces the whole page, sends half, closes: a transfer that broke."""
    data = GOOD.encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data[: len(data) // 2])
    handler.close_connection = True


def huge(size: int, announce: bool) -> Responder:
    chunk = b"<p>" + b"a" * (MB - 8) + b"</p>\n"

    def respond(handler: _FaultHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        if announce:
            handler.send_header("Content-Length", str(size))
        handler.end_headers()
        for _ in range(size // len(chunk)):
            handler.wfile.write(chunk)

    return respond


def in_turn(*responders: Responder) -> Responder:
    """The first responder for the first request, and so on; the last one from then on."""
    calls = iter(range(len(responders)))

    def respond(handler: _FaultHandler) -> None:
        responders[min(next(calls, len(responders) - 1), len(responders) - 1)](handler)

    return respond


@dataclass
class Routes:
    """Path → responder, shared by all the servers; and every request seen, with its time."""

    responders: dict[str, Responder] = field(default_factory=dict)
    requests: list[tuple[str, float]] = field(default_factory=list)

    def count(self, path: str) -> int:
        return sum(1 for seen, _ in self.requests if seen == path)

    def times(self, path: str) -> list[float]:
        return [at for seen, at in self.requests if seen == path]


class _FaultServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str, routes: Routes) -> None:
        super().__init__((host, 0), _FaultHandler)
        self.routes = routes


class _FaultHandler(BaseHTTPRequestHandler):
    server: _FaultServer

    def do_GET(self) -> None:  # noqa: N802
        routes = self.server.routes
        routes.requests.append((self.path, time.monotonic()))
        responder = routes.responders.get(self.path, page(b"not found", 404, "text/plain"))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            responder(self)  # a broken pipe: the crawler gave up on this answer, as it should

    def log_message(self, format: str, *args: object) -> None:
        pass


class Hosts:
    """One server per loopback address, all answering from the same routes."""

    def __init__(self) -> None:
        self.routes = Routes()
        self.servers: list[_FaultServer] = []

    def url(self, path: str) -> str:
        server = _FaultServer(f"127.0.0.{len(self.servers) + 2}", self.routes)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.servers.append(server)
        host, port = server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


# -- the three crawls ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    name: str
    path: str
    during: Responder  # what the path serves in the second crawl
    result: str  # the second crawl's recorded result
    reason: str  # in the recorded error
    requests: int | None  # requests the second crawl made (None: not a loopback server)
    timeout: float | None = None


def _faults() -> list[Fault]:
    latin1_label = page(GOOD.encode(), content_type="text/html; charset=iso-8859-1")
    cp1252_bytes = GOOD.replace('charset="utf-8"', 'charset="x"').encode("cp1252")
    no_charset = GOOD.replace('<meta charset="utf-8">', "").encode()
    return [
        Fault("slow headers", "/slow-headers", slow_headers(3), "failed", "timed out", 3, 1),
        Fault("slow body", "/slow-body", slow_body(3), "failed", "timed out", 3, 1),
        Fault("403", "/forbidden", page(b"no", 403, "text/plain"), "failed", "HTTP 403", 1),
        Fault("404", "/gone", page(b"", 404), "failed", "HTTP 404", 1),
        Fault("410", "/removed", page(b"", 410), "failed", "HTTP 410", 1),
        Fault("500", "/crash", page(b"oops", 500), "failed", "HTTP 500", 3),
        Fault("503", "/busy", page(b"later", 503), "failed", "HTTP 503", 3),
        Fault(
            "429 then ok",
            "/throttled",
            in_turn(page(b"", 429, headers={"Retry-After": "1"}), page(GOOD)),
            "unchanged",
            "",
            2,
        ),
        Fault(
            "429 for an hour",
            "/throttled-long",
            page(b"", 429, headers={"Retry-After": "3600"}),
            "failed",
            "HTTP 429 (Retry-After: 3600)",
            1,
        ),
        Fault("redirect loop", "/loop", redirect("/loop-b"), "failed", "redirect loop", 6),
        Fault("to home page", "/moved", redirect("/"), "failed", "redirected to the home", 1),
        Fault("to login", "/members", redirect("/login?next=/members"), "failed", "login", 1),
        Fault("empty 200", "/empty", page(b""), "failed", "no text", 1),
        Fault("challenge", "/challenge", page(CHALLENGE, 503), "failed", "HTTP 503", 3),
        Fault("challenge 200", "/challenge-200", page(CHALLENGE), "failed", "bot-challenge", 1),
        Fault("captcha", "/captcha", page(CAPTCHA), "failed", "bot-challenge", 1),
        Fault("50 MB announced", "/big", huge(50 * MB, True), "failed", "size limit", 1),
        Fault("50 MB streamed", "/big-stream", huge(50 * MB, False), "failed", "size limit", 1),
        Fault(
            "gzip bomb",
            "/bomb",
            page(gzip_bomb(), headers={"Content-Encoding": "gzip"}),
            "failed",
            "decompressed page is larger than the download size limit",
            1,
        ),
        Fault("binary as html", "/binary", page(BINARY), "failed", "is not a text", 1),
        Fault("utf-8 labelled latin-1", "/latin1-label", latin1_label, "unchanged", "", 1),
        Fault(
            "cp1252 labelled utf-8",
            "/cp1252",
            page(cp1252_bytes, content_type="text/html; charset=utf-8"),
            "unchanged",
            "",
            1,
        ),
        Fault(
            "no charset",
            "/no-charset",
            page(no_charset, content_type="text/html"),
            "unchanged",
            "",
            1,
        ),  # fmt: skip
        Fault("cut transfer", "/cut", cut_transfer, "failed", "truncated", 3),
        Fault("truncated html", "/truncated", page(TRUNCATED), "suspect", "mid-document", 1),
        Fault("10,000 levels", "/deep", page(DEEP), "failed", "too deeply", 1),
        Fault("shrinks by 90%", "/shrunk", page(SHRUNK), "suspect", "shrank to 9%", 1),
        Fault("error page 200", "/soft-404", page(ERROR_PAGE), "suspect", "error or challenge", 1),
    ]


FAULTS = _faults()
UNREACHABLE = {
    "unresolvable host": ("http://policy.invalid/privacy", "cannot resolve the host name"),
    "connection refused": (f"http://127.0.0.1:{free_port()}/privacy", "connection refused"),
}


@dataclass
class FaultRun:
    db: sqlite_utils.Database
    hosts: Hosts
    receiver: JsonReceiver
    outputs: list[subprocess.CompletedProcess]
    seconds: list[float]
    crawl_ids: list[tuple[int, int]]  # fetch ids of each crawl: (first, last)
    peak_rss_mb: float

    def fetch(self, target: str, crawl: int) -> dict:
        first, last = self.crawl_ids[crawl]
        [row] = self.db["fetches"].rows_where(
            "target = ? and id between ? and ?", [target, first, last]
        )
        return row

    def versions(self, target: str) -> int:
        return self.db["versions"].count_where("target = ?", [target])

    def alerts(self, kind: str) -> list[dict]:
        return list(self.db["alerts"].rows_where("kind = ?", [kind], order_by="id"))


def _config(tmp: Path, targets: list[tuple[str, str, float | None]], receiver: str) -> Path:
    lines = [
        'alert_on = "any"\ntimeout = 5\nfailure_threshold = 2',
        '[storage]\npath = "store.db"',
        f"[notify]\nurls = {json.dumps([receiver])}",
    ]
    for name, url, timeout in targets:
        entry = f"[[targets]]\nname = {json.dumps(name)}\nurl = {json.dumps(url)}"
        lines.append(entry + (f"\ntimeout = {timeout}" if timeout else ""))
    path = tmp / "config.toml"
    path.write_text("\n\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> FaultRun:
    tmp = tmp_path_factory.mktemp("faults")
    hosts = Hosts()
    receiver = JsonReceiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    routes = hosts.routes.responders
    routes.update({"/": page(HOME), "/login?next=/members": page(LOGIN)})
    routes.update({"/loop-b": redirect("/loop")})
    targets = [(f.name, hosts.url(f.path), f.timeout) for f in FAULTS]
    targets += [("healthy, changed", hosts.url("/healthy-changed"), None)]
    targets += [("healthy, same", hosts.url("/healthy-same"), None)]
    targets += [(name, url, None) for name, (url, _) in UNREACHABLE.items()]
    config = _config(tmp, targets, receiver.url)
    store = tmp / "store.db"

    def crawl() -> None:
        first = _last_fetch_id(store) + 1
        hosts.routes.requests.clear()
        started = time.monotonic()
        outputs.append(policywatch("crawl", "--config", str(config)))
        seconds.append(time.monotonic() - started)
        crawl_ids.append((first, _last_fetch_id(store)))

    outputs: list[subprocess.CompletedProcess] = []
    seconds: list[float] = []
    crawl_ids: list[tuple[int, int]] = []
    try:
        for fault in FAULTS:
            routes[fault.path] = page(GOOD)
        routes["/healthy-changed"] = routes["/healthy-same"] = page(GOOD)
        crawl()
        for fault in FAULTS:
            routes[fault.path] = fault.during
        routes["/healthy-changed"] = page(EDITED)
        crawl()
        requests_of_fault_crawl = list(hosts.routes.requests)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        for fault in FAULTS:
            routes[fault.path] = page(SHRUNK if fault.path == "/shrunk" else GOOD)
        crawl()
        hosts.routes.requests[:] = requests_of_fault_crawl
        yield FaultRun(
            db=sqlite_utils.Database(store),
            hosts=hosts,
            receiver=receiver,
            outputs=outputs,
            seconds=seconds,
            crawl_ids=crawl_ids,
            peak_rss_mb=peak,
        )
    finally:
        hosts.close()
        receiver.shutdown()
        receiver.server_close()


def _last_fetch_id(store: Path) -> int:
    if not store.exists():
        return 0
    with sqlite3.connect(store) as conn:
        return conn.execute("select coalesce(max(id), 0) from fetches").fetchone()[0]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_is_recorded_with_its_reason_and_changes_nothing(run, fault):
    fetch = run.fetch(fault.name, 1)
    assert fetch["result"] == fault.result, fetch["error"]
    assert fault.reason in (fetch["error"] or ""), fetch["error"]
    if fault.requests is not None:
        assert run.hosts.routes.count(fault.path) == fault.requests
    assert run.versions(fault.name) == (2 if fault.path == "/shrunk" else 1)
    changes = list(run.db["changes"].rows_where("target = ?", [fault.name]))
    assert len(changes) == (1 if fault.path == "/shrunk" else 0)
    printed = f"{fault.name}: {fault.result}"
    assert printed in run.outputs[1].stdout


@pytest.mark.parametrize(
    ("name", "url", "reason"),
    [(n, u, r) for n, (u, r) in UNREACHABLE.items()],
    ids=list(UNREACHABLE),  # the URL holds a free port, different in each test process
)
def test_unreachable_targets_fail_with_their_reason(run, name, url, reason):
    for crawl in (0, 1):
        fetch = run.fetch(name, crawl)
        assert fetch["result"] == "failed" and reason in fetch["error"], fetch["error"]
    assert run.versions(name) == 0


def test_retry_after_is_waited_for(run):
    first, second = run.hosts.routes.times("/throttled")
    assert second - first >= 1.0


def test_only_the_healthy_change_alerts_and_operational_alerts_follow_the_rules(run):
    # the second crawl's only change alert; the third crawl's is the confirmed collapse
    changes = [a for a in run.alerts("change") if a["target"] != "shrinks by 90%"]
    assert [a["target"] for a in changes] == ["healthy, changed"]
    assert any(m["title"] == changes[0]["title"] for m in run.receiver.messages)
    assert run.fetch("healthy, changed", 1)["result"] == "changed"
    assert run.fetch("healthy, same", 1)["result"] == "unchanged"
    operational = {(a["target"], a["title"].split(": ", 1)[1]) for a in run.alerts("operational")}
    # page-shape problems at once; fetch failures once failure_threshold (2) runs failed; then
    # a "recovered" alert for each of them that came back in the third crawl
    assert operational == {
        ("unresolvable host", "failing 2 runs in a row"),
        ("connection refused", "failing 2 runs in a row"),
        ("empty 200", "no policy text found on the page (blocked or redesigned?)"),
        ("empty 200", "recovered"),
        ("challenge 200", "the site serves a bot-challenge page instead of the policy"),
        ("challenge 200", "recovered"),
        ("captcha", "the site serves a bot-challenge page instead of the policy"),
        ("captcha", "recovered"),
    }


def test_a_collapse_that_persists_becomes_a_change_with_a_warning(run):
    fetch = run.fetch("shrinks by 90%", 2)
    assert fetch["result"] == "changed"
    [change] = run.db["changes"].rows_where("target = ?", ["shrinks by 90%"])
    assert change["summary"].startswith("Warning: the text shrank to 9% of the last version")
    assert "came back 2 fetches in a row" in change["summary"]
    [alert] = [a for a in run.alerts("change") if a["target"] == "shrinks by 90%"]
    assert "WARNING: the text shrank to 9%" in alert["title"]
    titles = [m["title"] for m in run.receiver.messages]
    assert alert["title"] in titles


def test_pages_that_came_back_are_unchanged(run):
    for fault in FAULTS:
        if fault.path != "/shrunk":
            assert run.fetch(fault.name, 2)["result"] == "unchanged", fault.name


def test_crawls_are_fast_and_memory_stays_bounded(run):
    print(f"crawl seconds: {[round(s, 1) for s in run.seconds]}; peak RSS {run.peak_rss_mb:.0f} MB")
    assert run.outputs[1].returncode == 1  # some targets failed
    assert max(run.seconds) < 30
    assert run.peak_rss_mb < 400


# -- file:// targets ---------------------------------------------------------------------------


def test_file_url_is_crawled_only_when_allowed(tmp_path):
    policy = tmp_path / "policy.html"
    policy.write_text(GOOD)
    config = tmp_path / "config.toml"
    target = f'[[targets]]\nname = "local"\nurl = "{policy.as_uri()}"\n'
    config.write_text('[storage]\npath = "store.db"\n' + target)
    refused = policywatch("crawl", "--config", str(config))
    assert refused.returncode == 2 and "allow_file_urls = true" in refused.stderr

    config.write_text('allow_file_urls = true\n[storage]\npath = "store.db"\n' + target)
    result = policywatch("crawl", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "local: baseline" in result.stdout
    [version] = sqlite_utils.Database(tmp_path / "store.db")["versions"].rows
    assert version["text"].startswith("# Privacy Policy")


# -- crash safety: SIGKILL at the worst moments ------------------------------------------------


def _start_crawl(config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "crawl", "--config", str(config)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_when(process: subprocess.Popen, ready: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        assert process.poll() is None, "the crawl ended before the moment to kill it"
        assert time.monotonic() < deadline, "the moment to kill the crawl never came"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def assert_nothing_left_running(store: Path, seconds: float = 10) -> None:
    """No process of the killed crawl (a pool worker, its fork server) still has the store
    open once a few seconds have passed."""
    deadline = time.monotonic() + seconds
    while (holders := _processes_with_open(store)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert holders == []


def _processes_with_open(path: Path) -> list[int]:
    holders = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        if fd_dir.parent.name == str(os.getpid()):
            continue  # the test's own connections
        with contextlib.suppress(OSError):
            if any(os.readlink(fd).startswith(str(path)) for fd in fd_dir.iterdir()):
                holders.append(int(fd_dir.parent.name))
    return holders


def _count(store: Path, sql: str, *args: object) -> int:
    with sqlite3.connect(store, timeout=30) as conn:
        return conn.execute(sql, args).fetchone()[0]


def assert_store_is_whole(store: Path) -> None:
    """Opens cleanly, and holds nothing half-written: every version has its fetch, every
    changed or baseline fetch its version, every change its alert (alert_on = "any"), every
    alert its delivery."""
    with sqlite3.connect(store) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    checks = {
        "version without its fetch": "select count(*) from versions v"
        " where not exists (select 1 from fetches f where f.id = v.fetch_id)",
        "fetch without its version": "select count(*) from fetches f"
        " where f.result in ('baseline', 'changed')"
        " and not exists (select 1 from versions v where v.fetch_id = f.id)",
        "change without its alert": "select count(*) from changes c"
        " where not exists (select 1 from alerts a where a.change_id = c.id)",
        "alert without a delivery": "select count(*) from alerts a"
        " where not exists (select 1 from deliveries d where d.alert_id = a.id)",
    }
    assert {name: _count(store, sql) for name, sql in checks.items()} == dict.fromkeys(checks, 0)


class SlowReceiver(JsonReceiver):
    """Keeps each message, then holds the answer: a send in progress for `hold` seconds."""

    hold = 20.0

    def __init__(self) -> None:
        ThreadingHTTPServer.__init__(self, ("127.0.0.1", 0), _SlowJsonHandler)
        self.messages: list[dict] = []


class _SlowJsonHandler(BaseHTTPRequestHandler):
    server: SlowReceiver

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.server.messages.append(json.loads(self.rfile.read(length)))
        time.sleep(self.server.hold)
        with contextlib.suppress(OSError):
            self.send_response(200)
            self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hosts():
    hosts = Hosts()
    yield hosts
    hosts.close()


@pytest.fixture
def receiver():
    receiver = JsonReceiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    yield receiver
    receiver.shutdown()
    receiver.server_close()


def test_killed_while_requests_are_in_flight(tmp_path, hosts, receiver):
    routes = hosts.routes.responders
    routes["/a"] = routes["/b"] = slow_headers(3)
    targets = [("a", hosts.url("/a"), None), ("b", hosts.url("/b"), None)]
    config = _config(tmp_path, targets, receiver.url)
    store = tmp_path / "store.db"

    crawl = _start_crawl(config)
    _kill_when(crawl, lambda: hosts.routes.count("/a") and hosts.routes.count("/b"))

    assert_store_is_whole(store)
    assert _count(store, "select count(*) from fetches") == 0
    routes["/a"] = routes["/b"] = page(GOOD)
    result = policywatch("crawl", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "a: baseline" in result.stdout and "b: baseline" in result.stdout
    assert_store_is_whole(store)
    assert _count(store, "select count(*) from versions") == 2


def test_killed_after_the_first_target_is_stored_its_alert_is_sent_once_later(
    tmp_path, hosts, receiver
):
    routes = hosts.routes.responders
    routes["/a"] = routes["/b"] = page(GOOD)
    targets = [("a", hosts.url("/a"), None), ("b", hosts.url("/b"), None)]
    config = _config(tmp_path, targets, receiver.url)
    store = tmp_path / "store.db"
    assert policywatch("crawl", "--config", str(config)).returncode == 0

    routes["/a"], routes["/b"] = page(EDITED), slow_headers(4)
    crawl = _start_crawl(config)
    _kill_when(crawl, lambda: _count(store, "select count(*) from changes") == 1)

    assert_nothing_left_running(store)
    assert_store_is_whole(store)
    assert _count(store, "select count(*) from deliveries where status = 'pending'") == 1
    assert receiver.messages == []
    routes["/b"] = page(GOOD)
    for _ in range(2):  # the next crawl sends the alert; the one after sends nothing more
        result = policywatch("crawl", "--config", str(config))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "a: unchanged" in result.stdout and "b: unchanged" in result.stdout
    time.sleep(0.3)
    assert [m["title"].split(":")[0] for m in receiver.messages] == ["a"]
    assert_store_is_whole(store)
    assert _count(store, "select count(*) from versions") == 3


def test_killed_during_alert_delivery_the_alert_is_neither_lost_nor_sent_again_next_run(
    tmp_path, hosts
):
    from monitor.config import load_config
    from monitor.notify import SENDING_LEASE, deliver_pending
    from monitor.store import Store

    slow = SlowReceiver()
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    try:
        routes = hosts.routes.responders
        routes["/a"] = page(GOOD)
        config = _config(tmp_path, [("a", hosts.url("/a"), None)], slow.url)
        store = tmp_path / "store.db"
        assert policywatch("crawl", "--config", str(config)).returncode == 0

        routes["/a"] = page(EDITED)
        crawl = _start_crawl(config)
        _kill_when(crawl, lambda: len(slow.messages) == 1)

        assert_store_is_whole(store)
        assert _count(store, "select count(*) from deliveries where status = 'sending'") == 1
        slow.hold = 0
        result = policywatch("crawl", "--config", str(config))
        assert result.returncode == 0 and "a: unchanged" in result.stdout
        time.sleep(0.3)
        assert len(slow.messages) == 1  # the claim is younger than the lease: not sent again

        # Not lost either: once the lease is over, a send that may have failed is made again
        # (at-least-once: the receiver got it before the kill, so it now has it twice).
        later = datetime.now(UTC) + SENDING_LEASE + timedelta(seconds=1)
        with Store(store) as opened:
            [sent] = deliver_pending(opened, load_config(config).notify_urls, now=later)
        assert sent.error is None and len(slow.messages) == 2
        assert _count(store, "select count(*) from deliveries where status = 'sent'") == 1
    finally:
        slow.shutdown()
        slow.server_close()


# -- page text is untrusted ----------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
PAYLOADS = (
    "<script>document.title='pwned'</script>",
    "<img src=x onerror=\"document.body.insertAdjacentHTML('beforeend','<b id=pwned></b>')\">",
)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (headless)")
def test_markup_in_policy_text_renders_inert_in_the_html_report(tmp_path):
    from monitor.diff import compare
    from monitor.normalize import normalize
    from monitor.report import html_report

    escaped = " ".join(html.escape(p) for p in PAYLOADS)
    before = normalize(GOOD.encode(), content_type="text/html")
    after = normalize(policy_html(extra=escaped).encode(), content_type="text/html")
    assert all(p in after.text for p in PAYLOADS)  # the page's text holds the markup as text
    change = compare(before, after)
    report = tmp_path / "report.html"
    report.write_text(html_report("x", "https://example.com", change, title="x: change"))

    dom = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
         report.as_uri()],
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "<title>pwned</title>" not in dom and 'id="pwned"' not in dom
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
