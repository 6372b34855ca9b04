"""Shared fixtures: the corpus beside the checkout, free loopback ports."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POLICYWATCH_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "policy-corpus"
SEEDS = SHARED / "seeds"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"policy corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def manifest(corpus: Path) -> list[dict]:
    return json.loads((corpus / "manifest.json").read_text())


@pytest.fixture(scope="session")
def seeds() -> Path:
    if not SEEDS.is_dir():
        pytest.skip(f"seed policies not found at {SEEDS}")
    return SEEDS


# -- real servers on loopback -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PageServer(ThreadingHTTPServer):
    """Serves `pages` (path → (status, content type, body)); tests change them between crawls."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _PageHandler)
        self.pages: dict[str, tuple[int, str, bytes]] = {}
        self.requests: list[str] = []
        self.delay = 0.0  # seconds before each answer, to keep a crawl in flight

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def set(self, path: str, body: str | bytes, status: int = 200,
            content_type: str = "text/html; charset=utf-8") -> str:  # fmt: skip
        self.pages[path] = (status, content_type, body.encode() if isinstance(body, str) else body)
        return self.base + path


class _PageHandler(BaseHTTPRequestHandler):
    server: PageServer

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests.append(self.path)
        time.sleep(self.server.delay)
        status, content_type, body = self.server.pages.get(
            self.path, (404, "text/plain", b"not found")
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class JsonReceiver(ThreadingHTTPServer):
    """A local endpoint for Apprise's json:// URLs: keeps every message it receives."""

    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _JsonHandler)
        self.messages: list[dict] = []

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server_address[1]}/hook"


class _JsonHandler(BaseHTTPRequestHandler):
    server: JsonReceiver

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.server.messages.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(server: ThreadingHTTPServer):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def page_server():
    yield from _serve(PageServer())


@pytest.fixture
def json_receiver():
    yield from _serve(JsonReceiver())


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free loopback port; `.messages` holds what arrived."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    class Keep(Message):
        def __init__(self) -> None:
            super().__init__()
            self.messages: list = []

        def handle_message(self, message) -> None:
            self.messages.append(message)

    handler = Keep()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()
