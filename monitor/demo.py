"""`policywatch demo`: the whole loop, offline, on the two seed policies.

It serves the seeds as HTML pages (with the usual page furniture around them) on 127.0.0.1,
crawls them into a temporary store, edits one (a new Last Updated date and a rewritten
sharing clause), crawls again and prints the alert that the second crawl produced. Each crawl
is a `policywatch crawl` child process, as a user would run it.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from monitor.store import Store

SEEDS = Path(__file__).with_name("demo_seeds")
PAGES = {
    "/ecomsters/privacy": ("Ecomsters privacy policy", "ecomsters-privacy-policy.txt"),
    "/ecomgigs/privacy": ("Ecomgigs privacy policy", "ecomgigs-privacy-policy.txt"),
}
EDITS = [
    ("Last Updated: January 1, 2025", "Last Updated: March 15, 2025"),
    (
        "We respect your privacy and do not sell, trade, or rent your personal information to"
        " third parties.",
        "We may sell or share your personal information with advertising partners and data"
        " brokers.",
    ),
]

_NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S")
_BULLET = re.compile(r"^\s*[•*\-]\s+")
_DIGIT = re.compile(r"\d")


def seed_to_html(title: str, text: str) -> str:
    """A plausible policy page: the seed's lines as headings, lists and paragraphs."""
    body: list[str] = []
    in_list = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if _BULLET.match(raw):
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{html.escape(_BULLET.sub('', raw))}</li>")
            continue
        if in_list:
            body.append("</ul>")
            in_list = False
        numbered = _NUMBERED.match(line)
        if numbered and len(line) < 100:
            level = 2 if "." not in numbered.group(1) else 3
            body.append(f"<h{level}>{html.escape(line)}</h{level}>")
        elif len(line) < 70 and not line.endswith((".", ",", ";")) and not _DIGIT.search(line):
            body.append(f"<h3>{html.escape(line)}</h3>")
        else:
            body.append(f"<p>{html.escape(line)}</p>")
    if in_list:
        body.append("</ul>")
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        "<header><nav><a href='/'>Home</a> <a href='/pricing'>Pricing</a></nav></header>"
        f"<main><article>{''.join(body)}</article></main>"
        "<footer><p>© Demo Inc. All rights reserved.</p></footer>"
        "<div id='cookie-banner'>We use cookies. <button>Accept</button></div>"
        "</body></html>"
    )


class _Site(ThreadingHTTPServer):
    pages: dict[str, bytes]


class _Handler(BaseHTTPRequestHandler):
    server: _Site

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        page = self.server.pages.get(self.path)
        self.send_response(200 if page else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(page or b"not found")

    def log_message(self, format: str, *args: object) -> None:  # keep the demo's output clean
        pass


def run_demo(notify_urls: tuple[str, ...], echo: Callable[[str], None] = print) -> int:
    site = _Site(("127.0.0.1", 0), _Handler)
    site.pages = {
        path: seed_to_html(title, (SEEDS / seed).read_text(encoding="utf-8")).encode()
        for path, (title, seed) in PAGES.items()
    }
    threading.Thread(target=site.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{site.server_address[1]}"
    try:
        with tempfile.TemporaryDirectory(prefix="policywatch-demo-") as tmp:
            config = Path(tmp) / "config.toml"
            config.write_text(_demo_config(base, notify_urls), encoding="utf-8")
            echo(f"Serving the seed policies at {base}; store in {tmp}")
            echo("\n== First crawl: a baseline for each page, no alert ==")
            if _crawl(config, echo):
                return 1
            path = "/ecomsters/privacy"
            text = site.pages[path].decode()
            for old, new in EDITS:
                text = text.replace(old, new)
            site.pages[path] = text.encode()
            echo("\n== The Ecomsters page changes: new date, sharing clause rewritten ==")
            echo("\n== Second crawl ==")
            if _crawl(config, echo):
                return 1
            with Store(Path(tmp) / "policywatch.db") as store:
                alerts = store.alerts()
            if not alerts:
                echo("No alert was produced.")
                return 1
            for alert in alerts:
                echo(f"\n== Alert ==\n{alert['title']}\n\n{alert['body']}")
            return 0
    finally:
        site.shutdown()


def _demo_config(base: str, notify_urls: tuple[str, ...]) -> str:
    targets = "".join(
        f"\n[[targets]]\nname = {json.dumps(name)}\nurl = {json.dumps(base + path)}\n"
        for path, (name, _) in PAGES.items()
    )
    return (
        '[storage]\npath = "policywatch.db"\n\n'
        f"[notify]\nurls = {json.dumps(list(notify_urls))}\n{targets}"
    )


def _crawl(config: Path, echo: Callable[[str], None]) -> int:
    process = subprocess.run(
        [sys.executable, "-m", "monitor", "crawl", "--config", str(config)],
        capture_output=True,
        text=True,
    )
    for line in (process.stdout + process.stderr).splitlines():
        echo(f"  {line}")
    return process.returncode
