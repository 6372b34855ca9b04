"""How well `normalize` separates real policy changes from HTML noise on the labelled corpus.

For every pair of the corpus, both snapshots go through `normalize` with the manifest's
selectors and without any (auto mode); a pair is reported changed when the fingerprints
differ, exactly as `policywatch compare` decides. Prints recall on change pairs (all of them
but markup-only `formatting` ones, and the material ones), noise alerts, pairs where
extraction failed, and the time per page.

    .venv/bin/python bench/quality.py [--corpus PATH] [--verbose] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import difflib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from monitor.document import Document
from monitor.normalize import ExtractionError, Selection, normalize

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "policy-corpus"


@dataclass
class Tally:
    mode: str
    found: int = 0
    changes: int = 0
    material_found: int = 0
    material: int = 0
    noise_alerts: int = 0
    noise: int = 0
    errors: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    misses_flagged: int = 0
    misses: int = 0
    seconds: float = 0.0
    pages: int = 0


def _load(corpus: Path, name: str) -> dict:
    path = corpus / "labels" / name
    return json.loads(path.read_text()) if path.exists() else {}


def _short_diff(before: str, after: str, limit: int = 24) -> str:
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0))[
        2:
    ]
    shown = [line[:160] for line in lines if not line.startswith("@@")][:limit]
    more = len(lines) - len(shown)
    return "\n".join(f"      {line}" for line in shown) + (
        f"\n      … {more} more" if more > 0 else ""
    )


@dataclass
class Pages:
    """Each snapshot of one document normalized once, timed into its tally."""

    corpus: Path
    entry: dict
    selection: Selection
    tally: Tally
    cache: dict[str, Document | ExtractionError] = field(default_factory=dict)

    def __call__(self, snap: str) -> Document | ExtractionError:
        if snap not in self.cache:
            body = (self.corpus / self.entry["id"] / f"{snap}.html").read_bytes()
            started = time.perf_counter()
            try:
                self.cache[snap] = normalize(body, url=self.entry["url"], selection=self.selection)
            except ExtractionError as err:
                self.cache[snap] = err
            self.tally.seconds += time.perf_counter() - started
            self.tally.pages += 1
        return self.cache[snap]


def run(corpus: Path, *, verbose: bool, only: str) -> list[Tally]:
    manifest = json.loads((corpus / "manifest.json").read_text())
    materiality = _load(corpus, "materiality.json")
    misses = {snap for snaps in _load(corpus, "selector_misses.json").values() for snap in snaps}
    tallies = [Tally("with selectors"), Tally("without selectors")]
    for entry in manifest:
        if only not in entry["id"]:
            continue
        selections = (Selection.from_config(entry["select"], entry["remove"]), Selection())
        for tally, selection in zip(tallies, selections, strict=True):
            pages = Pages(corpus, entry, selection, tally)
            for pair in entry["pairs"]:
                _count(tally, entry, pair, pages, materiality, misses, verbose)
    return tallies


def _count(tally, entry, pair, page, materiality, misses, verbose) -> None:
    before_snap, after_snap = pair["before"], pair["after"]
    name = f"{entry['id']}/{before_snap}..{after_snap}"
    with_selectors = tally.mode == "with selectors"
    touched = [s for s in (before_snap, after_snap) if f"{entry['id']}/{s}" in misses]
    before, after = page(before_snap), page(after_snap)
    if with_selectors and touched:
        for snap in touched:
            tally.misses += 1
            result = page(snap)
            flagged = isinstance(result, ExtractionError) and result.kind in (
                "selector-miss",
                "challenge",
            )
            tally.misses_flagged += flagged
            if not flagged:
                tally.failures.append(f"{entry['id']}/{snap}: selector miss not reported")
        return
    label = materiality.get(f"dating/{name}", {})
    if pair["label"] == "change" and label.get("kind") == ["formatting"]:
        return
    if isinstance(before, ExtractionError) or isinstance(after, ExtractionError):
        error = before if isinstance(before, ExtractionError) else after
        tally.errors.append(f"{name} ({pair['label']}): {error.kind}: {error}")
        return
    changed = before.fingerprint != after.fingerprint
    if pair["label"] == "change":
        tally.changes += 1
        tally.found += changed
        material = label.get("class") == "material"
        tally.material += material
        tally.material_found += material and changed
        failed = not changed
    else:
        tally.noise += 1
        tally.noise_alerts += changed
        failed = changed
    if failed:
        kind = "missed change" if pair["label"] == "change" else "noise alert"
        detail = f"  {kind}: {name}"
        if verbose:
            detail += "\n" + _short_diff(before.text, after.text)
        tally.failures.append(detail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--verbose", action="store_true", help="list failing pairs with a diff")
    parser.add_argument("--only", default="", help="only documents whose id contains this")
    args = parser.parse_args()
    for tally in run(args.corpus, verbose=args.verbose, only=args.only):
        per_page = 1000 * tally.seconds / max(tally.pages, 1)
        print(f"== {tally.mode}")
        print(f"  changes found (not markup-only): {tally.found}/{tally.changes}")
        print(f"  material changes found:          {tally.material_found}/{tally.material}")
        print(f"  noise alerts:                    {tally.noise_alerts}/{tally.noise}")
        if tally.misses:
            flagged = f"{tally.misses_flagged}/{tally.misses}"
            print(f"  selector misses raised:          {flagged} (selector-miss or challenge)")
        print(f"  extraction errors:               {len(tally.errors)}")
        print(f"  time per page:                   {per_page:.1f} ms ({tally.pages} pages)")
        for line in tally.errors:
            print(f"  error: {line}")
        for line in tally.failures:
            print(line)


if __name__ == "__main__":
    main()
