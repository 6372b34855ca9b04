"""Change intelligence: what changed between two versions of a policy, and whether it matters.

`compare(old, new)` aligns the two documents section by section, redlines each changed
section word by word, and decides whether the change is *material*.

Alignment, cheapest first, so that big policies stay near-linear:

1. identical sections (same heading words, same text) are paired by hash;
2. then sections with the same heading words (the text changed);
3. then sections with the same text (the heading changed: a rename);
4. only the leftovers are fuzzy-matched: by heading similarity (rapidfuzz) or by shared words.

Heading numbers (`Section.number`) are kept apart from the heading words, so a renumbered
section is still the same section. Paired sections out of their old order (outside the
longest in-order run) were moved.

A section is reported once, with the first status that applies: "modified" (its text
changed — also when it was renamed or moved; `old_heading` then holds the old label),
"renamed" (same text, other heading words or number), "moved" (same heading and text, other
place). "added" and "removed" are the unpaired ones; unchanged sections are not listed.

Materiality. Every edit of the word-level diff is sorted into one of the harmless kinds —
whitespace, punctuation or case only, link targets, the document's date line, a renumbered
cross-reference ("Article 15.4" → "Article 14.4"), a table-of-contents entry repeating a
heading — or kept as a word edit. Words removed in one place and added in another are
cancelled across the whole document (reordering, moved paragraphs, split sections). What
remains is minor when it is typo-level: at most two distinct word edits, each a spelling
variant of the word it replaces (or an article), with no negation, modal verb or number
involved. Anything else is material. Heading words take part in the cancellation but a
change confined to headings is minor: a heading labels a statement, it does not make one.

Categories (monitor/lexicon.py) are named for material sections only: from the changed words
and the section heading, or, when those name none, from the words around the edits.
`silent_change` needs a stated date in the old version: a page that states none cannot
announce a change by moving it.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from itertools import chain, compress, count
from typing import Any, NamedTuple

from cydifflib import SequenceMatcher  # difflib's, compiled: the same opcodes, a fifth of the time
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from monitor.document import Block, Document, Section, fold_for_comparison
from monitor.lexicon import (
    ARTICLES,
    CATEGORY_IDS,
    DATE_LINE_PATTERN,
    LIST_CONNECTORS,
    MODALS,
    MONTHS,
    NEGATIONS,
    NEW_WINDOW_NOTES,
    REFERENCE_WORDS,
    categories_in,
    categories_in_folded,
    fold_words,
)

MAX_TYPO_EDITS = 2
# Leftover section pairs compared by shared words; beyond this only headings are compared.
MAX_CONTENT_COMPARISONS = 10_000
HEADING_SIMILARITY = 80.0
CONTENT_SIMILARITY = 0.5
RENAMED_CONTENT_SIMILARITY = 0.2
TOC_SIMILARITY = 90.0
DATE_LINE_MAX_WORDS = 30
CONTEXT_WORDS = 6
CONTEXT_TOKENS = 12


@dataclass(frozen=True)
class DateChange:
    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class RedlineSegment:
    op: str
    text: str


@dataclass(frozen=True)
class SectionChange:
    status: str
    heading: str
    old_heading: str | None
    material: bool
    categories: tuple[str, ...]
    redline: tuple[RedlineSegment, ...]
    words_added: int
    words_removed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "heading": self.heading,
            "old_heading": self.old_heading,
            "material": self.material,
            "categories": list(self.categories),
            "redline": [[segment.op, segment.text] for segment in self.redline],
            "words_added": self.words_added,
            "words_removed": self.words_removed,
        }


@dataclass(frozen=True)
class Change:
    changed: bool
    material: bool
    date_changed: DateChange | None
    silent_change: bool
    date_only: bool
    sections: tuple[SectionChange, ...]
    categories: tuple[str, ...]
    words_added: int
    words_removed: int
    summary: str

    def to_dict(self) -> dict[str, Any]:
        date = self.date_changed
        return {
            "changed": self.changed,
            "material": self.material,
            "date_changed": None
            if date is None
            else {"field": date.field, "from": date.old, "to": date.new},
            "silent_change": self.silent_change,
            "date_only": self.date_only,
            "sections": [section.to_dict() for section in self.sections],
            "categories": list(self.categories),
            "words_added": self.words_added,
            "words_removed": self.words_removed,
            "summary": self.summary,
        }


# ---------------------------------------------------------------------------------------------
# Tokens


_DIGIT = re.compile(r"\d")
_LEADING_NUMBER = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3})*|[a-z]|[ivxlc]{1,6})[.)]?$", re.I)
_NUMBER_OR_ENUMERATOR_MARK = re.compile(r"[\d(§]")
_ENUMERATOR = re.compile(r"^\((?:\d{1,3}|[a-z]|[ivxlc]{1,6})\)[.,;:]?$|^§\s*\d", re.I)


@lru_cache(maxsize=1 << 16)
def _folded_word(word: str) -> str:
    """`fold_words` of a word, without the spaces around it (its letter runs, space-separated)."""
    return fold_words(word)[1:-1]


def _fold_words_of(words: Iterable[str]) -> str:
    """`fold_words(" ".join(words))`, from the words' remembered folds: folding never joins or
    splits characters across whitespace (case folds and decomposes character by character)."""
    return " " + " ".join(filter(None, map(_folded_word, words))) + " "


@lru_cache(maxsize=1 << 16)
def _normal_word(word: str) -> str:
    """A word as compared for meaning: folded case and accents, punctuation dropped."""
    return _folded_word(word).replace(" ", "")


@lru_cache(maxsize=1 << 16)
def _word_key(word: str) -> str:
    """A word as compared for the redline: only what readers do not see is folded."""
    return fold_for_comparison(word)


def _word_keys(text: str, words: list[str]) -> list[str]:
    """`_word_key` of each word of `text`. An ASCII word without a backtick is its own key:
    nothing in it is folded, and a word has no space for a quote mark to take."""
    if text.isascii() and "`" not in text:
        return words
    return list(map(_word_key, words))


@lru_cache(maxsize=1 << 10)
def _is_date_line(text: str, date_phrases: tuple[str, ...]) -> bool:
    """A short block stating the document's own date (or holding the phrase it was read from).
    Remembered: each edit of short words in a block asks again."""
    if len(text.split()) > DATE_LINE_MAX_WORDS:
        return False
    folded = fold_words(text)
    return any(phrase in folded for phrase in date_phrases) or bool(
        DATE_LINE_PATTERN.search(folded)
    )


# The date phrases of the old and of the new version.
_Phrases = tuple[tuple[str, ...], tuple[str, ...]]


def _date_phrases(document: Document) -> tuple[str, ...]:
    mentions = (document.last_updated, document.effective)
    phrases = (fold_words(m.phrase) for m in mentions if m is not None and m.phrase.strip())
    return tuple(phrase for phrase in phrases if phrase.strip())


class _Tokens:
    """The tokens of a run of blocks: each block's words, then its link targets.

    Kept as parallel lists, one item a token (a long section has tens of thousands): `keys`
    as the word diff compares them, `texts` as the redline shows them (with the separator that
    follows: a space, or a line break at the end of a block), `words` as they are (the texts
    without separator) and `roles`: "word", "link" or "number" (an enumeration marker such as
    "2.1" or "(b)", or the number of a cross-reference such as "Article 15.4"). Links and
    numbers are shown in the redline but do not make a change material.
    """

    def __init__(self, blocks: Sequence[Block]) -> None:
        self.blocks = blocks
        self.starts: list[int] = []  # per block, the index of its first token
        self.keys: list[str] = []
        self.texts: list[str] = []
        self.words: list[str] = []
        self.roles: list[str] = []
        for block in blocks:
            self.starts.append(len(self.keys))
            text = block.text
            words = text.split()
            self.keys += _word_keys(text, words)
            self.roles += _word_roles(words, text)
            if block.links:
                self.keys += ["\x00" + link for link in block.links]
                self.roles += ["link"] * len(block.links)
                words = [*words, *(f"<{link}>" for link in block.links)]
            self.words += words
            texts = [word + " " for word in words]
            if texts:
                texts[-1] = texts[-1][:-1] + "\n"
            self.texts += texts


class _Span(NamedTuple):
    """The tokens from `start` to `stop` of a run."""

    tokens: _Tokens
    start: int
    stop: int

    def text(self) -> str:
        return "".join(self.tokens.texts[self.start : self.stop])

    def body_words(self) -> list[str]:
        """The words, numbers and links aside."""
        roles = self.tokens.roles[self.start : self.stop]
        words = self.tokens.words[self.start : self.stop]
        if roles.count("word") == len(roles):
            return words
        return list(compress(words, map("word".__eq__, roles)))

    def count(self) -> int:
        """How many words and numbers, links aside."""
        return self.stop - self.start - self.tokens.roles[self.start : self.stop].count("link")

    def has_link(self) -> bool:
        return "link" in self.tokens.roles[self.start : self.stop]

    def in_date_lines(self, date_phrases: tuple[str, ...]) -> bool:
        """Every word is in a block that is the document's date line."""
        tokens = self.tokens
        blocks = {
            bisect.bisect_right(tokens.starts, index) - 1
            for index in range(self.start, self.stop)
            if tokens.roles[index] == "word"
        }
        return all(_is_date_line(tokens.blocks[block].text, date_phrases) for block in blocks)


