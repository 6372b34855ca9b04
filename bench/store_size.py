"""What the store costs per version: 50 small edits of real corpus pages, stored as a crawl would.

For each page, its first snapshot is normalized with the manifest's selectors; then 50 small
edits are made one after the other (each swaps one word of the page's HTML for another word of
the page), every edited page is normalized, stored as a new version (`Store.add_version`) and
its HTML kept as a raw body (`Store.keep_raw_body`), exactly as a crawl stores them. Prints, per
page and as a median over pages, the bytes per version of: the plain canonical text, the
document JSON (what a version holds), the packed version as stored, and the HTML body plain and
packed; the database file per version after VACUUM, and its growth per edit.

    .venv/bin/python bench/store_size.py [--corpus PATH] [--pages N] [--edits 50]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import statistics
import tempfile
from pathlib import Path

from monitor.normalize import ExtractionError, Selection, normalize
from monitor.packing import DEFAULT_CODEC, pack
from monitor.store import Store, utcnow

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "policy-corpus"
WORD = re.compile(r"(?<=[\s>])([a-z]{4,12})(?=[\s<.,])")


def edits(html: str, count: int, seed: int) -> list[str]:
    """`count` successive pages, each with one more word of the text swapped for another."""
    rng = random.Random(seed)
    pages = []
    for _ in range(count):
        matches = list(WORD.finditer(html))
        target = rng.choice(matches)
        replacement = rng.choice(matches).group(1)
        html = html[: target.start()] + replacement + html[target.end() :]
        pages.append(html)
    return pages


def measure(entry: dict, corpus: Path, count: int) -> dict[str, float] | None:
    snapshot = sorted((corpus / entry["id"]).glob("*.html"))[0]
    html = snapshot.read_text(encoding="utf-8", errors="replace")
    selection = Selection.from_config(entry.get("select"), entry.get("remove"))
    pages = [html, *edits(html, count, seed=len(entry["id"]))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.db"
        store = Store(path)
        texts, documents, bodies = [], [], []
        first_size = 0
        for page in pages:
            try:
                document = normalize(
                    page.encode(), content_type="text/html", url=entry["url"], selection=selection
                )
            except ExtractionError:
                return None
            now = utcnow()
            with store.transaction():
                body = page.encode()
                store.keep_raw_body(entry["id"], body, hashlib.sha256(body).hexdigest(), now)
                store.add_version(entry["id"], 0, now, document)
            texts.append(len(document.text.encode()))
            documents.append(len(json.dumps(document.to_dict(), ensure_ascii=False).encode()))
            bodies.append(len(page.encode()))
            if not first_size:
                store.db.execute("vacuum")
                store.db.execute("pragma wal_checkpoint(truncate)")  # the WAL into the file
                first_size = path.stat().st_size
        packed = [len(r[0]) for r in store.db.execute("select packed from versions")]
        packed_bodies = [len(r[0]) for r in store.db.execute("select packed from raw_bodies")]
        keyframes = store.db.execute(
            "select count(*) from versions where base_version is null"
        ).fetchone()[0]
        store.db.execute("vacuum")
        store.close()
        versions = len(pages)
        full_packed = len(pack(json.dumps(document.to_dict()).encode(), codec=DEFAULT_CODEC))
        return {
            "versions": versions,
            "keyframes": keyframes,
            "text": statistics.mean(texts),
            "document": statistics.mean(documents),
            "document_packed_alone": full_packed,
            "version_stored": sum(packed) / versions,
            "edit_stored": statistics.median(packed[1:]),
            "html": statistics.mean(bodies),
            "html_stored": sum(packed_bodies) / len(packed_bodies),
            "db_file": path.stat().st_size / versions,
            "db_growth": (path.stat().st_size - first_size) / (versions - 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--pages", type=int, default=10, help="how many corpus pages (0: all)")
    parser.add_argument("--edits", type=int, default=50)
    args = parser.parse_args()
    manifest = json.loads((args.corpus / "manifest.json").read_text())
    entries = manifest if args.pages == 0 else manifest[: args.pages]
    print(f"codec: {DEFAULT_CODEC}; {args.edits} small edits per page, bytes per version")
    header = (
        f"{'page':40} {'text':>7} {'doc json':>8} {'doc zstd':>8} {'stored':>7} {'per edit':>8}"
        f" {'html':>7} {'html st.':>8} {'db file':>8} {'db +edit':>8}"
    )
    print(header)
    rows = []
    for entry in entries:
        row = measure(entry, args.corpus, args.edits)
        if row is None:
            print(f"{entry['id'][:40]:40} (first snapshot not extractable; skipped)")
            continue
        rows.append(row)
        print(
            f"{entry['id'][:40]:40} {row['text']:7.0f} {row['document']:8.0f}"
            f" {row['document_packed_alone']:8.0f} {row['version_stored']:7.0f}"
            f" {row['edit_stored']:8.0f} {row['html']:7.0f} {row['html_stored']:8.0f}"
            f" {row['db_file']:8.0f} {row['db_growth']:8.0f}"
        )
    median = {key: statistics.median(r[key] for r in rows) for key in rows[0]}
    print(
        f"{'median':40} {median['text']:7.0f} {median['document']:8.0f}"
        f" {median['document_packed_alone']:8.0f} {median['version_stored']:7.0f}"
        f" {median['edit_stored']:8.0f} {median['html']:7.0f} {median['html_stored']:8.0f}"
        f" {median['db_file']:8.0f} {median['db_growth']:8.0f}"
    )
    print(
        "text / doc json: plain sizes; doc zstd: one version compressed alone; stored: a version"
        " as stored (keyframes and deltas); per edit: median delta; html / html st.: the page"
        " body plain and as kept; db file: SQLite file after VACUUM (with indexes and search)"
        " per version; db +edit: its growth per edit after the first version."
    )


if __name__ == "__main__":
    main()
