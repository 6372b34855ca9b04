"""Materiality benchmark: our `compare` against the corpus's hand-made materiality labels.

Each labelled change pair is read into two Documents — from the `.html` pages through
`monitor.normalize.normalize` with the manifest's selectors (default), or from the `.md`
reference texts with a small Markdown reader (`--source md`, dates taken from
labels/dates.json) — and compared. Prints the agreement with labels/materiality.json, the
material/minor confusion matrix, the categories found, and the median / p95 time of
`compare` on these pairs.

    .venv/bin/python bench/materiality.py [--corpus PATH] [--source html|md] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from monitor.diff import Change, compare
from monitor.document import Block, DateMention, Document, Section

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "policy-corpus"

_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_NUMBER = re.compile(r"^((?:\d+\.)*\d+\.?|[IVXLC]+\.|[A-Z]\))\s+(.*)$")
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def markdown_document(text: str, dates: dict | None = None) -> Document:
    """A Document from archive Markdown: ATX/setext headings, paragraphs, lists, table rows."""
    lines = text.splitlines()
    sections: list[Section] = []
    heading, number, level, blocks = "", "", 0, []
    paragraph: list[str] = []
    title = ""

    def flush_paragraph(kind: str = "p") -> None:
        if paragraph:
            blocks.append(_block(" ".join(paragraph), kind))
            paragraph.clear()

    def start_section(raw: str, depth: int) -> None:
        nonlocal heading, number, level, blocks
        flush_paragraph()
        if heading or number or blocks:
            sections.append(Section(heading, level, tuple(blocks), number))
        plain, _links = _inline(raw)
        match = _NUMBER.match(plain)
        number, heading = (match.group(1), match.group(2)) if match else ("", plain)
        level, blocks = depth, []

    index = 0
    while index < len(lines):
        line = lines[index].rstrip()
        following = lines[index + 1].rstrip() if index + 1 < len(lines) else ""
        atx = _ATX.match(line)
        if atx:
            start_section(atx.group(2), len(atx.group(1)))
        elif line.strip() and _SETEXT.match(following) and not _LIST.match(line):
            depth = 1 if following.startswith("=") else 2
            if depth == 1 and not title and not sections and not blocks:
                flush_paragraph()
                title = _inline(line)[0]
            else:
                start_section(line, depth)
            index += 1
        elif not line.strip():
            flush_paragraph()
        elif line.lstrip().startswith("|"):
            flush_paragraph()
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                blocks.append(_block(" | ".join(cells), "row"))
        elif _LIST.match(line):
            flush_paragraph()
            paragraph.append(_LIST.match(line).group(1))
            flush_paragraph("li")
        else:
            paragraph.append(line.strip())
        index += 1
    flush_paragraph()
    if heading or number or blocks:
        sections.append(Section(heading, level, tuple(blocks), number))
    dates = dates or {}
    evidence = dates.get("evidence") or ""
    return Document(
        title=title,
        sections=tuple(sections),
        last_updated=DateMention(dates["date"], evidence) if dates.get("date") else None,
        effective=DateMention(dates["effective"], evidence) if dates.get("effective") else None,
    )


def _inline(text: str) -> tuple[str, tuple[str, ...]]:
    links = tuple(m.group(2) for m in _LINK.finditer(text))
    plain = _LINK.sub(lambda m: m.group(1), text)
    plain = re.sub(r"\\(.)", r"\1", plain)
    plain = re.sub(r"(\*\*|__|\*|`)", "", plain)
    return " ".join(plain.split()), links


def _block(raw: str, kind: str) -> Block:
    text, links = _inline(raw)
    return Block(text, kind, links)


def load_pair(
    corpus: Path, doc: dict, before: str, after: str, source: str, dates: dict
) -> tuple[Document, Document]:
    if source == "md":
        return tuple(  # type: ignore[return-value]
            markdown_document(
                (corpus / doc["id"] / f"{snap}.md").read_text(),
                dates.get(f"dating/{doc['id']}/{snap}.md"),
            )
            for snap in (before, after)
        )
    from monitor.normalize import Selection, normalize

    selection = Selection.from_config(doc["select"], doc["remove"])
    return tuple(  # type: ignore[return-value]
        normalize(
            (corpus / doc["id"] / f"{snap}.html").read_bytes(),
            content_type="text/html",
            url=doc["url"],
            selection=selection,
        )
        for snap in (before, after)
    )


def sections_line(change: Change) -> str:
    parts = []
    for s in change.sections:
        mark = "*" if s.material else ""
        name = s.heading or "(untitled)"
        parts.append(f"{s.status}{mark} {name[:40]!r} +{s.words_added}/-{s.words_removed}")
    return "; ".join(parts[:8]) + (f"; … {len(parts) - 8} more" if len(parts) > 8 else "")


def report_noise(corpus: Path, manifest: list, source: str, dates: dict, *, verbose: bool) -> None:
    """Noise pairs should compare unchanged; a changed one should at least be minor."""
    outcome: Counter[str] = Counter()
    for doc in manifest:
        for pair in doc["pairs"]:
            if pair["label"] != "noise":
                continue
            try:
                old, new = load_pair(corpus, doc, pair["before"], pair["after"], source, dates)
            except Exception:  # noqa: BLE001 - counted as not extracted
                outcome["not extracted"] += 1
                continue
            change = compare(old, new)
            kind = "material" if change.material else "minor" if change.changed else "unchanged"
            outcome[kind] += 1
            if verbose and kind == "material":
                print(f"  noise {doc['id']}/{pair['before']}..{pair['after']}: {change.summary}")
    print("noise pairs:", ", ".join(f"{kind} {n}" for kind, n in outcome.most_common()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--source", choices=("html", "md"), default="html")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--noise", action="store_true", help="also compare the noise pairs (text unchanged)"
    )
    args = parser.parse_args()
    corpus: Path = args.corpus
    manifest = json.loads((corpus / "manifest.json").read_text())
    labels = json.loads((corpus / "labels" / "materiality.json").read_text())
    dates = json.loads((corpus / "labels" / "dates.json").read_text())
    by_id = {doc["id"]: doc for doc in manifest}

    confusion: Counter[tuple[str, str]] = Counter()
    categories: Counter[str] = Counter()
    timings: list[float] = []
    skipped: list[str] = []
    unchanged: list[str] = []
    for key, label in labels.items():
        _collection, doc_id, snaps = key.split("/")
        before, after = snaps.split("..")
        try:
            old, new = load_pair(corpus, by_id[doc_id], before, after, args.source, dates)
        except Exception as error:  # noqa: BLE001 - ExtractionError and friends: count and go on
            skipped.append(f"{key}: {type(error).__name__}: {error}")
            continue
        start = time.perf_counter()
        change = compare(old, new)
        timings.append(time.perf_counter() - start)
        ours = "material" if change.material else "minor"
        if not change.changed:
            unchanged.append(key)
        confusion[(label["class"], ours)] += 1
        categories.update(change.categories)
        if args.verbose and ours != label["class"]:
            print(f"\n{key}\n  label {label['class']}: {label['summary']}")
            print(f"  ours  {ours}: {change.summary}")
            print(f"  sections: {sections_line(change)}")

    total = sum(confusion.values())
    agree = confusion[("material", "material")] + confusion[("minor", "minor")]
    print(f"\nsource: {args.source}   pairs compared: {total} of {len(labels)}")
    print(f"skipped (not extracted): {len(skipped)}")
    for line in skipped if args.verbose else []:
        print(f"  {line}")
    print(f"reported unchanged (fingerprint equal): {len(unchanged)}")
    print(f"agreement: {agree}/{total} = {agree / max(total, 1):.1%}")
    print("confusion (rows: label, columns: ours)   material   minor")
    for row in ("material", "minor"):
        print(f"  {row:<38}{confusion[(row, 'material')]:>9}{confusion[(row, 'minor')]:>8}")
    print("categories:", ", ".join(f"{c} {n}" for c, n in categories.most_common()))
    if args.noise:
        report_noise(corpus, manifest, args.source, dates, verbose=args.verbose)
    if timings:
        timings.sort()
        p95 = timings[min(len(timings) - 1, int(0.95 * len(timings)))]
        median = statistics.median(timings)
        print(
            f"compare time over {len(timings)} pairs: median {median * 1000:.1f} ms,"
            f" p95 {p95 * 1000:.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