def _word_roles(words: Sequence[str], text: str) -> list[str]:
    """ "number" for enumeration markers and cross-reference numbers, "word" for the rest.

    `words` are the words of `text`. A cross-reference is a number after a reference word
    ("Article 15.4", "§ 3"), and the numbers listed after it ("Sections 10, 13 and 15").
    Only a leading marker ("a.", "iv)"), a word holding a digit or one opening with "(" or
    "§" can be a number, so only those words are looked at.
    """
    if not words:
        return []
    roles = ["word"] * len(words)
    if _is_leading_marker(words):
        roles[0] = "number"
    if _NUMBER_OR_ENUMERATOR_MARK.search(text) is None:
        return roles
    marked = {word for word in set(words) if word[0] in "(§" or _is_number(word)}
    for index in compress(count(), map(marked.__contains__, words)):
        word = words[index]
        if word[0] in "(§" and _ENUMERATOR.match(word):
            roles[index] = "number"
        elif index > 0 and _is_number(word):
            previous = words[index - 1]
            if (
                previous == "§"
                or _is_reference_word(previous)
                or (roles[index - 1] == "number" and previous.endswith(","))
                or (
                    index > 1
                    and roles[index - 2] == "number"
                    and _normal_word(previous) in LIST_CONNECTORS
                )
            ):
                roles[index] = "number"
    return roles


