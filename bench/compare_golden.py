"""Golden check and timing for `monitor.diff.compare`: optimizations must not change its output.

Builds Documents for many pairs and records, for each pair, every public output of the
change-intelligence modules: `compare(a, b).to_dict()`, `format_report`, `redline_text` of each
section (whole and cut), and `monitor.variants.block_edits`. The pairs:

* every labelled pair of the corpus (pages read with `monitor.normalize.normalize` and the
  manifest's selectors, as bench/materiality.py reads them), both ways;
* every two consecutive snapshots of each page, both ways, and snapshots two and more apart;
* the same pairs read from the archive's Markdown texts (bench/materiality.py's reader);
* the seed policies as the demo serves them: each against its demo edit and the other seed;
* deterministic edits of corpus documents (a section dropped, two swapped, words changed,
  a heading renamed), for the alignment and materiality rules the corpus rarely reaches.

    .venv/bin/python bench/compare_golden.py record   # once, on the code to keep
    .venv/bin/python bench/compare_golden.py check    # after each change: all identical?
    .venv/bin/python bench/compare_golden.py time     # median / p95 / mean of compare

Normalized Documents are cached (pickle) in the cache directory, so a check takes seconds.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from materiality import DEFAULT_CORPUS, markdown_document  # noqa: E402

from monitor import diff, lexicon  # noqa: E402
from monitor.diff import compare, format_report, redline_text  # noqa: E402
from monitor.document import Block, Document, Section  # noqa: E402
from monitor.variants import block_edits  # noqa: E402

DEFAULT_CACHE = Path("/tmp/policywatch-compare-golden")
SEEDS = REPO.parent / "shared" / "seeds"
REDLINE_LIMITS = (None, 800, 120)


def _snapshots_in_order(doc: dict) -> list[str]:
    """The page's snapshots in the order they were taken (pairs sorted by time)."""
    order: list[str] = []
    for pair in sorted(doc["pairs"], key=lambda p: p["at"]):
        for snap in (pair["before"], pair["after"]):
            if snap not in order:
                order.append(snap)
    return order


def _corpus_pairs(doc: dict) -> list[tuple[str, str]]:
    snaps = _snapshots_in_order(doc)
    pairs = [(p["before"], p["after"]) for p in doc["pairs"]]
    pairs += list(zip(snaps, snaps[1:], strict=False))
    pairs += list(zip(snaps, snaps[2:], strict=False))
    if len(snaps) > 3:
        pairs.append((snaps[0], snaps[-1]))
    both_ways = [pair for a, b in pairs for pair in ((a, b), (b, a))]
    return list(dict.fromkeys(both_ways))


def _normalized(corpus: Path, doc: dict, snap: str) -> Document | str:
    from monitor.normalize import Selection, normalize

    selection = Selection.from_config(doc["select"], doc["remove"])
    try:
        return normalize(
            (corpus / doc["id"] / f"{snap}.html").read_bytes(),
            content_type="text/html",
            url=doc["url"],
            selection=selection,
        )
    except Exception as error:  # noqa: BLE001 - a page that does not extract has no pairs
        return f"{type(error).__name__}: {error}"


def _seed_documents() -> dict[str, Document]:
    from monitor.demo import EDITS, seed_to_html
    from monitor.normalize import normalize

    documents = {}
    for seed in sorted(SEEDS.glob("*.txt")):
        page = seed_to_html(seed.stem, seed.read_text(encoding="utf-8"))
        edited = page
        for old, new in EDITS:
            edited = edited.replace(old, new)
        for name, html in ((seed.stem, page), (seed.stem + "+edit", edited)):
            documents[f"seed/{name}"] = normalize(html.encode(), content_type="text/html")
    return documents


def _mutations(key: str, document: Document) -> dict[str, Document]:
    """Deterministic edits of a document, seeded by its key."""
    rng = random.Random(key)
    sections = list(document.sections)
    if len(sections) < 3:
        return {}
    mutated: dict[str, Document] = {}
    drop = rng.randrange(len(sections))
    mutated["drop"] = replace(document, sections=tuple(sections[:drop] + sections[drop + 1 :]))
    swapped = list(sections)
    a, b = rng.sample(range(len(sections)), 2)
    swapped[a], swapped[b] = swapped[b], swapped[a]
    mutated["swap"] = replace(document, sections=tuple(swapped))
    reworded = []
    for section in sections:
        blocks = list(section.blocks)
        if blocks and rng.random() < 0.3:
            index = rng.randrange(len(blocks))
            words = blocks[index].text.split()
            if words:
                position = rng.randrange(len(words))
                words[position] = rng.choice(["not", "may", "the", words[position] + "s", "data"])
                blocks[index] = replace(blocks[index], text=" ".join(words))
            if rng.random() < 0.3:
                blocks.insert(rng.randrange(len(blocks) + 1), Block("We now sell your data."))
        reworded.append(replace(section, blocks=tuple(blocks)))
    mutated["words"] = replace(document, sections=tuple(reworded))
    rename = rng.randrange(len(sections))
    renamed = list(sections)
    renamed[rename] = replace(
        sections[rename], heading=sections[rename].heading + " and more", number="9."
    )
    merged = list(renamed)
    if len(merged) > 4:
        first, second = merged[1], merged[2]
        merged[1:3] = [Section(first.heading, first.level, first.blocks + second.blocks, "")]
    mutated["rename"] = replace(document, sections=tuple(merged))
    return mutated


