"""Does the browser's memory stay bounded over many renders? Prints time per render and the
resident memory (VmRSS) of the browser's process tree as renders complete.

Serves real corpus pages on 127.0.0.1, each behind a script shell: the HTML holds no text and
a script fetches the page and writes it into the document, so only a rendering fetch sees the
policy. One real crawl (the policies spider, scrapy-playwright, the system's Chromium, a
store in a temporary directory) renders `--renders` targets; politeness delays are off so the
figures are the browser's. At the end it prints the browser contexts and pages still open.

    python bench/render_memory.py --renders 100
    python bench/render_memory.py --renders 20 --concurrency 1   # time of one render
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHELL = """<!doctype html><html><head><title>Loading</title><script>
fetch("/{path}").then(r => r.text()).then(t => {{ document.documentElement.innerHTML = t; }});
</script></head><body></body></html>"""


class CorpusHandler(SimpleHTTPRequestHandler):
    """The corpus files as they are, and `/shell/<id>/<snap>.html`: the script shell of one."""

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/shell/"):
            body = SHELL.format(path=self.path.removeprefix("/shell/")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


def offline_only(request) -> bool:
    """Refuse what the closed network would refuse anyway, and what rendering skips."""
    from monitor.render import needless_resource

    return urlsplit(request.url).hostname != "127.0.0.1" or needless_resource(request)


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def memory_mb(pids: list[int], field: str, source: str) -> float:
    """The sum of `field` (kB) of /proc/PID/`source` over `pids`, in MB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
                if line.startswith(field):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def rss_mb(pids: list[int]) -> float:
    return memory_mb(pids, "VmRSS:", "status")


def pss_mb(pids: list[int]) -> float:
    """Proportional set size: shared pages counted once across the tree, unlike RSS."""
    return memory_mb(pids, "Pss:", "smaps_rollup")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "policy-corpus")
    parser.add_argument("--renders", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--every", type=int, default=10, help="sample memory every N renders")
    parser.add_argument("--json", action="store_true", help="end with a JSON summary line")
    args = parser.parse_args()

    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from crawler.spiders.policies import PoliciesSpider
    from monitor.config import Config, Target
    from monitor.crawl import crawler_settings
    from monitor.normalize import Selection

    manifest = json.loads((args.corpus / "manifest.json").read_text())
    snapshots = [
        f"{doc['id']}/{pair[side]}.html"
        for doc in manifest
        for pair in doc["pairs"]
        for side in ("before", "after")
    ]
    snapshots = sorted(set(snapshots))
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(CorpusHandler, directory=str(args.corpus))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    tmp = Path(tempfile.mkdtemp())
    targets = tuple(
        Target(
            name=f"page {n:03d}",
            url=f"{base}/shell/{snapshots[n % len(snapshots)]}",
            selection=Selection(),
            alert_on="any",
            schedule="1d",
            render=True,
        )
        for n in range(args.renders)
    )
    config = Config(
        path=tmp / "config.toml",
        store_path=tmp / "store.db",
        destinations=(),
        alert_on="any",
        schedule="1d",
        targets=targets,
    )
    settings = crawler_settings()
    settings.setdict(
        {
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "ROBOTSTXT_OBEY": False,
            "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
            "PLAYWRIGHT_MAX_CONTEXTS": args.concurrency,
            "PLAYWRIGHT_ABORT_REQUEST": offline_only,
        }
    )
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(PoliciesSpider)
    me = os.getpid()
    pages: list = []
    samples: list[tuple[int, float, float, float]] = []
    still_open: dict[str, int] = {}
    started = time.monotonic()

    def scraped(item) -> None:
        pages.append(item)
        if len(pages) % args.every == 0 or len(pages) == args.renders:
            tree = descendants(me)
            samples.append((len(pages), rss_mb(tree), pss_mb(tree), rss_mb([me])))
            count, rss, pss, crawl = samples[-1]
            print(
                f"{count:4d} renders  browser tree RSS {rss:7.1f} MB  PSS {pss:6.1f} MB"
                f"  ({len(tree)} processes)  crawl process RSS {crawl:6.1f} MB",
                flush=True,
            )

    def idle() -> None:
        handlers = crawler.engine.downloader.handlers._handlers  # noqa: SLF001
        handler = handlers.get("http")
        browser = getattr(handler, "browser", None)
        contexts = browser.contexts if browser else []
        still_open["contexts"] = len(contexts)
        still_open["pages"] = sum(len(c.pages) for c in contexts)

    crawler.signals.connect(scraped, signal=signals.item_scraped)
    crawler.signals.connect(idle, signal=signals.spider_idle)
    process.crawl(crawler, config=config)
    process.start()
    elapsed = time.monotonic() - started
    server.shutdown()

    failed = [p for p in pages if p.error]
    rendered = sorted(p.duration_ms for p in pages if not p.error)
    print(
        f"{len(pages)} renders ({len(failed)} failed) in {elapsed:.1f} s with"
        f" {args.concurrency} at once: {elapsed / max(len(pages), 1) * 1000:.0f} ms per page;"
        f" queued request to answer: median {statistics.median(rendered or [0]):.0f} ms,"
        f" max {max(rendered or [0])} ms"
    )
    first, last = samples[0], samples[-1]
    print(
        f"browser tree RSS: {first[1]:.1f} MB after {first[0]} renders, {last[1]:.1f} MB after"
        f" {last[0]}; peak {max(s[1] for s in samples):.1f} MB (PSS: {first[2]:.1f} →"
        f" {last[2]:.1f} MB, peak {max(s[2] for s in samples):.1f} MB)"
    )
    contexts, open_pages = still_open.get("contexts"), still_open.get("pages")
    print(f"still open at the end: {contexts} contexts, {open_pages} pages")
    for page in failed[:5]:
        print(f"  failed: {page.target}: {page.error}")
    if args.json:
        summary = {
            "renders": len(pages),
            "failed": len(failed),
            "open_contexts": contexts,
            "open_pages": open_pages,
            "rss_mb": [round(s[1], 1) for s in samples],
        }
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