def _body_words(text: str) -> tuple[list[str], int]:
    """The words of a block's text that are words, not numbers, and how many words it has."""
    words = text.split()
    roles = _word_roles(words, text)
    if "number" not in roles:
        return words, len(words)
    return [word for word, role in zip(words, roles, strict=True) if role == "word"], len(words)


def _is_leading_marker(words: Sequence[str]) -> bool:
    """The first word is an enumeration marker ("2.1", "b)", "iv."), not a word of its own."""
    first = words[0]
    return len(words) > 1 and bool(_LEADING_NUMBER.match(first)) and first.lower() != "a"


def _blocks_text(blocks: Sequence[Block]) -> str:
    """The redline text of blocks, as their tokens would join: words, then <link> targets."""
    lines = []
    for block in blocks:
        words = _spaced_words(block.text)
        if words or block.links:
            lines.append(" ".join([*words, *(f"<{link}>" for link in block.links)]) + "\n")
    return "".join(lines)


def _spaced_words(text: str) -> list[str]:
    """`text.split()`, as one item when `text` is already its words joined by single spaces:
    joined, they read the same."""
    if _is_single_spaced(text):
        return [text] if text else []
    return text.split()


def _is_single_spaced(text: str) -> bool:
    """`text` is `" ".join(text.split())`. Printable text has no whitespace but the plain
    space, so only spaces that pile up or sit at an end would be collapsed."""
    return text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "


def _is_reference_word(word: str) -> bool:
    normal = _normal_word(word)
    return normal in REFERENCE_WORDS or normal.removesuffix("s") in REFERENCE_WORDS


_BlockKey = tuple[str, tuple[str, ...]]


def _block_key(block: Block) -> _BlockKey:
    return _comparison_text(block.text), block.links


@lru_cache(maxsize=1 << 12)
def _comparison_text(text: str) -> str:
    """A block's text as compared: folded, whitespace collapsed. Remembered because both
    versions of a page share most blocks."""
    folded = _fold(text)
    return folded if _is_single_spaced(folded) else " ".join(folded.split())


def _fold(text: str) -> str:
    """`fold_for_comparison`, skipped where it cannot change anything (plain ASCII, no quote)."""
    return text if text.isascii() and '"' not in text else fold_for_comparison(text)


# ---------------------------------------------------------------------------------------------
# Word-level diff of one section


class _Edit(NamedTuple):
    """One non-equal stretch of the word diff, and what kind of edit it is.

    `removed` and `added` are its words (numbers and links aside), as shown; the counts are
    of its words and numbers, links aside. A named tuple: a rewrite makes tens of thousands,
    and a frozen dataclass is several times slower to build."""

    kind: str  # "words", "format", "link", "numbering", "date", "toc"
    removed: list[str]
    added: list[str]
    removed_count: int
    added_count: int
    context: str = ""  # the words around the edit, for naming categories


@dataclass
class _SectionDiff:
    segments: list[RedlineSegment] = field(default_factory=list)
    edits: list[_Edit] = field(default_factory=list)


