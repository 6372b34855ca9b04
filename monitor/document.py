"""The canonical document model: what a policy page says, free of the markup around it.

A `Document` is the one value that crosses from fetching to everything after it (store,
compare, notify, and one day a remote worker). It is immutable, serializable with
`to_dict`/`from_dict`, and renders to one canonical Markdown-like text. Two pages that state
the same policy text render byte-identical, whatever HTML surrounds it.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

BLOCK_KINDS = ("p", "li", "row", "pre")


@dataclass(frozen=True)
class Block:
    """A paragraph, list item, table row or preformatted block, as normalized text.

    `links` holds the block's link targets apart from its words, so that a changed link is
    a small change to the block, not a rewrite of its text.
    """

    text: str
    kind: str = "p"
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """A heading and the blocks under it, up to the next heading.

    `number` is the heading's numbering ("2.1", "IV", "A)") kept apart from its words, so that
    renumbering does not look like a renamed section. The untitled part before the first
    heading is a section with an empty heading and level 0.
    """

    heading: str
    level: int
    blocks: tuple[Block, ...] = ()
    number: str = ""

    @property
    def label(self) -> str:
        """The heading as a reader sees it, numbering included."""
        return f"{self.number} {self.heading}".strip()

    @property
    def text(self) -> str:
        return "\n".join(block.text for block in self.blocks)


@dataclass(frozen=True)
class DateMention:
    """A date the document states about itself, and the phrase it was read from.

    `value` is `YYYY-MM-DD`, or `YYYY-MM` when the page gives only a month. `source` says
    where it came from: "text", or a fallback ("meta", "json-ld", "time").
    """

    value: str
    phrase: str
    source: str = "text"


@dataclass(frozen=True)
class Document:
    title: str
    sections: tuple[Section, ...]
    language: str | None = None
    last_updated: DateMention | None = None
    effective: DateMention | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @cached_property
    def text(self) -> str:
        """Rendered once per document (a frozen value): a check reads it several times."""
        return render(self)

    @cached_property
    def fingerprint(self) -> str:
        """Hash of the comparison form of the text: equal exactly when the policy text is."""
        return text_fingerprint(self.text)

    @cached_property
    def word_count(self) -> int:
        return sum(len(block.text.split()) for s in self.sections for block in s.blocks)

    @cached_property
    def json_bytes(self) -> bytes:
        """`to_dict` as compact JSON in UTF-8 (written by orjson): how the store keeps it, and
        how it crosses to another process (`__reduce__`)."""
        return orjson.dumps(self.to_dict())

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # A crawl's pool worker sends each new text to the crawl's writer, which stores its
        # JSON (worked out already), text, fingerprint, word count and dates, and rarely reads
        # a section: thousands of blocks pickled and unpickled cost both sides about 0.8 ms a
        # document. So a document travels as those values, and its sections are rebuilt from
        # its JSON when first read (`__getattr__`).
        return (
            _document_from_pickle,
            (self.title, self.language, self.last_updated, self.effective, self.warnings,
             self.json_bytes, self.text, self.fingerprint, self.word_count),
        )  # fmt: skip

    def __getattr__(self, name: str) -> Any:
        # Called only for an attribute the instance lacks: the sections of an unpickled
        # document, until first read.
        if name == "sections" and "json_bytes" in self.__dict__:
            sections = Document.from_json(self.json_bytes).sections
            object.__setattr__(self, "sections", sections)
            return sections
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "language": self.language,
            "last_updated": _mention_to_dict(self.last_updated),
            "effective": _mention_to_dict(self.effective),
            "warnings": list(self.warnings),
            "sections": [
                {
                    "heading": s.heading,
                    "number": s.number,
                    "level": s.level,
                    "blocks": [
                        {"kind": b.kind, "text": b.text, "links": list(b.links)} for b in s.blocks
                    ],
                }
                for s in self.sections
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        return cls(
            title=data["title"],
            language=data.get("language"),
            last_updated=_mention_from_dict(data.get("last_updated")),
            effective=_mention_from_dict(data.get("effective")),
            warnings=tuple(data.get("warnings", ())),
            sections=tuple(
                Section(
                    heading=s["heading"],
                    number=s.get("number", ""),
                    level=s["level"],
                    blocks=tuple(
                        Block(text=b["text"], kind=b.get("kind", "p"), links=tuple(b["links"]))
                        for b in s["blocks"]
                    ),
                )
                for s in data["sections"]
            ),
        )

    @classmethod
    def from_json(cls, data: bytes) -> Document:
        """The inverse of `json_bytes` (also reads JSON written by the json module, as the
        store's older rows are)."""
        return cls.from_dict(orjson.loads(data))


def _document_from_pickle(
    title: str,
    language: str | None,
    last_updated: DateMention | None,
    effective: DateMention | None,
    warnings: tuple[str, ...],
    json_bytes: bytes,
    text: str,
    fingerprint: str,
    word_count: int,
) -> Document:
    """A document as `Document.__reduce__` sends it: its sections not yet rebuilt."""
    document = object.__new__(Document)
    document.__dict__.update(
        title=title, language=language, last_updated=last_updated, effective=effective,
        warnings=warnings, json_bytes=json_bytes, text=text, fingerprint=fingerprint,
        word_count=word_count,
    )  # fmt: skip
    return document


def _mention_to_dict(mention: DateMention | None) -> dict[str, str] | None:
    if mention is None:
        return None
    return {"value": mention.value, "phrase": mention.phrase, "source": mention.source}


def _mention_from_dict(data: dict[str, str] | None) -> DateMention | None:
    return None if data is None else DateMention(**data)


def render(document: Document) -> str:
    """The canonical text: Markdown-like, one block per paragraph, links on their own line."""
    parts: list[str] = []
    if document.title:
        parts.append(f"# {document.title}")
    for section in document.sections:
        if section.heading or section.number:
            parts.append("#" * min(section.level + 1, 6) + " " + section.label)
        for block in section.blocks:
            parts.append(_render_block(block))
    return "\n\n".join(parts) + "\n"


def _render_block(block: Block) -> str:
    if block.kind == "li":
        line = f"- {block.text}"
    elif block.kind == "row":
        line = f"| {block.text} |"
    else:
        line = block.text
    if block.links:
        line += "\n" + "\n".join(f"  <{link}>" for link in block.links)
    return line


_QUOTE_AND_DASH_FOLDS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u00b4": "'", "\u0060": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"', "\u2039": '"', "\u203a": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-", "\ufe58": "-", "\ufe63": "-", "\uff0d": "-",
    "\u2026": "...",
}  # fmt: skip


