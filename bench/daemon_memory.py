"""Does the daemon's memory stay flat over many runs? Prints its resident memory per cycle.

Serves real corpus pages on 127.0.0.1, runs `policywatch daemon` with a one-second schedule,
and samples the daemon's resident set size (VmRSS) as cycles (crawl runs) complete. Each
cycle's crawl is a child process, so the figure to watch is the daemon's own RSS.

    python bench/daemon_memory.py --cycles 200 --pages 20
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "policy-corpus")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="policywatch-bench-") as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        pages = sorted(args.corpus.glob("*/*.html"))[: args.pages]
        for index, page in enumerate(pages):
            (site / f"{index}.html").write_bytes(page.read_bytes())
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=site))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        config = Path(tmp) / "config.toml"
        config.write_text(
            'schedule = "1s"\n[storage]\npath = "store.db"\n'
            + "".join(
                f'[[targets]]\nname = {json.dumps(f"page {i}")}\nurl = "{base}/{i}.html"\n'
                for i in range(len(pages))
            )
        )
        log = Path(tmp) / "daemon.log"
        with log.open("w") as stderr:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "monitor", "daemon", "--config", str(config)],
                stderr=stderr,
                cwd=REPO,
            )
        started = time.monotonic()
        reported = 0
        print(f"{len(pages)} pages, schedule 1s; daemon pid {daemon.pid}")
        print("cycle  elapsed_s  daemon_rss_mb")
        try:
            while reported < args.cycles:
                time.sleep(0.5)
                cycles = log.read_text().count(" INFO crawl: ")
                if cycles > reported and (cycles in (1, 2) or cycles // 25 > reported // 25):
                    elapsed = time.monotonic() - started
                    print(f"{cycles:5d}  {elapsed:9.1f}  {rss_mb(daemon.pid):13.1f}", flush=True)
                reported = max(reported, cycles)
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=60)
            server.shutdown()
        print(f"daemon exit status after SIGTERM: {code}")


if __name__ == "__main__":
    main()
