"""Crawl throughput and memory at N targets, side by side with urlwatch 2.x.

Serves N targets on loopback addresses from real pages of the policy corpus (target i is
snapshot pair i, cycled; pairs touching a snapshot where the manifest's selector no longer
matches are left out, so that both tools see pages they can read), then runs three crawls:

1. all new            — every target answers with its pair's first snapshot;
2. nothing changed    — the same bytes again;
3. every page changed — every target answers with its pair's second snapshot.

Each crawl is `policywatch crawl` (targets with the manifest's selectors) and the same pages
through urlwatch (its `css` filter where the manifest has selectors, then `html2text` with
method `pyhtml2text`), each in its own process tree. It prints pages per second, the CPU
seconds of the whole process tree and the cores it kept busy on average (CPU seconds over wall
seconds: below the machine's cores, the rest of the time was spent waiting), the peak resident
memory of the tree, the store size per stored version, and the ratios.

The pages are served by a separate process, on loopback addresses (127.0.1.1 and up), three
targets per address, the way a watch list spreads over sites (a company's privacy policy,
terms and cookie policy on one domain), so per-domain politeness works as it would across
many sites.

    python bench/crawl.py --targets 1000
    python bench/crawl.py --targets 10000 --urlwatch /path/to/venv/bin/urlwatch
    python bench/crawl.py --targets 1000 --rounds 3   # medians of three rounds

`--auto` reads the same pages without their hand-written selectors: policywatch finds the
policy itself (as for a target without `select`), urlwatch converts the whole page. `--pages
DIR` serves real pages that are not in the corpus instead (a folder with a `manifest.json`
list of `{"file": ...}`, HTML files; read without selectors): target i is page i, cycled,
and its "changed" answer is the page with a sentence reworded (bench/unseen.py's
`change_reword`) and a new script nonce, the way a site's edit reaches a crawler.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import multiprocessing
import os
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parents[1]
TARGETS_PER_SITE = 3


def site_addresses(targets: int) -> list[str]:
    count = max(1, -(-targets // TARGETS_PER_SITE))
    return [f"127.0.{1 + k // 250}.{1 + k % 250}" for k in range(count)]


@dataclass(frozen=True)
class Site:
    url: str
    select: object
    remove: object
    before: Path
    after: Path


def corpus_sites(corpus: Path, count: int, addresses: list[str]) -> list[Site]:
    manifest = json.loads((corpus / "manifest.json").read_text())
    misses = set(json.loads((corpus / "labels" / "selector_misses.json").read_text())["dating"])
    pairs = [
        (doc, pair)
        for doc in manifest
        for pair in doc["pairs"]
        if f"{doc['id']}/{pair['before']}" not in misses
        and f"{doc['id']}/{pair['after']}" not in misses
    ]
    sites = []
    for index in range(count):
        doc, pair = pairs[index % len(pairs)]
        host = addresses[index // TARGETS_PER_SITE]
        sites.append(
            Site(
                url=f"http://{host}:{{port}}/p{index}",
                select=doc["select"],
                remove=doc["remove"],
                before=corpus / doc["id"] / f"{pair['before']}.html",
                after=corpus / doc["id"] / f"{pair['after']}.html",
            )
        )
    return sites


def unseen_sites(folder: Path, count: int, addresses: list[str], work: Path) -> list[Site]:
    """Sites from a folder of real pages (`--pages`): each page, and the page edited (written
    to `work`), read without selectors. A manifest entry may give the page's `language`, for
    the sentence the edit puts in (English otherwise)."""
    import unseen  # bench/unseen.py: its page edits

    pairs = []
    for index, entry in enumerate(json.loads((folder / "manifest.json").read_text())):
        file = folder / entry["file"]
        if file.suffix not in (".html", ".htm"):
            continue
        root = unseen.parse(file.read_text(encoding="utf-8"))
        language = entry.get("language") if entry.get("language") in unseen.NEW_SENTENCE else "en"
        page = unseen.Page(file.stem, file, language, None, None, None, "")
        if not unseen.change_reword(root, None, page):
            continue  # no paragraph to reword: the page cannot show a text change
        script = etree.SubElement(unseen.body_of(root), "script")
        script.text = f"window.nonce = '{index:08x}';"
        edited = work / f"edited-{index}-{file.name}"
        edited.write_text(unseen.serialize(root), encoding="utf-8")
        pairs.append((file, edited))
    return [
        Site(
            url=f"http://{addresses[index // TARGETS_PER_SITE]}:{{port}}/p{index}",
            select=None,
            remove=None,
            before=pairs[index % len(pairs)][0],
            after=pairs[index % len(pairs)][1],
        )
        for index in range(count)
    ]


# -- the page server (its own process) ---------------------------------------------------------


def serve(sites: list[Site], addresses: list[str], port: int, phase, ready) -> None:
    cache: dict[Path, bytes] = {}

    def body(path: str) -> bytes | None:
        if not path.startswith("/p") or not path[2:].isdigit() or int(path[2:]) >= len(sites):
            return None
        site = sites[int(path[2:])]
        file = site.after if phase.value else site.before
        if file not in cache:
            cache[file] = file.read_bytes()
        return cache[file]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                page = body(path)
                if page is None:
                    status, page, kind = b"404 Not Found", b"not found", b"text/plain"
                else:
                    status, kind = b"200 OK", b"text/html; charset=utf-8"
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\nContent-Type: "
                    + kind
                    + b"\r\nContent-Length: "
                    + str(len(page)).encode()
                    + b"\r\n\r\n"
                    + page
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        servers = [await asyncio.start_server(handle, host, port) for host in addresses]
        ready.set()
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(main())


# -- measuring a process tree --------------------------------------------------------------------


def tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and all its descendants, in MB. The tree is walked through
    each process's `children` files (Linux 3.5+): reading every process of the machine ten
    times a second took the benchmark itself about 5% of a core, from the tool it measures."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
            for task in Path(f"/proc/{pid}/task").iterdir():
                stack.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:  # the process ended meanwhile
            continue
    return total / 1024


@dataclass(frozen=True)
class Measured:
    seconds: float  # wall time
    cpu: float  # CPU seconds (user and system) of the whole process tree
    peak_mb: float  # peak resident memory of the tree


def run_measured(command: list[str], cwd: Path, env: dict[str, str]) -> Measured:
    """Wall seconds, CPU seconds and peak tree RSS (MB) of a command (which says why, if it
    fails). The CPU time is that of every process of the tree that was waited for: a crawl
    waits for its pool's workers, so theirs is counted with its own."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, tree_rss_mb(process.pid))
        time.sleep(0.1)
    seconds = time.monotonic() - started
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode not in (0,):
        print(f"    exit status {process.returncode}: {stderr.strip()[-300:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(seconds, cpu, peak)


# -- the two tools ---------------------------------------------------------------------------------


def policywatch_config(sites: list[Site], port: int, folder: Path) -> Path:
    lines = ['[storage]\npath = "store.db"\n']
    for index, site in enumerate(sites):
        lines.append(f'[[targets]]\nname = "t{index}"\nurl = "{site.url.format(port=port)}"')
        if site.select:
            lines.append(f"select = {json.dumps(site.select)}")
        if site.remove:
            lines.append(f"remove = {json.dumps(site.remove)}")
    config = folder / "config.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def _css(selection: object) -> str | None:
    if isinstance(selection, str):
        return selection
    if isinstance(selection, list) and all(isinstance(s, str) for s in selection):
        return ", ".join(selection)
    return None  # a range: urlwatch has no equivalent, so the whole page goes to html2text


def urlwatch_files(sites: list[Site], port: int, folder: Path) -> list[str]:
    jobs = []
    for index, site in enumerate(sites):
        filters: list[object] = []
        css = _css(site.select)
        if css:
            filters.append({"css": css})
        remove = _css(site.remove)
        if remove:
            filters.append({"css": {"selector": remove, "exclude": remove}})
        filters.append({"html2text": {"method": "pyhtml2text"}})
        jobs.append({"name": f"t{index}", "url": site.url.format(port=port), "filter": filters})
    urls = folder / "urls.yaml"
    urls.write_text("\n---\n".join(json.dumps(job) for job in jobs) + "\n")
    config = folder / "urlwatch.yaml"
    config.write_text(
        json.dumps(
            {
                "display": {"new": True, "error": True, "unchanged": False},
                "report": {"text": {"details": True}, "stdout": {"enabled": False}},
            }
        )
    )
    return ["--urls", str(urls), "--config", str(config), "--cache", str(folder / "cache.db")]


def versions_in(store: Path) -> tuple[int, int]:
    """Stored versions, and the store's size once its write-ahead log is folded in."""
    with sqlite3.connect(store) as db:
        versions = db.execute("select count(*) from versions").fetchone()[0]
        db.execute("pragma wal_checkpoint(truncate)")
    size = sum(p.stat().st_size for p in store.parent.glob(store.name + "*"))
    return versions, size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "policy-corpus")
    parser.add_argument(
        "--auto",
        action="store_true",
        help="read the corpus pages without their selectors (policywatch's own extraction)",
    )
    parser.add_argument(
        "--pages",
        type=Path,
        help="serve the real pages of this folder (manifest.json) instead of the corpus",
    )
    parser.add_argument(
        "--urlwatch",
        default=shutil.which("urlwatch"),
        help="urlwatch executable (default: on PATH); 'none' to skip it",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the three crawls of both tools this many times (each round on a new store\n"
        "and cache) and end with the median of each figure: a shared machine's speed\n"
        "drifts by tens of percent from minute to minute",
    )
    args = parser.parse_args()

    compile_like_an_install()
    addresses = site_addresses(args.targets)
    edits = tempfile.TemporaryDirectory(prefix="policywatch-bench-pages-")
    if args.pages:
        sites = unseen_sites(args.pages, args.targets, addresses, Path(edits.name))
    else:
        sites = corpus_sites(args.corpus, args.targets, addresses)
    if args.auto:
        sites = [replace(site, select=None, remove=None) for site in sites]
    phase = multiprocessing.Value("i", 0)
    ready = multiprocessing.Event()
    port = free_port(addresses[0])
    server = multiprocessing.Process(
        target=serve, args=(sites, addresses, port, phase, ready), daemon=True
    )
    server.start()
    ready.wait(30)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    use_urlwatch = args.urlwatch not in (None, "none")
    print(
        f"{len(sites)} targets on {len(addresses)} loopback addresses; "
        f"{os.cpu_count()} cores; urlwatch: {args.urlwatch if use_urlwatch else 'skipped'}"
    )
    tools = ["policywatch", *(["urlwatch"] if use_urlwatch else [])]
    rates: dict[tuple[str, str], list[float]] = {}
    peaks: dict[tuple[str, str], list[float]] = {}
    for round_number in range(1, args.rounds + 1):
        if args.rounds > 1:
            print(f"round {round_number} of {args.rounds}")
        print(
            f"{'crawl':18} {'tool':11} {'seconds':>8} {'pages/s':>8} {'CPU s':>7} {'cores':>6}"
            f" {'peak MB':>8}"
        )
        with tempfile.TemporaryDirectory(prefix="policywatch-bench-") as tmp:
            folder = Path(tmp)
            config = policywatch_config(sites, port, folder)
            commands = {
                "policywatch": [sys.executable, "-m", "monitor", "crawl", "--config", str(config)]
            }
            if use_urlwatch:
                commands["urlwatch"] = [args.urlwatch, *urlwatch_files(sites, port, folder)]
            for label, changed in CRAWLS:
                phase.value = changed
                for tool in tools:
                    run = run_measured(commands[tool], REPO, env)
                    rate = len(sites) / run.seconds
                    rates.setdefault((label, tool), []).append(rate)
                    peaks.setdefault((label, tool), []).append(run.peak_mb)
                    print(
                        f"{label:18} {tool:11} {run.seconds:8.1f} {rate:8.1f} {run.cpu:7.1f}"
                        f" {run.cpu / run.seconds:6.2f} {run.peak_mb:8.0f}"
                    )
                if use_urlwatch:
                    ratio = rates[(label, "policywatch")][-1] / rates[(label, "urlwatch")][-1]
                    print(f"{'':18} {'ratio':11} {'':8} {ratio:7.2f}x", flush=True)
            versions, size = versions_in(folder / "store.db")
            print(
                f"store: {versions} versions, {size / 1e6:.1f} MB, "
                f"{size / max(versions, 1) / 1024:.1f} KB per stored version"
            )
    if args.rounds > 1:
        print(f"median of {args.rounds} rounds (peak MB: the highest)")
        print(f"{'crawl':18} {'tool':11} {'pages/s':>8} {'peak MB':>8}")
        for label, _ in CRAWLS:
            for tool in tools:
                rate = statistics.median(rates[(label, tool)])
                peak = max(peaks[(label, tool)])
                print(f"{label:18} {tool:11} {rate:8.1f} {peak:8.0f}")
            if use_urlwatch:
                ratios = [
                    ours / theirs
                    for ours, theirs in zip(
                        rates[(label, "policywatch")], rates[(label, "urlwatch")], strict=True
                    )
                ]
                print(
                    f"{'':18} {'ratio':11} {statistics.median(ratios):7.2f}x"
                    f"  (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
                )
    server.terminate()
    edits.cleanup()


CRAWLS = (("1 all new", 0), ("2 nothing changed", 0), ("3 all changed", 1))


def compile_like_an_install() -> None:
    """Write the bytecode of policywatch's own modules, as installing a package does (pip
    compiles what it installs: urlwatch's modules, Scrapy's). An editable install is compiled
    by its first import, except where PYTHONDONTWRITEBYTECODE is set, as on some CI machines:
    there every process of every crawl would compile them again, about 0.1 s of CPU each."""
    for package in ("monitor", "crawler"):
        compileall.compile_dir(REPO / package, quiet=1)


def free_port(address: str) -> int:
    """A TCP port free on the benchmark's loopback addresses."""
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    main()