def _folded_characters(text: str) -> str:
    """`text` with `_QUOTE_AND_DASH_FOLDS` applied. A policy is mostly plain letters and uses
    a few of the folded characters, often: each is looked for with `in` (a search in C that
    skips ahead with memchr) and replaced at once where present. A regex character class
    finding them tests every character of the text (a 51 KB policy: 0.53 ms, against 0.11
    ms); str.translate looks up every character too. The replacements are ASCII, so no
    replacement makes a character that a later one would fold."""
    for character, replacement in _QUOTE_AND_DASH_FOLDS.items():
        if character in text:
            text = text.replace(character, replacement)
    return text


def fold_for_comparison(text: str) -> str:
    """Fold what readers do not see as a change: typographic quotes, dashes, ellipses.

    `"` after a fold may sit beside a space that the original put inside guillemets
    (« texte »), so spaces around quote marks are folded too.
    """
    folded = _folded_characters(unicodedata.normalize("NFC", text))
    return _without_spaces_at_quotes(folded)


def _without_spaces_at_quotes(text: str) -> str:
    """`re.sub(r'" | "', '"', text)`: at each quote mark, the space before it, else the space
    after it, goes, unless an earlier quote mark took that space. Done between the quote marks,
    since the regex tries a match at every space of the text."""
    parts = text.split('"')
    for index in range(1, len(parts)):  # the quote mark between parts[index - 1] and parts[index]
        if parts[index - 1].endswith(" "):
            parts[index - 1] = parts[index - 1][:-1]
        elif parts[index].startswith(" "):
            parts[index] = parts[index][1:]
    return '"'.join(parts)


def text_fingerprint(text: str) -> str:
    return hashlib.sha256(fold_for_comparison(text).encode("utf-8")).hexdigest()
