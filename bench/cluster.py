"""Cluster capacity: the coordinator's results per second, a worker's pages per second per
core, what crosses Redis; then what that means for 100k, 1M and 10M targets.

1. Worker side, in this process (no Redis): `watch.observe` + `cluster.encode_result` for
   each page — the CPU a worker spends on a page besides fetching it.
2. Coordinator, in this process (no Redis): `cluster.decode_result` (validation) and
   `watch.record` (store, diff, outbox) for each result, into a fresh SQLite store; once
   with every page new (baselines), once with every page at its next snapshot (a change
   where the corpus pair is a change, an unchanged text where it is noise).
3. With Debian's redis-server (skipped without it): one real `policywatch worker` process
   fetching the pages from loopback HTTP servers on 20 addresses, politeness off; its CPU
   time (from /proc) per page, Scrapy included, and the Redis round trip per result.

Targets are the corpus pairs, cycled, with the manifest's selectors.

    python bench/cluster.py --targets 1000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.cluster import (  # noqa: E402
    GROUP,
    WINDOW,
    Keys,
    WorkItem,
    decode_result,
    encode_result,
    encode_work_item,
)
from monitor.config import Target, load_config  # noqa: E402
from monitor.store import Store, utcnow  # noqa: E402
from monitor.watch import FetchedPage, observe, record  # noqa: E402

ADDRESSES = [f"127.0.0.{n}" for n in range(2, 22)]
SIZES = (100_000, 1_000_000, 10_000_000)


def corpus_targets(corpus: Path, count: int, config_dir: Path) -> tuple[list[Target], list]:
    """`count` targets over the corpus pairs, and (before, after) file per target."""
    import tomlkit

    manifest = json.loads((corpus / "manifest.json").read_text())
    pairs = [(entry, pair) for entry in manifest for pair in entry["pairs"]]
    document = tomlkit.document()
    document["targets"] = tomlkit.aot()
    files = []
    for index in range(count):
        entry, pair = pairs[index % len(pairs)]
        target = {"name": f"t{index}", "url": f"http://site{index % 20}.test/t{index}"}
        for key in ("select", "remove"):
            if entry.get(key):
                target[key] = entry[key]
        document["targets"].append(tomlkit.item(target))
        files.append(tuple(corpus / entry["id"] / f"{pair[s]}.html" for s in ("before", "after")))
    (config_dir / "config.toml").write_text(tomlkit.dumps(document))
    return list(load_config(config_dir / "config.toml").targets), files


def page(target: Target, body: bytes) -> FetchedPage:
    return FetchedPage(
        target.name, target.url, utcnow(), final_url=target.url, status=200,
        headers={"content-type": "text/html; charset=utf-8"}, body=body, duration_ms=100,
    )  # fmt: skip


def worker_side(targets: list[Target], files: list, snapshot: int) -> tuple[list, float]:
    """Stream entries for every target at one snapshot, and CPU seconds per page spent."""
    bodies = [f[snapshot].read_bytes() for f in files]
    started = time.process_time()
    entries = []
    for target, body in zip(targets, bodies, strict=True):
        fields = encode_result("bench", "bench:1", observe(page(target, body), target))
        entries.append({key.encode(): value for key, value in fields.items()})
    return entries, (time.process_time() - started) / len(targets)


def coordinator_side(store: Store, targets: list[Target], entries: list) -> float:
    """Results per second of decode_result + record (wall time, one process)."""
    started = time.perf_counter()
    for target, entry in zip(targets, entries, strict=True):
        observation = decode_result(entry).observation
        record(store, target, observation, ())
    return len(targets) / (time.perf_counter() - started)


# -- a real worker --------------------------------------------------------------------------------


def serve(pages: dict[str, bytes]) -> list[ThreadingHTTPServer]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    servers = []
    for address in ADDRESSES:
        server = ThreadingHTTPServer((address, 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
    return servers


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def real_worker(targets: list[Target], files: list, work: Path) -> dict[str, float] | None:
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        return None
    import dataclasses

    import redis

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    pages = {f"/t{i}": f[0].read_bytes() for i, f in enumerate(files)}
    servers = serve(pages)
    config = work / "worker.toml"
    config.write_text(
        f'[cluster]\nredis = "{url}"\n[crawl]\ndownload_delay = 0\nautothrottle = false\n'
        "concurrent_requests_per_domain = 16\n"
    )
    worker = None
    try:
        time.sleep(0.5)
        client = redis.Redis.from_url(url)
        worker = subprocess.Popen(
            [sys.executable, "-m", "monitor", "worker", "--config", str(config)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        keys = Keys("policywatch")
        while not client.keys(keys.workers):
            time.sleep(0.1)
        stream = keys.results("bench")
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        items = []
        for index, target in enumerate(targets):
            host, port_ = servers[index % len(servers)].server_address[:2]
            moved = dataclasses.replace(target, url=f"http://{host}:{port_}/t{index}")
            items.append(encode_work_item(WorkItem("bench", stream, moved)))
        cpu_before, started = cpu_seconds(worker.pid), time.perf_counter()
        client.rpush(keys.queue(None), *items)
        received, entry_bytes = 0, 0
        while received < len(items):
            answer = client.xreadgroup(GROUP, "bench", {stream: ">"}, count=100, block=1000)
            for _stream, entries in answer or []:
                for entry_id, entry in entries:
                    received += 1
                    entry_bytes += sum(len(v) for v in entry.values())
                    client.xack(stream, GROUP, entry_id)
                    client.xdel(stream, entry_id)
        wall = time.perf_counter() - started
        cpu = cpu_seconds(worker.pid) - cpu_before
        memory = client.info("memory")["used_memory"]
        return {
            "pages": len(items),
            "wall_pages_per_s": len(items) / wall,
            "pages_per_cpu_s": len(items) / cpu,
            "entry_bytes": entry_bytes / len(items),
            "item_bytes": sum(len(i) for i in items) / len(items),
            "redis_used_memory": memory,
        }
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        server.terminate()
        server.wait(10)
        for http in servers:
            http.shutdown()
            http.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "policy-corpus")
    parser.add_argument("--targets", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        targets, files = corpus_targets(args.corpus, args.targets, work)
        first, observe_first = worker_side(targets, files, 0)
        second, observe_second = worker_side(targets, files, 1)
        with Store(work / "store.db") as store:
            new_rate = coordinator_side(store, targets, first)
            next_rate = coordinator_side(store, targets, second)
        meta = sum(len(e[b"meta"]) for e in first) / len(first)
        body = sum(len(e[b"body"]) for e in first) / len(first)
        observe_ms = (observe_first + observe_second) / 2 * 1000
        print(f"targets: {args.targets} (corpus pairs cycled, with their selectors)")
        print(f"worker, observe + encode: {observe_ms:.1f} ms CPU per page")
        print(f"result entry: {meta / 1024:.1f} kB document + {body / 1024:.1f} kB body, packed")
        print(f"coordinator, decode + record: {new_rate:.0f} results/s all new,"
              f" {next_rate:.0f} results/s next snapshot (changes and noise)")  # fmt: skip
        measured = real_worker(targets, files, work)
        if measured is None:
            print("real worker: skipped (redis-server is not installed)")
            per_core = 1000 / observe_ms
        else:
            per_core = measured["pages_per_cpu_s"]
            print(
                f"real worker (Scrapy, loopback, no politeness): {measured['pages']} pages,"
                f" {measured['wall_pages_per_s']:.0f} pages/s wall,"
                f" {per_core:.0f} pages per CPU-second; work item"
                f" {measured['item_bytes']:.0f} B, result entry"
                f" {measured['entry_bytes'] / 1024:.1f} kB;"
                f" Redis used_memory after the run {measured['redis_used_memory'] / 2**20:.1f} MB"
            )
        entry_kb = (meta + body) / 1024
        coordinator = min(new_rate, next_rate)
        print()
        print(f"projection (coordinator at {coordinator:.0f} results/s, worker at"
              f" {per_core:.0f} pages per CPU-second, window {WINDOW}):")  # fmt: skip
        print(f"{'targets':>10}  {'round (one writer)':>18}  {'worker cores':>12}  "
              f"{'workers at 16 pages/s':>21}  {'Redis peak':>10}")  # fmt: skip
        for size in SIZES:
            hours = size / coordinator / 3600
            cores = coordinator / per_core
            # A polite fetch takes about a second (latency and delay); 16 at once per worker.
            polite = coordinator / 16
            redis_mb = WINDOW * (entry_kb + 1) / 1024
            print(f"{size:>10,}  {hours:>16.1f} h  {cores:>12.1f}  {polite:>21.0f}  "
                  f"{redis_mb:>8.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
