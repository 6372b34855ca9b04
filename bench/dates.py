"""Agreement of monitor.dates with the hand-made date labels of the policy corpus.

    .venv/bin/python bench/dates.py [--corpus PATH] [--source html|md] [--verbose]

`--source html` (default) reads each `<id>/<snap>.html` through monitor.normalize with the
manifest's selectors; a snapshot it rejects (selector miss, challenge page) states no date.
`--source md` reads the archive's reference text instead, Markdown marks stripped.
In both, the page hints (language tag, modified-time metadata, URL) come from the .html.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path

from lxml import html as lxml_html

from monitor.dates import PageHints, document_dates, guess_language
from monitor.document import DateMention, Document

REPO = Path(__file__).resolve().parents[1]
_MODIFIED_META = ("article:modified_time", "og:updated_time", "last-modified", "dcterms.modified")


def page_hints(page: str, url: str) -> PageHints:
    """Language tag and modified-time metadata of a page, as a normalizer would collect them."""
    root = lxml_html.document_fromstring(page)
    modified = [
        ("meta", meta.get("content", "").strip())
        for meta in root.iter("meta")
        if (meta.get("property") or meta.get("name") or "").lower() in _MODIFIED_META
    ]
    modified += [
        ("json-ld", value) for value in re.findall(r'"dateModified"\s*:\s*"([^"]+)"', page)
    ]
    return PageHints(html_lang=root.get("lang"), modified=tuple(modified), url=url)


def markdown_lines(markdown: str) -> list[str]:
    """The text lines of a Markdown file, without heading, emphasis, link and table marks."""
    lines = []
    for line in markdown.splitlines():
        if re.fullmatch(r"\s*[-=_*\\|: ]*", line):  # blank, setext underline, rule, table rule
            continue
        line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)
        line = re.sub(r"^\s*(?:#+|[*+-]|\d+\\?\.)\s+", "", line)
        line = re.sub(r"\\([\\`*_{}\[\]()#+\-.!|])", r"\1", line)
        line = re.sub(r"\*\*|__|(?<!\w)[*_]|[*_](?!\w)|<br>|^\||\|$", " ", line)
        lines.append(re.sub(r"\s+", " ", line).strip())
    return [line for line in lines if line]


def document_lines(document: Document) -> list[str]:
    lines = [document.title] if document.title else []
    for section in document.sections:
        if section.label:
            lines.append(section.label)
        lines.extend(block.text for block in section.blocks)
    return lines


@dataclass
class Outcome:
    key: str
    label: str | None
    ours: DateMention | None
    evidence: str

    @property
    def value(self) -> str | None:
        return self.ours.value if self.ours else None


def dates_of(corpus: Path, entry: dict, snap: str, source: str):
    page = (corpus / entry["id"] / f"{snap}.html").read_text(errors="replace")
    hints = page_hints(page, entry["url"])
    if source == "md":
        lines = markdown_lines((corpus / entry["id"] / f"{snap}.md").read_text())
        language = (hints.html_lang or "")[:2] or guess_language("\n".join(lines))
        return (*document_dates(lines, language=language, hints=hints), None)
    from monitor.normalize import ExtractionError, Selection, normalize

    selection = Selection.from_config(entry["select"], entry["remove"])
    try:
        document = normalize(
            page.encode(), content_type="text/html", url=entry["url"], selection=selection
        )
    except ExtractionError:
        return None, None, None
    ours = document_dates(document_lines(document), language=document.language, hints=hints)
    return (*ours, document.last_updated)


def report(name: str, outcomes: list[Outcome], verbose: bool) -> None:
    agree = sum(o.value == o.label for o in outcomes)
    invented = [o for o in outcomes if o.label is None and o.value is not None]
    missed = [o for o in outcomes if o.label is not None and o.value is None]
    wrong = [o for o in outcomes if None not in (o.label, o.value) and o.label != o.value]
    print(
        f"{name:10} agreement {agree}/{len(outcomes)} = {agree / len(outcomes):.1%}"
        f"  invented {len(invented)}  missed {len(missed)}  wrong {len(wrong)}"
    )
    if verbose:
        for outcome in sorted(invented + missed + wrong, key=lambda o: o.key):
            phrase = outcome.ours.phrase[:90] if outcome.ours else ""
            print(
                f"  {outcome.key}: label {outcome.label} ours {outcome.value}"
                f"\n      evidence: {outcome.evidence[:90]!r}\n      our phrase: {phrase!r}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "policy-corpus")
    parser.add_argument("--source", choices=("html", "md"), default="html")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    labels = json.loads((args.corpus / "labels" / "dates.json").read_text())
    manifest = {
        entry["id"]: entry for entry in json.loads((args.corpus / "manifest.json").read_text())
    }
    misses = {
        f"{key}"
        for key in json.loads((args.corpus / "labels" / "selector_misses.json").read_text())[
            "dating"
        ]
    }
    dated: list[Outcome] = []
    effective: list[Outcome] = []
    as_normalized: list[Outcome] = []
    for key, label in sorted(labels.items()):
        _, doc_id, file_name = key.split("/")
        last_updated, effective_date, normalized = dates_of(
            args.corpus, manifest[doc_id], file_name.removesuffix(".md"), args.source
        )
        short = f"{doc_id}/{file_name.removesuffix('.md')}"
        dated.append(Outcome(short, label["date"], last_updated, label["evidence"]))
        effective.append(Outcome(short, label["effective"], effective_date, label["evidence"]))
        as_normalized.append(Outcome(short, label["date"], normalized, label["evidence"]))
    print(f"source {args.source}, {len(dated)} labelled snapshots")
    report("date", dated, args.verbose)
    report("effective", effective, args.verbose)
    print(f"without the {len(misses)} selector misses (no document, so no date):")
    report("date", [o for o in dated if o.key not in misses], False)
    report("effective", [o for o in effective if o.key not in misses], False)
    if args.source == "html":
        print("as normalize() itself reports last_updated (its own PageHints):")
        report("date", as_normalized, False)


if __name__ == "__main__":
    main()
