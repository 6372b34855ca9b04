"""Plain-text and PDF policies to blocks: headings read from the shape of the lines.

A plain-text policy has no markup, so headings are recognized by what they look like:
numbered lines ("1. Introduction", "2.1 Personal Information", "Article 3 - Fees") and loose
headings (a short line without closing punctuation, in Title Case or CAPITALS, ending with ":"
or "?", or standing alone, that introduces a paragraph). Bullet lines become list items.
"""

from __future__ import annotations

import io
import re

from monitor.extract import RawBlock, clean_text

_BULLET = re.compile(
    r"^\s*(?:[\u2022\u25e6\u25aa\u25cf\u2023\u00b7*+\-\u2013\u2014])\s+(?P<rest>\S.*)$"
)
_NUMBERED_HEADING = re.compile(
    r"^(?:(?:article|section|chapter|artikel|abschnitt|chapitre)\s+\w+\b\.?"
    r"|\u00a7+\s*\d+|(?P<digits>\d{1,3}(?:\.\d{1,3})*)\.?|[IVXLC]{1,6}\.)"
    r"\s*[-\u2013\u2014:.)]?\s+(?P<rest>\S.*)$",
    re.IGNORECASE,
)
_LOOSE_HEADING_KEY = (10, 0)
# Markdown: "## Heading" (its key ranks it above guessed headings, by its number of marks),
# and a link on its own indented line, as the canonical text writes them.
_ATX_HEADING = re.compile(r"^(?P<marks>#{1,6})\s+(?P<rest>\S.*)$")
_MARKDOWN_ITEM = re.compile(r"^- (?P<rest>\S.*)$")
_LINK_LINE = re.compile(r"^ {2}<(?P<url>[^\s<>]+)>$")
MARKDOWN_TITLE_KEY = (0, 1)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?$", re.IGNORECASE)


def _numbered_heading_key(line: str) -> tuple[int, int] | None:
    match = _NUMBERED_HEADING.match(line)
    if not match or len(line.split()) > 12 or line[-1] in ".,;!":
        return None
    if not match["rest"][:1].isupper():
        return None
    depth = len(match["digits"].split(".")) if match["digits"] else 1
    return (depth, 0)


def _is_paragraph(line: str) -> bool:
    return len(line.split()) >= 10 or line.rstrip()[-1:] in ".!;"


def _is_title_case(line: str) -> bool:
    words = [word for word in re.findall(r"[^\W\d_][\w'-]*", line) if len(word) >= 4]
    if not words:
        return False
    return sum(word[0].isupper() for word in words) >= 0.8 * len(words)


def _is_loose_heading(line: str, *, alone: bool, next_line: str | None) -> bool:
    if next_line is None or not _is_paragraph(next_line) or _BULLET.match(next_line):
        return False
    if len(line.split()) > 8 or len(line) > 80 or line[-1] in ".,;!)" or _BULLET.match(line):
        return False
    if ":" in line[:-1] or _YEAR.search(line):
        return False  # "Label: value" lines and date lines are text, not headings
    letters = [char for char in line if char.isalpha()]
    if not letters:
        return False
    shouted = all(char.isupper() for char in letters)
    return shouted or _is_title_case(line) or line[-1] in ":?" or alone


def _could_be_title(line: str) -> bool:
    return len(line.split()) <= 8 and line[-1] not in ".,;:!?" and not _YEAR.search(line)


def _is_hard_wrapped(lines: list[str]) -> bool:
    """Lines broken at a fixed width (as in e-mails and PDFs) rather than one per paragraph."""
    long_lines = [line for line in lines if len(line) > 50]
    if len(long_lines) < 5:
        return False
    return max(len(line) for line in long_lines) <= 100


def _wrap_width(lines: list[str]) -> int:
    """The width the text was wrapped at: nearly every line with spaces fits in it."""
    lengths = sorted(len(line) for line in lines if " " in line)
    return lengths[int(0.95 * (len(lengths) - 1))] if lengths else 0


def _broken_on_purpose(line: str, following: str, width: int) -> bool:
    """In hard-wrapped text, a line break where the next word would still have fit on the line
    was written by the author: it ends a paragraph, list item or heading."""
    return len(line) + 1 + len(following.split(" ", 1)[0]) <= width