def build_inputs(corpus: Path, cache: Path) -> tuple[dict[str, Document], list[tuple[str, str]]]:
    """All documents (cached) and the ordered pairs of their keys to compare."""
    cache.mkdir(parents=True, exist_ok=True)
    pickled = cache / "documents.pickle"
    if pickled.exists():
        return pickle.loads(pickled.read_bytes())
    manifest = json.loads((corpus / "manifest.json").read_text())
    dates = json.loads((corpus / "labels" / "dates.json").read_text())
    documents: dict[str, Document] = {}
    pairs: list[tuple[str, str]] = []
    for doc in manifest:
        snap_pairs = _corpus_pairs(doc)
        snaps = sorted({s for pair in snap_pairs for s in pair})
        for snap in snaps:
            normalized = _normalized(corpus, doc, snap)
            if isinstance(normalized, Document):
                documents[f"html/{doc['id']}/{snap}"] = normalized
            markdown = corpus / doc["id"] / f"{snap}.md"
            if markdown.exists():
                documents[f"md/{doc['id']}/{snap}"] = markdown_document(
                    markdown.read_text(), dates.get(f"dating/{doc['id']}/{snap}.md")
                )
        for source in ("html", "md"):
            for before, after in snap_pairs:
                old, new = f"{source}/{doc['id']}/{before}", f"{source}/{doc['id']}/{after}"
                if old in documents and new in documents:
                    pairs.append((old, new))
        base = f"html/{doc['id']}/{_snapshots_in_order(doc)[-1]}"
        if base in documents:
            for name, mutated in _mutations(base, documents[base]).items():
                documents[f"{base}~{name}"] = mutated
                pairs += [(base, f"{base}~{name}"), (f"{base}~{name}", base)]
    seeds = _seed_documents()
    documents.update(seeds)
    names = sorted(seeds)
    pairs += [(a, b) for a in names for b in names if a != b]
    pickled.write_bytes(pickle.dumps((documents, pairs)))
    return documents, pairs


def outputs(old: Document, new: Document) -> dict[str, object]:
    change = compare(old, new)
    return {
        "compare": json.dumps(change.to_dict(), sort_keys=True),
        "report": format_report(change),
        "redlines": [
            redline_text(section.redline, limit=limit)
            for section in change.sections
            for limit in REDLINE_LIMITS
        ],
        "block_edits": [[e.kind, e.text, e.old] for e in block_edits(old, new)],
    }


def _fresh(documents: dict[str, Document], key: str) -> Document:
    """A copy without cached properties, so each pair pays for what compare computes (a
    pickled copy would carry its text and fingerprint: see `Document.__reduce__`)."""
    return Document.from_dict(documents[key].to_dict())


def record_or_check(args: argparse.Namespace, *, record: bool) -> int:
    documents, pairs = build_inputs(args.corpus, args.cache)
    reference_path = args.cache / "reference.json"
    results = {f"{a} -> {b}": outputs(documents[a], documents[b]) for a, b in pairs}
    if record:
        reference_path.write_text(json.dumps(results, sort_keys=True))
        print(f"recorded {len(results)} pairs to {reference_path}")
        return 0
    reference = json.loads(reference_path.read_text())
    differing = [key for key in reference if reference[key] != results.get(key)]
    missing = set(reference) ^ set(results)
    for key in differing[:10]:
        for part in reference[key]:
            if reference[key][part] != results[key][part]:
                print(f"DIFFERS {key} [{part}]")
    print(
        f"pairs compared: {len(results)}; identical: {len(results) - len(differing)};"
        f" differing: {len(differing)}; missing/extra: {len(missing)}"
    )
    return 1 if differing or missing else 0


def _clear_caches() -> None:
    """Forget what earlier compares memoized, as for pages compared for the first time."""
    for module in (diff, lexicon):
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def time_compare(args: argparse.Namespace) -> int:
    """compare alone, over the pairs that changed: labelled change pairs, then all pairs."""
    documents, pairs = build_inputs(args.corpus, args.cache)
    manifest = json.loads((args.corpus / "manifest.json").read_text())
    labelled = [
        (f"html/{doc['id']}/{p['before']}", f"html/{doc['id']}/{p['after']}")
        for doc in manifest
        for p in doc["pairs"]
        if p["label"] == "change"
    ]
    sets = {
        "labelled change pairs (html)": [
            pair for pair in labelled if pair[0] in documents and pair[1] in documents
        ],
        "all changed golden pairs": pairs,
    }
    for name, chosen in sets.items():
        best: dict[tuple[str, str], float] = {}  # per pair, the fastest round: load is noise
        for _ in range(args.repeat):
            for pair in chosen:
                old, new = _fresh(documents, pair[0]), _fresh(documents, pair[1])
                if args.cold:
                    _clear_caches()
                if args.known_fingerprints:
                    old.fingerprint, new.fingerprint  # noqa: B018 - as watch.py has them
                start = time.perf_counter()
                change = compare(old, new)
                elapsed = time.perf_counter() - start
                if change.changed:
                    best[pair] = min(elapsed, best.get(pair, elapsed))
        timings = sorted(best.values())
        p95 = timings[min(len(timings) - 1, int(0.95 * len(timings)))]
        print(
            f"{name}: {len(timings)} pairs x {args.repeat},"
            f" median {statistics.median(timings) * 1000:.2f} ms,"
            f" p95 {p95 * 1000:.2f} ms, mean {statistics.mean(timings) * 1000:.2f} ms,"
            f" max {timings[-1] * 1000:.1f} ms"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("record", "check", "time"))
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--cold", action="store_true", help="clear memoized words per compare")
    parser.add_argument(
        "--known-fingerprints",
        action="store_true",
        help="compute Document.fingerprint before timing (document.py's cost, not diff.py's)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="timing rounds; each pair keeps its fastest"
    )
    args = parser.parse_args()
    if args.action == "time":
        return time_compare(args)
    return record_or_check(args, record=args.action == "record")


if __name__ == "__main__":
    sys.exit(main())
