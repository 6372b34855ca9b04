"""Mass edits: the same edit made to several documents in one crawl, found once.

A company often edits the same clause in all of its policies on one day. Each document's
change is reduced to the blocks (headings, paragraphs, list items, rows) it added, removed
and reworded (a reworded block is the old and the new text together), compared after folding
the names that legitimately differ between documents: the targets' name words, their sites'
domain names and the documents' titles. Documents that share an edit are grouped, the shared
edit is shown once, and what else each document changed is listed beside it. Pure.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from urllib.parse import urlsplit

from monitor.document import Document

ADDED, REMOVED, REWORDED = "added", "removed", "reworded"
NAME_MARK = "…"  # what a folded name becomes
# A group needs a shared edit of at least this many words (after folding): a sentence, not a
# label or a date line that many unrelated documents bump on the same day.
MIN_SHARED_WORDS = 6
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Edit:
    kind: str  # ADDED | REMOVED | REWORDED
    text: str  # as the document shows it (the new text of a rewording)
    old: str = ""  # the text a rewording replaced

    def key(self, names: frozenset[str]) -> tuple[str, str, str]:
        """What two documents' copies of this edit have in common."""
        return (self.kind, fold(self.old, names), fold(self.text, names))


@dataclass(frozen=True)
class MassEdit:
    """Documents (indexes into the list given to `group_shared_edits`) that made the same
    edit: `shared` as the first of them shows it, and each one's other edits in `rest`."""

    members: tuple[int, ...]
    shared: tuple[Edit, ...]
    rest: tuple[tuple[Edit, ...], ...]


def block_edits(old: Document, new: Document) -> tuple[Edit, ...]:
    """The headings and blocks `new` added, removed or reworded, in document order. A run of
    old blocks replaced by as many new ones is a rewording of each; any other replacement
    is a removal and an addition. A block that only moved is no edit."""
    old_texts, new_texts = _passages(old), _passages(new)
    opcodes = SequenceMatcher(a=old_texts, b=new_texts, autojunk=False).get_opcodes()
    moved_old = Counter(old_texts) & Counter(new_texts)  # blocks on both sides, not matched
    for op, i1, i2, _, _ in opcodes:
        if op == "equal":
            moved_old.subtract(old_texts[i1:i2])
    moved_new = Counter(moved_old)
    edits: list[Edit] = []
    for op, i1, i2, j1, j2 in opcodes:
        if op == "equal":
            continue
        gone = [t for t in old_texts[i1:i2] if not _take(moved_old, t)]
        came = [t for t in new_texts[j1:j2] if not _take(moved_new, t)]
        if gone and len(gone) == len(came):
            edits += [Edit(REWORDED, n, o) for o, n in zip(gone, came, strict=True)]
        else:
            edits += [Edit(REMOVED, t) for t in gone] + [Edit(ADDED, t) for t in came]
    return tuple(edits)


def name_words(names: Iterable[str], urls: Iterable[str] = ()) -> frozenset[str]:
    """The words to fold: each name's words (target names, document titles) and each URL's
    domain name labels (without `www` and the top-level domain), lowercased."""
    words = {w.lower() for name in names for w in _WORD.findall(name)}
    for url in urls:
        labels = (urlsplit(url).hostname or "").split(".")
        if len(labels) > 1 and not labels[-1].isdigit():
            words.update(label for label in labels[:-1] if label != "www")
    return frozenset(w for w in words if w and not w.isdigit())


def fold(text: str, names: frozenset[str]) -> str:
    """`text` lowercased, with every name word replaced by NAME_MARK and runs of marks and
    spaces collapsed: what two documents' copies of one clause have in common."""
    words = [NAME_MARK if w in names else w for w in _WORD.findall(text.lower())]
    folded = " ".join(words)
    return re.sub(rf"{NAME_MARK}( {NAME_MARK})+", NAME_MARK, folded)


def group_shared_edits(
    edits: Sequence[Sequence[Edit]], names: frozenset[str], min_members: int = 2
) -> list[MassEdit]:
    """Group the documents (one edit list each) that made the same edit.

    Greedy: the folded edit held by the most documents (and enough words) seeds a group of
    every document holding it; the group's shared edit is what all of them hold. Repeated on
    the documents left. Linear in the number of edits per round."""
    folded = [{e.key(names): e for e in doc} for doc in edits]
    left = set(range(len(edits)))
    groups = []
    while True:
        counts: Counter[tuple[str, str]] = Counter()
        for index in sorted(left):
            counts.update(
                k for k in folded[index] if max(_words(k[1]), _words(k[2])) >= MIN_SHARED_WORDS
            )
        seed = next((k for k, n in counts.most_common() if n >= min_members), None)
        if seed is None:
            return groups
        members = tuple(i for i in sorted(left) if seed in folded[i])
        shared_keys = set.intersection(*(set(folded[i]) for i in members))
        first = folded[members[0]]
        groups.append(
            MassEdit(
                members=members,
                shared=tuple(e for k, e in first.items() if k in shared_keys),
                rest=tuple(
                    tuple(e for k, e in folded[i].items() if k not in shared_keys) for i in members
                ),
            )
        )
        left -= set(members)


def _passages(document: Document) -> list[str]:
    texts = []
    for section in document.sections:
        if section.heading:
            texts.append(section.heading)
        texts.extend(block.text for block in section.blocks)
    return [t for t in texts if t.strip()]


def _take(moved: Counter[str], text: str) -> bool:
    """Whether `text` is one of the blocks found on both sides (then it is used up)."""
    if moved[text] <= 0:
        return False
    moved[text] -= 1
    return True


def _words(folded: str) -> int:
    return sum(1 for w in folded.split() if w != NAME_MARK)
