"""Everyday use of the store: history, diffs, the text at a date, search, export, reprocess.

Each function takes an open `Store` and returns plain values; `policywatch history`, `diff`,
`show`, `search`, `export` and `reprocess` only parse arguments and print them. Versions are
named by their id (as `history` lists them) or by a date: the version as it stood then, by
fetch time.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from monitor.config import Target
from monitor.diff import Change, RedlineSegment, compare, format_report
from monitor.document import Document
from monitor.normalize import ExtractionError, normalize
from monitor.notify import change_headline
from monitor.report import date_line, html_report, section_heading
from monitor.store import Store, StoredVersion

DIFF_FORMATS = ("text", "markdown", "html")
EXPORT_AUTHOR = ("policywatch", "policywatch@localhost")
EXPORT_TRAILER = "Policywatch-Version"


class HistoryError(ValueError):
    """A request the store cannot answer (unknown target, no such version); one line."""


@dataclass(frozen=True)
class HistoryEntry:
    """One version of a target and the change that produced it (none for the baseline)."""

    version: int
    fetched_at: str
    title: str
    last_updated: str | None
    effective: str | None
    word_count: int
    change: str | None  # "material" | "minor" | None for the first version
    categories: tuple[str, ...]
    summary: str | None
    same_as: int | None = None  # the page returned to this earlier version's text
    same_as_at: str | None = None  # when that version was fetched

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "categories": list(self.categories)}

    @property
    def description(self) -> str:
        """What this version is: the first, a change, or a return to an earlier text."""
        if self.same_as is not None:
            return f"same as the version of {self.same_as_at} (version {self.same_as})"
        if self.change is None:
            return "first version"
        return f"{self.change}: {self.summary}"


@dataclass(frozen=True)
class Diff:
    target: str
    old: StoredVersion
    new: StoredVersion
    change: Change


@dataclass(frozen=True)
class SearchHit:
    """A matching passage: held by versions `first_version` to `version` of `target`."""

    target: str
    first_version: int
    version: int  # the newest version holding the passage
    fetched_at: str  # when `version` was fetched
    current: bool  # the passage is in the target's newest version
    snippet: str  # the passage around the matches, which are in [brackets]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReprocessResult:
    target: str
    fetches: int  # fetches whose kept body was normalized again
    versions_before: int
    versions_after: int
    changes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- history, show, diff -----------------------------------------------------------------------


def history(store: Store, target: str) -> list[HistoryEntry]:
    rows = store.version_log(target)
    if not rows:
        raise HistoryError(f"no stored version of {target!r}")
    return [
        HistoryEntry(
            version=row["id"],
            fetched_at=row["created_at"],
            title=row["title"] or "",
            last_updated=row["last_updated"],
            effective=row["effective"],
            word_count=row["word_count"] or 0,
            change=None if row["change_id"] is None else "material" if row["material"] else "minor",
            categories=tuple(json.loads(row["categories"] or "[]")),
            summary=row["summary"],
            same_as=row["same_as"],
            same_as_at=row["same_as_at"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class SideBySideRow:
    """One moment in the merged history of several targets (regional variants of one
    policy): the version each target stood at then; `changed` is the column that moved."""

    fetched_at: str
    versions: tuple[HistoryEntry | None, ...]
    changed: int


def side_by_side(store: Store, targets: list[str]) -> list[SideBySideRow]:
    """The histories of `targets` merged in time: each version of any of them is a row that
    also shows what the others stood at then."""
    histories = [history(store, name) for name in targets]
    events = sorted(
        (entry.fetched_at, entry.version, column, entry)
        for column, entries in enumerate(histories)
        for entry in entries
    )
    current: list[HistoryEntry | None] = [None] * len(targets)
    rows = []
    for fetched_at, _, column, entry in events:
        current[column] = entry
        rows.append(SideBySideRow(fetched_at, tuple(current), column))
    return rows


def resolve_version(store: Store, target: str, spec: str) -> StoredVersion:
    """A version of `target` by id ("12") or by date ("2025-03-01", or a full ISO time): the
    version as it stood at the end of that day (or at that moment)."""
    entries = history(store, target)
    if spec.isdigit():
        version_id = int(spec)
        if version_id not in {e.version for e in entries}:
            raise HistoryError(f"{target!r} has no version {version_id}")
    else:
        moment = _moment(spec)
        earlier = [e for e in entries if datetime.fromisoformat(e.fetched_at) <= moment]
        if not earlier:
            first = entries[0].fetched_at
            raise HistoryError(f"{target!r} had no version yet at {spec} (first: {first})")
        version_id = earlier[-1].version
    version = store.version(version_id)
    assert version is not None
    return version


def _moment(spec: str) -> datetime:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", spec):
            day = datetime.fromisoformat(spec).date()
            return datetime.combine(day, time.max, tzinfo=UTC)
        moment = datetime.fromisoformat(spec)
    except ValueError:
        raise HistoryError(f"{spec!r} is neither a version id nor a date (YYYY-MM-DD)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def show(store: Store, target: str, at: str | None = None) -> StoredVersion:
    """The version of `target` at a date, or its newest."""
    if at is not None:
        return resolve_version(store, target, at)
    return resolve_version(store, target, str(history(store, target)[-1].version))


def diff(store: Store, target: str, old: str | None = None, new: str | None = None) -> Diff:
    """The change between two versions (ids or dates); by default the last two. With only
    `old`, from it to the newest."""
    entries = history(store, target)
    if old is None:
        if len(entries) < 2:
            raise HistoryError(f"{target!r} has only one version: nothing to compare")
        old = str(entries[-2].version)
    new = new if new is not None else str(entries[-1].version)
    old_version = resolve_version(store, target, old)
    new_version = resolve_version(store, target, new)
    change = compare(old_version.document, new_version.document)
    return Diff(target, old_version, new_version, change)


def render_diff(result: Diff, url: str, fmt: str) -> str:
    """The diff as a text report, Markdown, or the self-contained HTML report."""
    title = f"{result.target}: {change_headline(result.change)}"
    span = (
        f"version {result.old.id} ({result.old.created_at}) → "
        f"version {result.new.id} ({result.new.created_at})"
    )
    if fmt == "html":
        return html_report(
            result.target,
            url,
            result.change,
            title=title,
            detected_at=result.new.created_at,
            versions=span,
        )
    if fmt == "markdown":
        return markdown_diff(title, span, url, result.change)
    return f"{title}\n{span}\n\n{format_report(result.change)}\n"


def markdown_diff(title: str, span: str, url: str, change: Change) -> str:
    """The whole diff in Markdown: removed text struck through, added text in bold."""
    lines = [f"# {_md(title)}", "", _md(span), "", _md(change.summary), ""]
    dates = date_line(change)
    if dates:
        lines.append(f"- **Stated date:** {_md(dates)}")
    if change.categories:
        lines.append(f"- **Touches:** {', '.join(change.categories)}")
    lines.append(f"- **Words:** +{change.words_added} / −{change.words_removed}")
    lines.append(f"- **Page:** <{url}>")
    for section in change.sections:
        weight = "material" if section.material else "minor"
        categories = f": {', '.join(section.categories)}" if section.categories else ""
        lines += ["", f"## {_md(section_heading(section))}", ""]
        lines += [f"*{section.status} ({weight}){categories}*", "", _md_redline(section.redline)]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return re.sub(r"([\\`*_~<>|\[\]#])", r"\\\1", text)


def _md_redline(segments: tuple[RedlineSegment, ...]) -> str:
    marks = {"+": "**", "-": "~~", "=": ""}
    paragraphs: list[str] = []
    line = ""
    for segment in segments:
        mark = marks[segment.op]
        for index, piece in enumerate(segment.text.split("\n")):
            if index:
                paragraphs.append(line)
                line = ""
            stripped = piece.strip()
            if stripped and mark:
                lead = " " if piece[:1].isspace() else ""
                tail = " " if piece[-1:].isspace() else ""
                line += f"{lead}{mark}{_md(stripped)}{mark}{tail}"
            else:
                line += _md(piece)
    paragraphs.append(line)
    return "\n\n".join(p.strip() for p in paragraphs if p.strip())


# -- search ------------------------------------------------------------------------------------


def search(store: Store, query: str, limit: int = 20) -> list[SearchHit]:
    """Passages (headings and paragraphs) of current and past versions that match `query`,
    best first, each with the versions that hold it.

    `query` is FTS5 syntax (`data AND sale`, `"sell your data"`, `retent*`), matched within
    one passage; a query FTS5 cannot parse is searched as its plain words."""
    try:
        rows = store.search_passages(query, limit)
    except sqlite3.OperationalError:
        words = re.findall(r"\w+", query)
        if not words:
            return []
        rows = store.search_passages(" ".join(f'"{w}"' for w in words), limit)
    times = {row["id"]: row["created_at"] for row in store.version_log()}
    return [
        SearchHit(
            target=row["target"],
            first_version=row["first_version"],
            version=row["version"],
            fetched_at=times.get(row["version"], ""),
            current=row["last_version"] is None,
            snippet=row["snippet"],
        )
        for row in rows
    ]


# -- export ------------------------------------------------------------------------------------


def slug(name: str) -> str:
    return re.sub(r"[^\w]+", "-", name.casefold()).strip("-") or "policy"


def version_markdown(target: str, url: str | None, version: StoredVersion) -> str:
    """A version as a Markdown file: a small front matter, then the canonical text."""
    document = version.document
    front = {
        "target": target,
        "url": url,
        "version": version.id,
        "fetched_at": version.created_at,
        "last_updated": document.last_updated.value if document.last_updated else None,
        "effective": document.effective.value if document.effective else None,
        "fingerprint": version.fingerprint,
    }
    lines = ["---", *(f"{key}: {json.dumps(value)}" for key, value in front.items()), "---", ""]
    return "\n".join(lines) + document.text


def export(
    store: Store, directory: Path, urls: dict[str, str] | None = None, *, git: bool = False
) -> list[Path]:
    """Write every stored version as Markdown; the files written (or committed).

    Without `git`: `DIR/<target>/<fetch time>-v<id>.md`, one file per version. With `git`:
    `DIR/<target>.md` in a git repository, one commit per version in fetch-time order, dated
    by its fetch time; running it again commits only the versions not exported yet."""
    urls = urls or {}
    directory.mkdir(parents=True, exist_ok=True)
    rows = store.version_log()
    if git:
        return _export_git(store, directory, rows, urls)
    written = []
    for row in rows:
        version = store.version(row["id"])
        assert version is not None
        stamp = re.sub(r"[^0-9T]", "", row["created_at"][:19])
        path = directory / slug(row["target"]) / f"{stamp}-v{row['id']}.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(version_markdown(row["target"], urls.get(row["target"]), version))
        written.append(path)
    return written


def _export_git(
    store: Store, directory: Path, rows: list[dict[str, Any]], urls: dict[str, str]
) -> list[Path]:
    git = _git_runner(directory)
    if not (directory / ".git").exists():
        git("init", "--quiet")
    done = set(re.findall(rf"^{EXPORT_TRAILER}: (\d+)$", _git_log(git), flags=re.MULTILINE))
    written = []
    for row in rows:
        if str(row["id"]) in done:
            continue
        version = store.version(row["id"])
        assert version is not None
        path = directory / f"{slug(row['target'])}.md"
        path.write_text(version_markdown(row["target"], urls.get(row["target"]), version))
        what = row["summary"] or "first version"
        message = f"{row['target']}: {what}\n\n{EXPORT_TRAILER}: {row['id']}\n"
        git("add", path.name)
        git("commit", "--quiet", "--allow-empty", "-m", message, date=row["created_at"])
        written.append(path)
    return written


def _git_runner(directory: Path) -> Callable[..., str]:
    def run(*args: str, date: str | None = None) -> str:
        name, email = EXPORT_AUTHOR
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        if date:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
        try:
            done = subprocess.run(
                ["git", "-C", str(directory), *args],
                capture_output=True, text=True, env=env, check=True,
            )  # fmt: skip
        except FileNotFoundError:
            raise HistoryError("--git needs the git command") from None
        except subprocess.CalledProcessError as err:
            raise HistoryError(f"git {args[0]}: {err.stderr.strip()}") from None
        return done.stdout

    return run


def _git_log(git: Callable[..., str]) -> str:
    try:
        return git("log", "--format=%B")
    except HistoryError:  # a repository without commits yet
        return ""


# -- reprocess ---------------------------------------------------------------------------------


def reprocess(store: Store, target: Target) -> ReprocessResult:
    """Normalize every kept body of `target` again (after a normalizer or selector update) and
    rebuild its versions and changes from them, in one transaction. Sends no alert.

    Refused when some version came from a fetch whose body was not kept (a store older than
    raw-body keeping): rebuilding would lose that version."""
    missing = store.versions_without_raw_body(target.name)
    if missing:
        raise HistoryError(
            f"{target.name!r}: {missing} version(s) predate kept page bodies; not reprocessed"
        )
    fetches = store.reprocessable_fetches(target.name)
    before = len(store.version_log(target.name))
    documents: dict[str, Document | ExtractionError] = {}
    versions = changes = 0
    with store.transaction():
        next_id = store.next_version_id()
        store.clear_history(target.name)
        previous: tuple[int, Document] | None = None
        for fetch in fetches:
            document = documents.get(fetch["body_hash"])
            if document is None:
                document = documents[fetch["body_hash"]] = _renormalize(store, target, fetch)
            if isinstance(document, ExtractionError):
                store.set_fetch_result(fetch["id"], "failed", str(document))
                continue
            if previous is not None and previous[1].fingerprint == document.fingerprint:
                store.set_fetch_result(fetch["id"], "unchanged", None)
                continue
            result = "baseline" if previous is None else "changed"
            store.set_fetch_result(fetch["id"], result, None)
            version_id = store.add_version(
                target.name, fetch["id"], fetch["started_at"], document, version_id=next_id
            )
            next_id += 1
            versions += 1
            if previous is not None:
                change = compare(previous[1], document)
                store.add_change(
                    target.name, previous[0], version_id, fetch["started_at"], change.to_dict()
                )
                changes += 1
            previous = (version_id, document)
    return ReprocessResult(target.name, len(fetches), before, versions, changes)


def _renormalize(store: Store, target: Target, fetch: dict[str, Any]) -> Document | ExtractionError:
    body = store.raw_body(fetch["body_hash"])
    assert body is not None
    try:
        return normalize(
            body,
            content_type=fetch["content_type"],
            url=fetch["final_url"] or fetch["url"],
            selection=target.selection,
            default_day_first=target.day_first,
        )
    except ExtractionError as err:
        return err