def _diff_tokens(
    old: _Tokens, new: _Tokens, diff: _SectionDiff, phrases: _Phrases,
    headings: _Headings,
) -> None:  # fmt: skip
    matcher = SequenceMatcher(None, old.keys, new.keys, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _append_segment(diff.segments, "=", "".join(new.texts[j1:j2]))
            continue
        removed, added = _Span(old, i1, i2), _Span(new, j1, j2)
        _append_segment(diff.segments, "-", removed.text())
        _append_segment(diff.segments, "+", added.text())
        context = " ".join(
            [*old.texts[max(0, i1 - CONTEXT_TOKENS) : i1], *new.texts[j2 : j2 + CONTEXT_TOKENS]]
        )
        removed_words, added_words = removed.body_words(), added.body_words()
        kind = _edit_kind(removed, added, removed_words, added_words, phrases, headings)
        diff.edits.append(
            _Edit(kind, removed_words, added_words, removed.count(), added.count(), context)
        )


def _diff_sections(
    old: Section, new: Section, keys: tuple[Sequence[_BlockKey], Sequence[_BlockKey]],
    phrases: _Phrases, headings: _Headings,
) -> _SectionDiff:  # fmt: skip
    """Blocks first (cheap, by their `_block_key`s), then words inside the runs of blocks that
    differ."""
    diff = _SectionDiff()
    matcher = SequenceMatcher(None, keys[0], keys[1], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _append_segment(diff.segments, "=", _blocks_text(new.blocks[j1:j2]))
        else:
            tokens = _Tokens(old.blocks[i1:i2]), _Tokens(new.blocks[j1:j2])
            _diff_tokens(*tokens, diff, phrases, headings)
    return diff


def _append_segment(segments: list[RedlineSegment], op: str, text: str) -> None:
    if not text:
        return
    if segments and segments[-1].op == op:
        segments[-1] = RedlineSegment(op, segments[-1].text + text)
    else:
        segments.append(RedlineSegment(op, text))


def _is_number(word: str) -> bool:
    return _DIGIT.search(word) is not None


def _is_date_word(word: str) -> bool:
    normal = _normal_word(word)
    return not normal or _is_number(normal) or normal in MONTHS or len(normal) <= 3


_LONGEST_NEW_WINDOW_NOTE = max(map(len, NEW_WINDOW_NOTES))


def _edit_kind(
    removed: _Span, added: _Span, removed_words: Sequence[str], added_words: Sequence[str],
    phrases: _Phrases, headings: _Headings,
) -> str:  # fmt: skip
    """The kind of the edit of `removed` by `added` tokens, whose words are given. Whether
    their blocks are date lines (a fold of each block) is asked only of date words."""
    if not removed_words and not added_words:
        return "link" if removed.has_link() or added.has_link() else "numbering"
    removed_normal = "".join(map(_normal_word, removed_words))
    added_normal = "".join(map(_normal_word, added_words))
    if removed_normal == added_normal:
        return "format"
    if (
        all(map(_is_date_word, removed_words))
        and all(map(_is_date_word, added_words))
        and removed.in_date_lines(phrases[0])
        and added.in_date_lines(phrases[1])
    ):
        return "date"
    if removed_words and added_words:
        return "words"
    one_side, normal = (
        (removed_words, removed_normal) if removed_words else (added_words, added_normal)
    )
    # The folded text is at least as long as its words' normal forms joined.
    if (
        len(normal) <= _LONGEST_NEW_WINDOW_NOTE
        and fold_words(" ".join(one_side)).strip() in NEW_WINDOW_NOTES
    ):
        return "link"
    if headings.holds([w for w in one_side if not _is_number(w)]):
        return "toc"
    return "words"


class _Headings:
    """The heading keys of both versions, for telling a table-of-contents entry (a line that
    repeats a heading of the document, typos aside)."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = frozenset(key for key in keys if key)
        self.longest = max(map(len, self.keys), default=0)

    def holds(self, words: Sequence[str]) -> bool:
        """The words repeat a heading.

        Their key is at least as long as their normal forms joined, and a key more than twice
        as long as every heading is none of them: its `fuzz.ratio` with each is below 67 (the
        Indel distance is at least the difference in length)."""
        if sum(map(len, map(_normal_word, words))) > 2 * self.longest:
            return False
        text = " ".join(words)
        key = _heading_key(text)
        if not key:
            return False
        if key in self.keys:
            return True
        return (
            process.extractOne(key, self.keys, scorer=fuzz.ratio, score_cutoff=TOC_SIMILARITY)
            is not None
        )


# ---------------------------------------------------------------------------------------------
# Section alignment


def _heading_key(heading: str) -> str:
    return fold_words(heading).strip()


class _Keyed(NamedTuple):
    """A document's sections, with the keys they are aligned and diffed by (each worked out
    once: alignment, statuses and the block diff all ask for them)."""

    sections: tuple[Section, ...]
    headings: list[str]
    contents: list[tuple[_BlockKey, ...]]  # per section, its blocks' `_block_key`s

    @classmethod
    def of(cls, document: Document) -> _Keyed:
        sections = document.sections
        return cls(
            sections,
            [_heading_key(s.heading) for s in sections],
            [tuple(map(_block_key, s.blocks)) for s in sections],
        )


def _word_set(section: Section) -> frozenset[str]:
    """The words of `fold_words(section.text)`."""
    words = chain.from_iterable(block.text.split() for block in section.blocks)
    return frozenset(_fold_words_of(words).split())


def _pair_by_key(
    old_keys: Sequence[Any], new_keys: Sequence[Any], old_free: set[int], new_free: set[int],
    pairs: dict[int, int],
) -> None:  # fmt: skip
    """Pair still-free sections with equal keys, in document order."""
    waiting: dict[Any, list[int]] = {}
    for j in sorted(new_free):
        waiting.setdefault(new_keys[j], []).append(j)
    for i in sorted(old_free):
        queue = waiting.get(old_keys[i])
        if queue:
            j = queue.pop(0)
            pairs[i] = j
            old_free.discard(i)
            new_free.discard(j)


def _fuzzy_pairs(
    old: _Keyed, new: _Keyed, old_free: set[int], new_free: set[int], pairs: dict[int, int]
) -> None:
    """Pair leftovers by heading similarity or shared words, best score first.

    Headings are compared in rapidfuzz's C loop; shared words only while the number of
    leftover pairs is small, so a rewritten policy cannot make this quadratic in Python.
    """
    olds, news = sorted(old_free), sorted(new_free)
    if not olds or not news:
        return
    compare_content = len(olds) * len(news) <= MAX_CONTENT_COMPARISONS
    old_words = {i: _word_set(old.sections[i]) for i in olds} if compare_content else {}
    new_words = {j: _word_set(new.sections[j]) for j in news} if compare_content else {}
    new_headings = {j: key for j in news if (key := new.headings[j])}
    candidates: list[tuple[float, int, int]] = []
    for i in olds:
        similar_headings: dict[int, float] = {}
        if old_heading := old.headings[i]:
            similar_headings = {
                j: score
                for _key, score, j in process.extract(
                    old_heading, new_headings, scorer=fuzz.ratio,
                    score_cutoff=HEADING_SIMILARITY, limit=None,
                )
            }  # fmt: skip
        for j in news if compare_content else similar_headings:
            content = _jaccard(old_words[i], new_words[j]) if compare_content else 0.0
            if j in similar_headings and (
                not compare_content or content >= RENAMED_CONTENT_SIMILARITY
            ):
                candidates.append((1.0 + similar_headings[j] / 100 + content, i, j))
            elif content >= CONTENT_SIMILARITY:
                candidates.append((content, i, j))
    for _score, i, j in sorted(candidates, reverse=True):
        if i in old_free and j in new_free:
            pairs[i] = j
            old_free.discard(i)
            new_free.discard(j)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def _align(old: _Keyed, new: _Keyed) -> dict[int, int]:
    old_free, new_free = set(range(len(old.sections))), set(range(len(new.sections)))
    pairs: dict[int, int] = {}
    _pair_by_key(
        list(zip(old.headings, old.contents, strict=True)),
        list(zip(new.headings, new.contents, strict=True)),
        old_free, new_free, pairs,
    )  # fmt: skip
    _pair_by_key(old.headings, new.headings, old_free, new_free, pairs)
    _pair_by_key(old.contents, new.contents, old_free, new_free, pairs)
    _fuzzy_pairs(old, new, old_free, new_free, pairs)
    return pairs


def _in_order(pairs: dict[int, int]) -> set[int]:
    """Old indices of the longest run of pairs kept in order (patience LIS, n log n)."""
    ordered = sorted(pairs.items())
    tails: list[int] = []
    tail_index: list[int] = []
    previous: list[int] = [-1] * len(ordered)
    for position, (_i, j) in enumerate(ordered):
        k = bisect.bisect_left(tails, j)
        if k == len(tails):
            tails.append(j)
            tail_index.append(position)
        else:
            tails[k] = j
            tail_index[k] = position
        previous[position] = tail_index[k - 1] if k > 0 else -1
    kept: set[int] = set()
    position = tail_index[-1] if tail_index else -1
    while position >= 0:
        kept.add(ordered[position][0])
        position = previous[position]
    return kept


# ---------------------------------------------------------------------------------------------
# Materiality


@dataclass
class _Pending:
    """A listed section before its materiality is known."""

    status: str
    heading: str
    old_heading: str | None
    order: float
    redline: tuple[RedlineSegment, ...]
    edits: list[_Edit]
    heading_removed: list[str]
    heading_added: list[str]

    @property
    def words_added(self) -> int:
        return sum(edit.added_count for edit in self.edits)

    @property
    def words_removed(self) -> int:
        return sum(edit.removed_count for edit in self.edits)

    @cached_property
    def changed_words(self) -> tuple[list[str], list[str]]:
        """The words removed and added by its word edits (materiality and categories ask)."""
        removed: list[str] = []
        added: list[str] = []
        for edit in self.edits:
            if edit.kind == "words":
                removed += edit.removed
                added += edit.added
        return removed, added


# Scripts written without spaces between words (Chinese, Japanese, Thai): a space-separated
# "word" there is a whole clause, and a character or two changes what it says.
_UNSPACED_SCRIPT = re.compile(
    r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
)


def _typo_similar(old: str, new: str) -> bool:
    """A spelling variant: one or two letters apart, or an abbreviation ("article" → "art.")."""
    a, b = _normal_word(old), _normal_word(new)
    if a == b:
        return True
    if _UNSPACED_SCRIPT.search(a) or _UNSPACED_SCRIPT.search(b):
        return False
    shortest = min(len(a), len(b))
    if shortest >= 3 and (
        (old.endswith(".") and b.startswith(a)) or (new.endswith(".") and a.startswith(b))
    ):
        return True
    if max(len(a), len(b)) < 4:
        return False
    return OSA.distance(a, b) <= (1 if shortest < 8 else 2)


def _is_typo_level(removed: Sequence[str], added: Sequence[str]) -> bool:
    """At most two distinct edits, each a spelling variant or an article; no sense-bearing word."""
    # Each word makes an edit holding its normal form on its side: with more distinct forms on
    # a side than edits allowed, the answer is no, without pairing words (quadratic).
    if _more_forms_than(removed, MAX_TYPO_EDITS) or _more_forms_than(added, MAX_TYPO_EDITS):
        return False
    for word in (*removed, *added):
        normal = _normal_word(word)
        if _is_number(normal) or normal in NEGATIONS or normal in MODALS:
            return False
    unpaired_added = list(added)
    edits: set[tuple[str, str]] = set()
    for word in removed:
        match = next((w for w in unpaired_added if _typo_similar(word, w)), None)
        if match is not None:
            unpaired_added.remove(match)
            edits.add((_normal_word(word), _normal_word(match)))
        elif _normal_word(word) in ARTICLES:
            edits.add((_normal_word(word), ""))
        else:
            return False
    for word in unpaired_added:
        if _normal_word(word) not in ARTICLES:
            return False
        edits.add(("", _normal_word(word)))
    return len(edits) <= MAX_TYPO_EDITS


def _more_forms_than(words: Iterable[str], limit: int) -> bool:
    """More than `limit` distinct normal forms among `words` (read only until that is known)."""
    forms: set[str] = set()
    for word in words:
        forms.add(_normal_word(word))
        if len(forms) > limit:
            return True
    return False


@lru_cache(maxsize=1 << 16)
def _pieces(word: str) -> tuple[str, ...]:
    """A token split where it glues words together ("PROVISIONS.some", "help@example.com")."""
    pieces = tuple(_WORD_PIECE.findall(word))
    return (word,) if len(pieces) <= 1 else pieces


_WORD_PIECE = re.compile(r"[^\W_]+")


def _all_pieces(words: Iterable[str]) -> list[str]:
    return list(chain.from_iterable(map(_pieces, words)))


def _take(words: Sequence[str], normals: Sequence[str], budget: Counter[str]) -> list[str]:
    """The words still owed in `budget` (consumed as they are taken); `normals` are their
    normal forms."""
    taken = []
    if not budget:
        return taken
    for word, normal in zip(words, normals, strict=True):
        if normal and budget.get(normal, 0) > 0:
            budget[normal] -= 1
            taken.append(word)
    return taken


def _net_words(pending: Sequence[_Pending]) -> list[tuple[list[str], list[str]]]:
    """Per section, the body words removed/added that no other edit puts back (moves cancel)."""
    removed_all: Counter[str] = Counter()
    added_all: Counter[str] = Counter()
    per_section = []
    for item in pending:
        removed, added = map(_all_pieces, item.changed_words)
        removed_normals = list(map(_normal_word, removed))
        added_normals = list(map(_normal_word, added))
        per_section.append((removed, removed_normals, added, added_normals))
        removed_all.update(removed_normals)
        removed_all.update(map(_normal_word, _all_pieces(item.heading_removed)))
        added_all.update(added_normals)
        added_all.update(map(_normal_word, _all_pieces(item.heading_added)))
    removed_budget = removed_all - added_all
    added_budget = added_all - removed_all
    return [
        (_take(removed, removed_normals, removed_budget), _take(added, added_normals, added_budget))
        for removed, removed_normals, added, added_normals in per_section
    ]


def _section_categories(item: _Pending) -> tuple[str, ...]:
    """Categories named by the changed words and the heading; else by the words around them."""
    removed, added = item.changed_words
    # Folded as "heading old-heading removed | added" would be (folding drops the "|").
    words = chain(item.heading.split(), (item.old_heading or "").split(), removed, added)
    return categories_in_folded(_fold_words_of(words)) or categories_in(
        " | ".join(edit.context for edit in item.edits if edit.kind == "words")
    )


# ---------------------------------------------------------------------------------------------
# compare


def compare(old: Document, new: Document) -> Change:
    """What changed from `old` to `new`; see the module docstring for the rules."""
    date_changed = _date_change(old, new)
    changed = old.fingerprint != new.fingerprint
    if not changed:
        return Change(False, False, date_changed, False, False, (), (), 0, 0, "no change")
    pending = _pending_sections(old, new)
    net = _net_words(pending)
    sections = tuple(
        SectionChange(
            status=item.status,
            heading=item.heading,
            old_heading=item.old_heading,
            material=(material := bool(r or a) and not _is_typo_level(r, a)),
            categories=_section_categories(item) if material else (),
            redline=item.redline,
            words_added=item.words_added,
            words_removed=item.words_removed,
        )
        for item, (r, a) in zip(pending, net, strict=True)
    )
    material = any(s.material for s in sections)
    touched = {c for s in sections for c in s.categories}
    categories = tuple(c for c in CATEGORY_IDS if c in touched)
    date_only = date_changed is not None and all(map(_date_line_only, pending))
    has_stated_date = old.last_updated is not None or old.effective is not None
    silent = material and date_changed is None and has_stated_date
    words_added = sum(s.words_added for s in sections)
    words_removed = sum(s.words_removed for s in sections)
    change = Change(
        changed=True,
        material=material,
        date_changed=date_changed,
        silent_change=silent,
        date_only=date_only,
        sections=sections,
        categories=categories,
        words_added=words_added,
        words_removed=words_removed,
        summary="",
    )
    date_line_only = {
        index for index, item in enumerate(pending) if item.edits and _date_line_only(item)
    }
    return replace(change, summary=_summary(change, date_line_only))


def _date_line_only(item: _Pending) -> bool:
    return item.status == "modified" and all(edit.kind == "date" for edit in item.edits)


def _date_change(old: Document, new: Document) -> DateChange | None:
    for name in ("last_updated", "effective"):
        before, after = getattr(old, name), getattr(new, name)
        old_value = before.value if before else None
        new_value = after.value if after else None
        if old_value != new_value:
            return DateChange(name, old_value, new_value)
    return None


def _pending_sections(old_document: Document, new_document: Document) -> list[_Pending]:
    old, new = _Keyed.of(old_document), _Keyed.of(new_document)
    pairs = _align(old, new)
    kept_in_order = _in_order(pairs)
    phrases = (_date_phrases(old_document), _date_phrases(new_document))
    headings = _Headings((*old.headings, *new.headings))
    pending: list[_Pending] = []
    for i, j in pairs.items():
        before, after = old.sections[i], new.sections[j]
        text_changed = old.contents[i] != new.contents[j]
        renamed = old.headings[i] != new.headings[j]
        renumbered = before.number != after.number
        if text_changed:
            status = "modified"
        elif renamed or renumbered:
            status = "renamed"
        elif i not in kept_in_order:
            status = "moved"
        else:
            continue
        if text_changed:
            keys = (old.contents[i], new.contents[j])
            diff = _diff_sections(before, after, keys, phrases, headings)
            redline, edits = tuple(diff.segments), diff.edits
        else:
            text = _blocks_text(after.blocks)
            redline = (RedlineSegment("=", text),) if text else ()
            edits = []
        heading_removed, heading_added = _heading_edit(before.heading, after.heading)
        pending.append(
            _Pending(
                status=status,
                heading=after.label,
                old_heading=before.label if before.label != after.label else None,
                order=j,
                redline=redline,
                edits=edits,
                heading_removed=heading_removed,
                heading_added=heading_added,
            )
        )
    paired_new = set(pairs.values())
    for j, section in enumerate(new.sections):
        if j not in paired_new:
            pending.append(_whole_section("added", section, j))
    for i, section in enumerate(old.sections):
        if i not in pairs:
            pending.append(_whole_section("removed", section, _anchor(i, pairs)))
    pending.sort(key=lambda item: item.order)
    return pending


def _heading_edit(old: str, new: str) -> tuple[list[str], list[str]]:
    old_words, new_words = Counter(old.split()), Counter(new.split())
    return list((old_words - new_words).elements()), list((new_words - old_words).elements())


def _anchor(old_index: int, pairs: dict[int, int]) -> float:
    """Where a removed section sits in the new order: just after its nearest kept predecessor."""
    for i in range(old_index - 1, -1, -1):
        if i in pairs:
            return pairs[i] + 0.5
    return -0.5


def _whole_section(status: str, section: Section, order: float) -> _Pending:
    """An added or removed section: all its words are one word edit."""
    words: list[str] = []
    total = 0  # words and numbers
    for block in section.blocks:
        block_words, block_total = _body_words(block.text)
        words += block_words
        total += block_total
    text = _blocks_text(section.blocks)
    op = "+" if status == "added" else "-"
    heading = section.heading.split()
    if status == "added":
        edit = _Edit("words", [], words, 0, total)
        heading_removed, heading_added = [], heading
    else:
        edit = _Edit("words", words, [], total, 0)
        heading_removed, heading_added = heading, []
    return _Pending(
        status=status,
        heading=section.label,
        old_heading=None,
        order=order,
        redline=(RedlineSegment(op, text),) if text else (),
        edits=[edit] if text else [],
        heading_removed=heading_removed,
        heading_added=heading_added,
    )


# ---------------------------------------------------------------------------------------------
# Presentation

STATUS_ORDER = ("modified", "added", "removed", "renamed", "moved")
NAMES_IN_SUMMARY = 3


def _date_label(date: DateChange) -> str:
    label = "Last Updated" if date.field == "last_updated" else "Effective"
    return f"{label} {date.old or 'none'} → {date.new or 'none'}"


def _section_name(section: SectionChange) -> str:
    return section.heading or "untitled part"


def _summary(change: Change, date_line_only: set[int]) -> str:
    """One line; a section whose only edit is the date line is told by the date part."""
    if not change.changed:
        return "no change"
    if change.date_only and change.date_changed:
        return "date only: " + _date_label(change.date_changed)
    parts = []
    shown = [s for index, s in enumerate(change.sections) if index not in date_line_only]
    for status in STATUS_ORDER:
        listed = [s for s in shown if s.status == status]
        if not listed:
            continue
        noun = "section" if len(listed) == 1 else "sections"
        part = f"{len(listed)} {noun} {status}" if not parts else f"{len(listed)} {status}"
        named = [s for s in listed if s.material] or listed
        names = ", ".join(_section_name(s) for s in named[:NAMES_IN_SUMMARY])
        if len(named) > NAMES_IN_SUMMARY:
            names += ", …"
        parts.append(f"{part} ({names})")
    text = ("material" if change.material else "minor") + " change: "
    text += ", ".join(parts) if parts else "formatting only"
    if change.date_changed:
        text += " — " + _date_label(change.date_changed)
    elif change.silent_change:
        text += " — stated date not updated"
    return text


def redline_text(segments: Sequence[RedlineSegment], *, limit: int | None = None) -> str:
    """`[-removed-]{+added+}` with kept text shortened to a few words around each edit.

    With `limit` (characters), the text is cut at a word boundary and ends with a note of how
    much was left out.
    """
    pieces: list[str] = []
    for index, segment in enumerate(segments):
        if segment.op == "=":
            pieces.append(_context(segment.text, first=index == 0, last=index == len(segments) - 1))
        else:
            body = " ".join(segment.text.split())
            pieces.append(f"[-{body}-]" if segment.op == "-" else f"{{+{body}+}}")
            if index + 1 < len(segments) and segments[index + 1].op == "=":
                pieces.append(" ")
    full = _join_pieces(pieces)
    if limit is None or len(full) <= limit:
        return full
    cut = full.rfind(" ", 0, limit + 1)
    cut = cut if cut > limit // 2 else limit
    shown = full[:cut].rstrip()
    shown = _close_markers(shown)
    return f"{shown} … ({len(full) - cut} more characters; see the full diff)"


def _context(text: str, *, first: bool, last: bool) -> str:
    words = text.split()
    if first and last:
        return ""
    keep = CONTEXT_WORDS
    if first:
        return ("… " if len(words) > keep else "") + " ".join(words[-keep:]) + " "
    if last:
        return " ".join(words[:keep]) + (" …" if len(words) > keep else "")
    if len(words) > 2 * keep:
        return " ".join(words[:keep]) + " … " + " ".join(words[-keep:]) + " "
    return " ".join(words) + " "


def _join_pieces(pieces: Sequence[str]) -> str:
    return re.sub(r" {2,}", " ", "".join(pieces)).strip()


def _close_markers(text: str) -> str:
    """Close a `[-` or `{+` that the cut left open."""
    opened_removal = text.rfind("[-") > text.rfind("-]")
    opened_addition = text.rfind("{+") > text.rfind("+}")
    if opened_removal:
        return text + "-]"
    if opened_addition:
        return text + "+}"
    return text


def format_report(change: Change) -> str:
    """A readable multi-line report of a change (what `policywatch compare` prints)."""
    lines = [change.summary]
    if not change.changed:
        return lines[0]
    if change.date_changed:
        lines.append("Stated date: " + _date_label(change.date_changed))
    if change.silent_change:
        lines.append("Silent change: the text changed materially but the stated date did not.")
    if change.categories:
        lines.append("Touches: " + ", ".join(change.categories))
    lines.append(f"Words: +{change.words_added} / -{change.words_removed}")
    for section in change.sections:
        lines.append("")
        title = f"[{section.status}] {_section_name(section)}"
        if section.old_heading:
            title += f" (was: {section.old_heading})"
        title += " — " + ("material" if section.material else "minor")
        if section.categories:
            title += ": " + ", ".join(section.categories)
        lines.append(title)
        excerpt = redline_text(section.redline, limit=800)
        if excerpt:
            lines.append("    " + excerpt.replace("\n", "\n    "))
    return "\n".join(lines)