def _following_text(lines: list[str], raw_lines: list[str], index: int, width: int) -> str | None:
    """The next non-empty line, with the lines that continue it when the text is wrapped."""
    later = next((i for i in range(index + 1, len(lines)) if lines[i]), None)
    if later is None:
        return None
    parts = [lines[later]]
    while width and len(parts) < 3 and later + 1 < len(lines) and lines[later + 1]:
        if not _continues(raw_lines[later], lines[later + 1], width):
            break
        later += 1
        parts.append(lines[later])
    return " ".join(parts)


def _is_shouted(line: str) -> bool:
    letters = [char for char in line if char.isalpha()]
    return len(letters) >= 4 and all(char.isupper() for char in letters)


def _continues(previous: str, line: str, width: int) -> bool:
    """Whether `line` carries on the paragraph, item or heading of `previous` in wrapped text.

    Not when the break was made on purpose, nor when a line in capitals (a heading) is
    followed by one that is not: a wrapped heading stays in capitals."""
    if _broken_on_purpose(previous, line, width):
        return False
    return not (_is_shouted(previous) and not _is_shouted(line))


def plain_text_blocks(text: str) -> list[RawBlock]:
    """The blocks of a plain-text policy; its first line is a heading when it looks like one.

    Hard-wrapped text (lines broken at a fixed width) is read back into paragraphs and list
    items, so that the same text wrapped at another width, or not at all, gives the same blocks.
    """
    raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").expandtabs().split("\n")
    lines = [clean_text(line) for line in raw_lines]
    wrapped = _is_hard_wrapped(lines)
    # Wrapping is measured on the lines as written, indentation included.
    raw_lines = [raw.rstrip() if line else "" for raw, line in zip(raw_lines, lines, strict=True)]
    width = _wrap_width(raw_lines)
    # A text that marks headings with "#" marks them all: no heading is guessed in it. This
    # makes the canonical text read back into the same document.
    markdown = any(_ATX_HEADING.match(line) for line in lines)
    blocks: list[RawBlock] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(RawBlock("p", " ".join(paragraph)))
            paragraph.clear()

    for index, line in enumerate(lines):
        if not line:
            flush()
            continue
        link = _LINK_LINE.match(raw_lines[index])
        if link and blocks and not paragraph:
            last = blocks[-1]
            blocks[-1] = RawBlock(last.kind, last.text, (*last.links, link["url"]), last.key)
            continue
        atx = _ATX_HEADING.match(line) if markdown else None
        if atx:
            flush()
            blocks.append(RawBlock("h", clean_text(atx["rest"]), key=(0, len(atx["marks"]))))
            continue
        previous = raw_lines[index - 1] if index else ""
        continues = wrapped and bool(previous) and _continues(previous, line, width)
        # A sentence closed at the end of a line may be followed by a heading whatever the width.
        may_head = not continues or previous[-1] in ".!?:"
        following = _following_text(lines, raw_lines, index, width if wrapped else 0)
        alone = (index == 0 or not previous) and (index + 1 == len(lines) or not lines[index + 1])
        may_head = may_head and not markdown
        key = _numbered_heading_key(line) if may_head else None
        if key is None and may_head:
            opens_text = not blocks and not paragraph
            if _is_loose_heading(line, alone=alone, next_line=following) or (
                opens_text and _could_be_title(line)
            ):
                key = _LOOSE_HEADING_KEY
        bullet = (_MARKDOWN_ITEM if markdown else _BULLET).match(line)
        if key is not None:
            flush()
            blocks.append(RawBlock("h", line, key=key))
        elif bullet:
            flush()
            blocks.append(RawBlock("li", bullet["rest"]))
        elif continues and not paragraph and blocks and blocks[-1].kind in ("li", "h"):
            last = blocks[-1]
            blocks[-1] = RawBlock(last.kind, f"{last.text} {line}", key=last.key)
        elif wrapped:
            if paragraph and not continues:
                flush()
            paragraph.append(line)
        else:
            blocks.append(RawBlock("p", line))
    flush()
    return blocks


def pdf_text(body: bytes) -> str | None:
    """The text of a PDF, page by page, without page numbers; None without pypdf."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError:
        return None
    try:
        reader = PdfReader(io.BytesIO(body))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, OSError):
        return ""
    kept = [
        "\n".join(line for line in page.splitlines() if not _PAGE_NUMBER.match(line.strip()))
        for page in pages
    ]
    return "\n\n".join(kept)
