"""The embedded SQLite store (sqlite-utils): fetches, versions, changes, and the alert outbox.

One writer owns the store: the crawl, the daemon, or a cluster's coordinator. WAL mode and a
busy timeout let readers (`status`, `history`, Datasette) work beside it. The schema is created
and upgraded on open by the migrations at the end of this module, each recorded once in the
`migrations` table.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from monitor.document import Document
from monitor.packing import DEFAULT_CODEC, pack, unpack

BUSY_TIMEOUT_SECONDS = 30
CLAIM_EXPIRY = timedelta(hours=6)
# A version or raw body is packed as a delta against its target's last keyframe, unless the
# delta is larger than this share of the keyframe: then it becomes the next keyframe.
KEYFRAME_RATIO = 0.5


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def destination_key(url: str) -> str:
    """A stable id for a notification URL that does not reveal its secrets."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class FetchRecord:
    """One fetch attempt, as the store keeps it."""

    target: str
    url: str
    started_at: str
    final_url: str | None = None
    status: int | None = None
    error: str | None = None
    duration_ms: int | None = None
    body_hash: str | None = None
    content_type: str | None = None
    fingerprint: str | None = None  # of the extracted text, kept for suspect fetches


@dataclass(frozen=True)
class StoredVersion:
    id: int
    target: str
    created_at: str
    fingerprint: str
    document: Document


@dataclass(frozen=True)
class Packed:
    """A document or body packed ahead of its write (`Store.prepare`): a delta against the
    keyframe `base` (a version id, a body hash), or whole when `base` is None."""

    base: Any
    blob: bytes


@dataclass(frozen=True)
class Prepared:
    """The costly part of storing a fetched page, done ahead by a reader of the store (a
    crawl's pool worker) so that the one writer only writes: the body packed (None: the store
    holds it already), and, for a text that is not the target's newest, its version packed
    and its passages hashed."""

    body_hash: str
    body: Packed | None
    document: Packed | None = None
    passages: dict[str, str] | None = None


@dataclass(frozen=True)
class RecentText:
    """One of a target's recent distinct texts: `version` first held it (the original, not a
    return to it), `created_at` when; `latest` is its newest version row."""

    fingerprint: str
    version: int
    created_at: str
    latest: int


@dataclass(frozen=True)
class Validators:
    """What the last trusted fetch of a target said about its page, for a conditional GET.

    `key` identifies the URL and extraction settings they were saved under: a target whose
    settings changed is fetched in full again."""

    etag: str | None
    last_modified: str | None
    key: str


@dataclass(frozen=True)
class PendingDelivery:
    alert_id: int
    destination: str
    title: str
    body: str
    body_format: str
    attempts: int
    kind: str = "change"
    payload: str | None = None  # JSON: what the alert is about, rendered per channel at send


class Store:
    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        """Open the store, creating or upgrading it; `read_only`: open an existing store to
        read beside its writer (a crawl's pool workers), without migrating it."""
        self.path = Path(path)
        if read_only:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS)
            self.db = sqlite_utils.Database(connection)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_SECONDS)
        self.db = sqlite_utils.Database(connection)
        self.db.enable_wal()
        # Under WAL, `normal` syncs at checkpoints only: a commit survives a crash of the
        # process (not a power cut), and a crawl's many small transactions cost no fsync each.
        self.db.execute("pragma synchronous = normal")
        _migrate(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything written inside lands together or not at all (inside a batch, as a
        savepoint of the batch's transaction)."""
        with self.db.atomic():
            yield

    def begin_batch(self) -> None:
        """Hold commits: until `commit_batch`, each `transaction` is a savepoint of one open
        transaction. A crawl writes a few rows per page, and one commit per page costs more
        than the rows; it commits a batch every fraction of a second instead. A crash loses
        the open batch whole (those pages are fetched again next time), never part of a
        page's writes."""
        if not self.db.conn.in_transaction:
            self.db.conn.execute("BEGIN")

    def commit_batch(self) -> None:
        if self.db.conn.in_transaction:
            self.db.conn.execute("COMMIT")

    # -- fetches ---------------------------------------------------------------------------

    def record_fetch(self, fetch: FetchRecord, result: str) -> int:
        fetch_id = _insert(self.db, "fetches", {**fetch.__dict__, "result": result})
        failed = result in ("failed", "suspect")
        self.db.execute(
            """
            insert into targets (name, url, last_checked, last_result, last_error,
                consecutive_failures)
            values (?, ?, ?, ?, ?, ?)
            on conflict (name) do update set url = excluded.url,
                last_checked = excluded.last_checked, last_result = excluded.last_result,
                last_error = excluded.last_error,
                consecutive_failures = case when ? then coalesce(consecutive_failures, 0) + 1
                    else 0 end
            """,
            [fetch.target, fetch.url, fetch.started_at, result, fetch.error, int(failed), failed],
        )
        return fetch_id

    def suspect_streak(self, target: str, fingerprint: str) -> int:
        """How many of the target's latest fetches in a row were suspect with this text
        (fetches that failed outright say nothing about the text and are skipped)."""
        rows = self.db.execute(
            "select result, fingerprint from fetches where target = ? and result != 'failed'"
            " order by id desc",
            [target],
        )
        streak = 0
        for result, seen in rows:
            if result != "suspect" or seen != fingerprint:
                break
            streak += 1
        return streak

    def _target_row(self, name: str) -> dict[str, Any] | None:
        rows = _rows(self.db, "select * from targets where name = ?", [name])
        return rows[0] if rows else None

    def last_checks(self) -> dict[str, str]:
        """Each known target's last check time (ISO), by name."""
        return {row["name"]: row["last_checked"] for row in self.db["targets"].rows}

    def overview(self) -> dict[str, dict[str, Any]]:
        """Per target: last check and result, failures in a row, last change, stated date."""
        rows = self.db.query(
            """
            select t.name, t.last_checked, t.last_result, t.last_error, t.consecutive_failures,
                (select c.detected_at from changes c where c.target = t.name
                 order by c.id desc limit 1) as last_change_at,
                (select c.summary from changes c where c.target = t.name
                 order by c.id desc limit 1) as last_change,
                (select v.last_updated from versions v where v.target = t.name
                 order by v.id desc limit 1) as stated_date
            from targets t
            """
        )
        return {row["name"]: row for row in rows}

    # -- claims: one crawl per target at a time ------------------------------------------

    def claim_targets(self, names: list[str], holder: str) -> list[str]:
        """Claim the targets no other live crawl holds; return the ones now held by `holder`.

        A claim whose holder process is gone (same host, dead pid) or is older than
        `CLAIM_EXPIRY` is taken over, so a killed crawl never blocks a target for long.
        """
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")  # take the write lock first: no race between claimers
        try:
            held = {
                row[0]: (row[1], row[2])
                for row in conn.execute("select target, holder, claimed_at from claims")
            }
            now = datetime.now(UTC)
            claimed = []
            for name in names:
                if name in held and held[name][0] != holder and _claim_alive(*held[name], now):
                    continue
                conn.execute(
                    "insert or replace into claims (target, holder, claimed_at) values (?, ?, ?)",
                    [name, holder, now.isoformat(timespec="seconds")],
                )
                claimed.append(name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return claimed

    def release_targets(self, holder: str) -> None:
        with self.db.atomic():
            self.db.execute("delete from claims where holder = ?", [holder])

    # -- versions and changes --------------------------------------------------------------

    def latest_version(self, target: str) -> StoredVersion | None:
        rows = _rows(
            self.db,
            f"select {_VERSION_COLUMNS} from versions where target = ? order by id desc limit 1",
            [target],
        )
        return self._version(rows[0]) if rows else None

    def latest_fingerprint(self, target: str) -> str | None:
        """The fingerprint of the target's newest version, without reading its document."""
        row = self.db.execute(
            "select fingerprint from versions where target = ? order by id desc limit 1", [target]
        ).fetchone()
        return row[0] if row else None

    def recent_texts(self, target: str, limit: int) -> list[RecentText]:
        """The target's last `limit` distinct texts, newest first: each with the version that
        first held it (in its latest run of returns) and when that version was fetched."""
        rows = self.db.execute(
            """
            select v.fingerprint, coalesce(v.same_as, v.id), o.created_at, v.id
            from versions v join versions o on o.id = coalesce(v.same_as, v.id)
            where v.id in (select max(id) from versions where target = ? group by fingerprint)
            order by v.id desc limit ?
            """,
            [target, limit],
        )
        return [RecentText(row[0], row[1], row[2], row[3]) for row in rows]

    def returns_since_new_text(self, target: str) -> list[int]:
        """The versions `same_as` of the target's returns since its newest new text, oldest
        first: the page's swings between texts it had already shown."""
        rows = self.db.execute(
            """
            select same_as from versions where target = ? and same_as is not null and id > (
                select coalesce(max(id), 0) from versions where target = ? and same_as is null)
            order by id
            """,
            [target, target],
        )
        return [row[0] for row in rows]

    def versions(self, target: str) -> list[StoredVersion]:
        rows = self.db["versions"].rows_where("target = ?", [target], order_by="id")
        return [self._version(row) for row in rows]

    def version(self, version_id: int) -> StoredVersion | None:
        rows = _rows(self.db, f"select {_VERSION_COLUMNS} from versions where id = ?", [version_id])
        return self._version(rows[0]) if rows else None

    def prepare(
        self, target: str, body: bytes, document: Document | None, body_hash: str | None = None
    ) -> Prepared:
        """What `keep_raw_body` and `add_version` would compute for this body and (when
        given) document, against the keyframes in the store now: a worker calls it, and the
        writer passes the result on. `body_hash`: the body's sha256, when already known."""
        body_hash = body_hash or hashlib.sha256(body).hexdigest()
        packed_body = None
        if not self._has_raw_body(body_hash):
            packed_body = Packed(
                *_pack_against_keyframe(self.db, "raw_bodies", "hash", target, body)
            )
        if document is None:
            return Prepared(body_hash, packed_body)
        data = document.json_bytes
        packed = Packed(*_pack_against_keyframe(self.db, "versions", "id", target, data))
        return Prepared(body_hash, packed_body, packed, _passages(document))

    def add_version(
        self,
        target: str,
        fetch_id: int,
        created_at: str,
        document: Document,
        version_id: int | None = None,
        same_as: int | None = None,
        prepared: Prepared | None = None,
    ) -> int:
        """Store a new version. Its document is packed as a delta against the target's last
        keyframe; only the newest version of a target keeps its text in plain (for readers
        such as Datasette), and its new passages go to the search index.

        `version_id`: an explicit id (reprocessing gives rebuilt versions new ids, never the
        ids of the versions it removed). `same_as`: the version whose text this one repeats
        (the page returned to it; see `recent_texts`). `prepared`: the packing done ahead
        (`prepare`), used while its keyframe is still there."""
        ahead = prepared.document if prepared else None
        if ahead is not None and self._has_keyframe("versions", "id", ahead.base):
            base_id, packed = ahead.base, ahead.blob
        else:
            data = document.json_bytes
            base_id, packed = _pack_against_keyframe(self.db, "versions", "id", target, data)
        text = document.text
        row = {
            "target": target,
            "fetch_id": fetch_id,
            "created_at": created_at,
            "fingerprint": document.fingerprint,
            "title": document.title,
            "language": document.language,
            "last_updated": document.last_updated.value if document.last_updated else None,
            "effective": document.effective.value if document.effective else None,
            "word_count": document.word_count,
            "text": text,
            "document": None,
            "packed": packed,
            "codec": DEFAULT_CODEC,
            "base_version": base_id,
            "same_as": same_as,
        }
        if version_id is not None:
            row["id"] = version_id
        version_id = _insert(self.db, "versions", row)
        self.db.execute(
            "update versions set text = null where target = ? and id < ? and text is not null",
            [target, version_id],
        )
        passages = prepared.passages if prepared and prepared.passages is not None else None
        _index_passages(self.db, target, version_id, passages or _passages(document))
        return version_id

    def _has_keyframe(self, table: str, key: str, base: Any) -> bool:
        """Whether a blob packed against `base` can be stored: packed whole, or its keyframe
        is still there."""
        if base is None:
            return True
        return (
            self.db.execute(f"select 1 from {table} where {key} = ?", [base]).fetchone() is not None
        )

    def _version(self, row: dict[str, Any]) -> StoredVersion:
        if row.get("packed") is None:  # written before packing, and not migrated
            data = row["document"].encode("utf-8")
        else:
            data = _unpacked(self.db, "versions", "id", row)
        document = Document.from_json(data)
        # The stored fingerprint is the document's (`record` compares texts by it): set as
        # the cached value, it is not computed again from the whole text. So is its word count
        # (`suspicion` asks the previous version's: a split of its whole text).
        vars(document)["fingerprint"] = row["fingerprint"]
        if row.get("word_count") is not None:
            vars(document)["word_count"] = row["word_count"]
        return StoredVersion(
            id=row["id"],
            target=row["target"],
            created_at=row["created_at"],
            fingerprint=row["fingerprint"],
            document=document,
        )

    # -- raw bodies: every distinct page body fetched, for `policywatch reprocess` ---------

    def keep_raw_body(
        self, target: str, body: bytes, body_hash: str, at: str, prepared: Prepared | None = None
    ) -> None:
        """Keep a fetched body (once per distinct body, by its sha256 `body_hash`), packed like
        versions. `prepared`: the packing done ahead (`prepare`) for this body."""
        if self._has_raw_body(body_hash):
            return
        ahead = prepared.body if prepared else None
        if ahead is not None and self._has_keyframe("raw_bodies", "hash", ahead.base):
            base_hash, packed = ahead.base, ahead.blob
        else:
            base_hash, packed = _pack_against_keyframe(self.db, "raw_bodies", "hash", target, body)
        _insert(
            self.db,
            "raw_bodies",
            {
                "hash": body_hash,
                "target": target,
                "first_seen": at,
                "size": len(body),
                "packed": packed,
                "codec": DEFAULT_CODEC,
                "base_hash": base_hash,
            },
        )

    def _has_raw_body(self, body_hash: str) -> bool:
        return (
            self.db.execute("select 1 from raw_bodies where hash = ?", [body_hash]).fetchone()
            is not None
        )

    def raw_body(self, body_hash: str) -> bytes | None:
        rows = list(self.db["raw_bodies"].rows_where("hash = ?", [body_hash]))
        return _unpacked(self.db, "raw_bodies", "hash", rows[0]) if rows else None

    # -- robots.txt files, kept a day (crawler.middlewares.CachedRobotsTxtMiddleware) ------

    def robots_files(self, fetched_since: str) -> dict[str, bytes]:
        """The robots.txt body of each site (by host[:port]) fetched since that time."""
        rows = self.db.execute(
            "select netloc, body from robots_files where fetched_at >= ?", [fetched_since]
        )
        return dict(rows.fetchall())

    def save_robots_files(self, files: dict[str, bytes], fetched_at: str) -> None:
        with self.db.atomic():
            self.db["robots_files"].upsert_all(
                [{"netloc": n, "body": b, "fetched_at": fetched_at} for n, b in files.items()],
                pk="netloc",
            )

    # -- identical bodies: a page whose bytes did not change is not normalized again -------

    def trusted_body(self, target: str) -> str | None:
        """The body key (see `watch.body_key`) of the target's last trusted fetch, while the
        version it gave is still the target's newest."""
        return self._trusted("trusted_body", target)

    def trusted_region(self, target: str) -> str | None:
        """The region key (see `watch.page_region`) of the target's last trusted fetch, while
        the version it gave is still the target's newest."""
        return self._trusted("trusted_region", target)

    def _trusted(self, column: str, target: str) -> str | None:
        row = self.db.execute(
            f"select {column} from targets where name = ? and trusted_version ="
            " (select max(id) from versions where target = ?)",
            [target, target],
        ).fetchone()
        return row[0] if row else None

    def trusted_targets(self) -> set[str]:
        """The targets with a trusted fetch on record: a page of any other is read in full."""
        rows = self.db.execute("select name from targets where trusted_version is not null")
        return {row[0] for row in rows}

    def save_trusted_body(
        self, target: str, key: str | None, version_id: int | None, region: str | None = None
    ) -> None:
        self.db.execute(
            "update targets set trusted_body = ?, trusted_version = ?, trusted_region = ?"
            " where name = ?",
            [key, version_id, region, target],
        )

    def latest_version_id(self, target: str) -> int | None:
        return self.db.execute(
            "select max(id) from versions where target = ?", [target]
        ).fetchone()[0]

    # -- conditional GET ------------------------------------------------------------------

    def validators(self) -> dict[str, Validators]:
        """Per target: the ETag and Last-Modified of its last trusted fetch, if any."""
        rows = self.db.execute(
            "select name, etag, last_modified, validator_key from targets"
            " where validator_key is not null and (etag is not null or last_modified is not null)"
        )
        return {row[0]: Validators(row[1], row[2], row[3]) for row in rows}

    def save_validators(self, target: str, validators: Validators | None) -> None:
        """Remember (or, with None, forget) the validators of a target's page."""
        self.db.execute(
            "update targets set etag = ?, last_modified = ?, validator_key = ? where name = ?",
            [
                validators.etag if validators else None,
                validators.last_modified if validators else None,
                validators.key if validators else None,
                target,
            ],
        )

    def add_change(
        self,
        target: str,
        from_version: int,
        to_version: int,
        detected_at: str,
        change: dict[str, Any],
        detail: str | None = None,
    ) -> int:
        """Store a change (its `Change.to_dict`); `detail`: its `change_detail`, when worked
        out ahead (a crawl's pool worker)."""
        date_changed = change.get("date_changed") or {}
        row = {
            "target": target,
            "detected_at": detected_at,
            "from_version": from_version,
            "to_version": to_version,
            "material": change["material"],
            "date_from": date_changed.get("from"),
            "date_to": date_changed.get("to"),
            "silent_change": change["silent_change"],
            "date_only": change["date_only"],
            "categories": json.dumps(change["categories"]),
            "summary": change["summary"],
            "detail": change_detail(change) if detail is None else detail,
        }
        return _insert(self.db, "changes", row)

    def change(self, change_id: int) -> dict[str, Any] | None:
        rows = list(self.db["changes"].rows_where("id = ?", [change_id]))
        return rows[0] if rows else None

    def changes(self, target: str | None = None) -> list[dict[str, Any]]:
        where, args = ("target = ?", [target]) if target else (None, [])
        return list(self.db["changes"].rows_where(where, args, order_by="id"))

    # -- history: what `history`, `diff`, `show`, `search`, `export`, `reprocess` read ------

    def version_log(self, target: str | None = None) -> list[dict[str, Any]]:
        """Versions (of one target, or all) in order, each with the change that produced it:
        `material`, `categories` (JSON), `summary`, `date_only`, `silent_change` (None for a
        baseline)."""
        where, args = ("where v.target = ?", [target]) if target else ("", [])
        return list(
            self.db.query(
                f"""
                select v.id, v.target, v.created_at, v.title, v.language, v.last_updated,
                    v.effective, v.word_count, v.fingerprint, c.id as change_id, c.material,
                    c.categories, c.summary, c.date_only, c.silent_change, v.same_as,
                    (select o.created_at from versions o where o.id = v.same_as) as same_as_at
                from versions v left join changes c on c.to_version = v.id
                {where}
                order by v.created_at, v.id
                """,
                args,
            )
        )

    def index_passages(self) -> None:
        """Bring the full-text index up to date with the passages stored since it was last.

        A crawl stores passages but does not index them: tokenizing a new policy's two
        hundred paragraphs costs more than the rest of its writes, and searches are rare
        beside crawls. The index catches up when it is searched, and before passages are
        removed (an external-content FTS5 index must be told exactly what it holds)."""
        indexed = self.db.execute("select indexed_upto from passage_search_progress").fetchone()
        newest = self.db.execute("select coalesce(max(id), 0) from passages").fetchone()[0]
        if newest <= indexed[0]:
            return
        with self.db.atomic():
            self.db.execute(
                "insert into passage_search (rowid, text)"
                " select id, text from passages where id > ?",
                [indexed[0]],
            )
            self.db.execute("update passage_search_progress set indexed_upto = ?", [newest])

    def search_passages(self, match: str, limit: int) -> list[dict[str, Any]]:
        """Passages matching an FTS5 query, best first: target, `first_version`,
        `last_version` (None: in the newest version still), the newest version holding it, and
        a `snippet` with the matches in [brackets]. sqlite3.OperationalError for a query FTS5
        cannot parse."""
        self.index_passages()
        return list(
            self.db.query(
                """
                select p.target, p.first_version, p.last_version,
                    coalesce(p.last_version,
                        (select max(id) from versions v where v.target = p.target)) as version,
                    snippet(passage_search, 0, '[', ']', '…', 24) as snippet
                from passage_search join passages p on p.id = passage_search.rowid
                where passage_search match ?
                order by rank limit ?
                """,
                [match, limit],
            )
        )

    def reprocessable_fetches(self, target: str) -> list[dict[str, Any]]:
        """The target's fetches whose body is kept (2xx answers), oldest first."""
        return list(
            self.db.query(
                """
                select f.* from fetches f join raw_bodies b on b.hash = f.body_hash
                where f.target = ? and f.status between 200 and 299
                    and coalesce(f.result, '') != 'transient'
                order by f.started_at, f.id
                """,
                [target],
            )
        )

    def versions_without_raw_body(self, target: str) -> int:
        """How many of the target's versions came from a fetch whose body was not kept."""
        row = self.db.execute(
            """
            select count(*) from versions v left join fetches f on f.id = v.fetch_id
            where v.target = ? and (f.body_hash is null
                or f.body_hash not in (select hash from raw_bodies))
            """,
            [target],
        ).fetchone()
        return int(row[0])

    def next_version_id(self) -> int:
        return int(self.db.execute("select coalesce(max(id), 0) + 1 from versions").fetchone()[0])

    def clear_history(self, target: str) -> None:
        """Remove a target's versions and changes (before rebuilding them); its alerts stay,
        with their own copy of what they said, unlinked from the removed changes."""
        self.db.execute(
            "update alerts set change_id = null"
            " where change_id in (select id from changes where target = ?)",
            [target],
        )
        self.db.execute("delete from changes where target = ?", [target])
        self.index_passages()
        self.db.execute(
            "insert into passage_search (passage_search, rowid, text)"
            " select 'delete', id, text from passages where target = ?",
            [target],
        )
        self.db.execute("delete from passages where target = ?", [target])
        # Passages stored from now on may take ids of those removed: they must count as not
        # indexed yet.
        self.db.execute(
            "update passage_search_progress set indexed_upto ="
            " min(indexed_upto, (select coalesce(max(id), 0) from passages))"
        )
        self.db.execute("delete from versions where target = ?", [target])

    def set_fetch_result(self, fetch_id: int, result: str, error: str | None) -> None:
        self.db.execute(
            "update fetches set result = ?, error = ? where id = ?", [result, error, fetch_id]
        )

    # -- outbox ----------------------------------------------------------------------------

    def enqueue_alert(
        self,
        *,
        kind: str,
        target: str | None,
        change_id: int | None,
        title: str,
        body: str,
        body_format: str,
        destinations: list[str],
        payload: dict[str, Any] | None = None,
    ) -> int:
        """Write an alert and one pending delivery per destination URL (by key, not by URL)."""
        alert_id = _insert(
            self.db,
            "alerts",
            {
                "kind": kind,
                "target": target,
                "change_id": change_id,
                "created_at": utcnow(),
                "title": title,
                "body": body,
                "body_format": body_format,
                "payload": None if payload is None else _json_text(payload),
            },
        )
        for url in destinations:
            _insert(
                self.db,
                "deliveries",
                {
                    "alert_id": alert_id,
                    "destination": destination_key(url),
                    "status": "pending",
                    "attempts": 0,
                    "last_attempt_at": None,
                    "error": None,
                },
            )
        return alert_id

    def due_deliveries(self, now: str, stale_before: str, *,
                       ignore_backoff: bool = False) -> list[PendingDelivery]:  # fmt: skip
        """Deliveries to attempt now: pending ones, failed ones whose backoff has passed (or
        all failed ones with `ignore_backoff`), and ones left "sending" before `stale_before`
        by a process that died mid-send."""
        rows = self.db.query(
            """
            select d.alert_id, d.destination, d.attempts, a.title, a.body, a.body_format,
                a.kind, a.payload
            from deliveries d join alerts a on a.id = d.alert_id
            where d.status = 'pending'
                or (d.status = 'failed' and (:ignore or coalesce(d.next_attempt_at, '') <= :now))
                or (d.status = 'sending' and d.last_attempt_at < :stale)
            order by d.alert_id, d.destination
            """,
            {"now": now, "stale": stale_before, "ignore": ignore_backoff},
        )
        return [PendingDelivery(**row) for row in rows]

    def claim_delivery(self, alert_id: int, destination: str, now: str, stale_before: str) -> bool:
        """Mark a delivery "sending" before its send, so that a crash between the send and
        `record_delivery` stays visible; False when another process claimed it first."""
        with self.db.atomic():
            cursor = self.db.execute(
                """
                update deliveries set status = 'sending', last_attempt_at = ?
                where alert_id = ? and destination = ?
                    and (status in ('pending', 'failed')
                         or (status = 'sending' and last_attempt_at < ?))
                """,
                [now, alert_id, destination, stale_before],
            )
        return cursor.rowcount == 1

    def record_delivery(self, alert_id: int, destination: str, error: str | None,
                        retry_at: str | None = None) -> None:  # fmt: skip
        """The result of a send: "sent", or "failed" with the time of the next attempt."""
        with self.db.atomic():
            self.db.execute(
                """
                update deliveries set status = ?, attempts = attempts + 1,
                    last_attempt_at = ?, error = ?, next_attempt_at = ?
                where alert_id = ? and destination = ?
                """,
                [
                    "sent" if error is None else "failed",
                    utcnow(),
                    error,
                    retry_at,
                    alert_id,
                    destination,
                ],
            )

    def unsent_deliveries(self, alert_ids: list[int]) -> list[tuple[int, str]]:
        """(alert, destination) of these alerts that were never attempted."""
        marks = ", ".join("?" * len(alert_ids))
        rows = self.db.execute(
            f"select alert_id, destination from deliveries where alert_id in ({marks})"
            " and status = 'pending' and attempts = 0 order by alert_id, destination",
            alert_ids,
        )
        return [(row[0], row[1]) for row in rows]

    def supersede_deliveries(self, alert_ids: list[int], destinations: list[str],
                             digest_id: int) -> None:  # fmt: skip
        """Replace never-attempted deliveries by the digest alert that lists them."""
        for destination in destinations:
            marks = ", ".join("?" * len(alert_ids))
            self.db.execute(
                f"update deliveries set status = 'superseded', superseded_by = ?"
                f" where destination = ? and status = 'pending' and alert_id in ({marks})",
                [digest_id, destination, *alert_ids],
            )

    def alert_rows(self, alert_ids: list[int]) -> list[dict[str, Any]]:
        marks = ", ".join("?" * len(alert_ids))
        return list(self.db["alerts"].rows_where(f"id in ({marks})", alert_ids, order_by="id"))

    def delivery_rows(self) -> list[dict[str, Any]]:
        return list(self.db["deliveries"].rows_where(order_by="alert_id, destination"))

    # -- incidents: operational problems of a target, from first alert to recovery ---------

    def consecutive_failures(self, target: str) -> int:
        return (self._target_row(target) or {}).get("consecutive_failures") or 0

    def open_incident(self, target: str) -> dict[str, Any] | None:
        rows = _rows(
            self.db,
            "select * from incidents where target = ? and ended_at is null limit 1",
            [target],
        )
        return rows[0] if rows else None

    def start_incident(self, target: str, kind: str, error: str | None, started_at: str) -> int:
        row = {"target": target, "kind": kind, "error": error, "started_at": started_at}
        return int(self.db["incidents"].insert(row).last_pk)

    def end_incident(self, incident_id: int, ended_at: str) -> None:
        self.db["incidents"].update(incident_id, {"ended_at": ended_at})

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.db["alerts"].rows_where(order_by="id"))


def claim_holder() -> str:
    """This process, as a claim holder: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim_alive(holder: str, claimed_at: str, now: datetime) -> bool:
    if now - datetime.fromisoformat(claimed_at) > CLAIM_EXPIRY:
        return False
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pack_against_keyframe(
    db: sqlite_utils.Database, table: str, key: str, target: str, data: bytes
) -> tuple[Any, bytes]:
    """(base key or None, blob): a delta against the target's newest keyframe in `table`,
    or a new keyframe when the delta would not be small."""
    base_column = "base_version" if table == "versions" else "base_hash"
    keyframe = db.execute(
        f"select {key}, packed, codec from {table} where target = ? and {base_column} is null"
        f" and packed is not null and codec = ? order by rowid desc limit 1",
        [target, DEFAULT_CODEC],
    ).fetchone()
    if keyframe is not None:
        base = unpack(keyframe[1], codec=keyframe[2])
        delta = pack(data, base)
        if len(delta) <= KEYFRAME_RATIO * len(keyframe[1]):
            return keyframe[0], delta
    return None, pack(data)


def _unpacked(db: sqlite_utils.Database, table: str, key: str, row: dict[str, Any]) -> bytes:
    base_column = "base_version" if table == "versions" else "base_hash"
    base = None
    if row[base_column] is not None:
        keyframe = db.execute(
            f"select packed, codec from {table} where {key} = ?", [row[base_column]]
        ).fetchone()
        base = unpack(keyframe[0], codec=keyframe[1])
    return unpack(row["packed"], base, codec=row["codec"])


# What `Store._version` reads of a version row: not the plain text the newest one keeps.
_VERSION_COLUMNS = (
    "id, target, created_at, fingerprint, word_count, document, packed, codec, base_version"
)


def _rows(db: sqlite_utils.Database, sql: str, args: list[Any]) -> list[dict[str, Any]]:
    """The rows of a query, as dicts. The crawl's reads go this way: sqlite-utils'
    `rows_where` inspects the table on every call, which costs more than a small query."""
    cursor = db.execute(sql, args)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _insert(db: sqlite_utils.Database, table: str, row: dict[str, Any]) -> int:
    """Insert one row with plain SQL; its rowid. The crawl's writes go this way: sqlite-utils'
    `insert` inspects the table on every call, which costs more than the row."""
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    sql = f"insert into {table} ({columns}) values ({marks})"
    return int(db.execute(sql, list(row.values())).lastrowid)


def change_detail(change: dict[str, Any]) -> str:
    """A change (`Change.to_dict`) as `changes.detail` keeps it."""
    return _json_text(change)


def _json_text(value: Any) -> str:
    """JSON as the store writes a large text column (a change with its redline, an alert's
    payload): orjson writes it several times faster than the json module."""
    return orjson.dumps(value).decode("utf-8")


def _passages(document: Document) -> dict[str, str]:
    """The searchable units of a document, by hash: its title, each heading, each block."""
    texts = [document.title]
    for section in document.sections:
        texts.append(section.label)
        texts.extend(block.text for block in section.blocks)
    return {hashlib.sha256(t.encode("utf-8")).hexdigest()[:20]: t for t in texts if t.strip()}


def _index_passages(
    db: sqlite_utils.Database, target: str, version_id: int, passages: dict[str, str]
) -> None:
    """Record what is new in a version, once: a passage (heading or block) is a row with the
    range of versions that hold it. A passage gone from this version closes its range at the
    previous version, so a small edit adds a paragraph, not the whole policy again. The
    full-text index follows later (`Store.index_passages`)."""
    previous = db.execute(
        "select max(id) from versions where target = ? and id < ?", [target, version_id]
    ).fetchone()[0]
    current = dict(
        db.execute(
            "select hash, id from passages where target = ? and last_version is null", [target]
        ).fetchall()
    )
    # New passages are inserted in the document's order, not a set's: the same crawl gives
    # the same passage ids whatever the interpreter's hash seed.
    db.conn.executemany(
        "update passages set last_version = ? where id = ?",
        [(previous, passage_id) for hash_, passage_id in current.items() if hash_ not in passages],
    )
    db.conn.executemany(
        "insert into passages (target, hash, text, first_version) values (?, ?, ?, ?)",
        [
            (target, hash_, text, version_id)
            for hash_, text in passages.items()
            if hash_ not in current
        ],
    )


# -- schema ------------------------------------------------------------------------------------


def _create_initial_schema(db: sqlite_utils.Database) -> None:
    db["targets"].create(
        {
            "name": str,
            "url": str,
            "last_checked": str,
            "last_result": str,
            "last_error": str,
            "consecutive_failures": int,
        },
        pk="name",
    )
    db["fetches"].create(
        {
            "id": int,
            "target": str,
            "url": str,
            "started_at": str,
            "final_url": str,
            "status": int,
            "error": str,
            "duration_ms": int,
            "body_hash": str,
            "content_type": str,
            "result": str,
        },
        pk="id",
    )
    db["fetches"].create_index(["target", "started_at"])
    db["versions"].create(
        {
            "id": int,
            "target": str,
            "fetch_id": int,
            "created_at": str,
            "fingerprint": str,
            "title": str,
            "language": str,
            "last_updated": str,
            "effective": str,
            "word_count": int,
            "text": str,
            "document": str,
        },
        pk="id",
        foreign_keys=[("fetch_id", "fetches", "id")],
    )
    db["versions"].create_index(["target", "id"])
    db["changes"].create(
        {
            "id": int,
            "target": str,
            "detected_at": str,
            "from_version": int,
            "to_version": int,
            "material": bool,
            "date_from": str,
            "date_to": str,
            "silent_change": bool,
            "date_only": bool,
            "categories": str,
            "summary": str,
            "detail": str,
        },
        pk="id",
        foreign_keys=[("from_version", "versions", "id"), ("to_version", "versions", "id")],
    )
    db["alerts"].create(
        {
            "id": int,
            "kind": str,
            "target": str,
            "change_id": int,
            "created_at": str,
            "title": str,
            "body": str,
            "body_format": str,
        },
        pk="id",
        foreign_keys=[("change_id", "changes", "id")],
    )
    db["deliveries"].create(
        {
            "alert_id": int,
            "destination": str,
            "status": str,
            "attempts": int,
            "last_attempt_at": str,
            "error": str,
        },
        pk=("alert_id", "destination"),
        foreign_keys=[("alert_id", "alerts", "id")],
    )


def _create_claims(db: sqlite_utils.Database) -> None:
    db["claims"].create({"target": str, "holder": str, "claimed_at": str}, pk="target")


def _add_delivery_retries_and_incidents(db: sqlite_utils.Database) -> None:
    """Alert payloads (rendered per channel at send), retry backoff, digests, incidents."""
    db["alerts"].add_column("payload", str)
    db["deliveries"].add_column("next_attempt_at", str)
    db["deliveries"].add_column("superseded_by", int)
    db["deliveries"].create_index(["status"])
    db["incidents"].create(
        {
            "id": int,
            "target": str,
            "kind": str,
            "error": str,
            "started_at": str,
            "ended_at": str,
        },
        pk="id",
    )
    db["incidents"].create_index(["target", "ended_at"])


def _issue7_compact_history(db: sqlite_utils.Database) -> None:
    """Raw bodies kept (packed, deduplicated); versions packed as deltas, the plain text kept
    on each target's newest version only; full-text search; conditional-GET validators;
    views for Datasette."""
    db["raw_bodies"].create(
        {
            "hash": str,
            "target": str,
            "first_seen": str,
            "size": int,
            "packed": bytes,
            "codec": str,
            "base_hash": str,
        },
        pk="hash",
    )
    db["raw_bodies"].create_index(["target", "base_hash"])
    db["versions"].add_column("packed", bytes)
    db["versions"].add_column("codec", str)
    db["versions"].add_column("base_version", int)
    for name in ("etag", "last_modified", "validator_key"):
        db["targets"].add_column(name, str)
    db["passages"].create(
        {
            "id": int,
            "target": str,
            "hash": str,
            "text": str,
            "first_version": int,
            "last_version": int,
        },
        pk="id",
    )
    db["passages"].create_index(["target", "last_version"])
    db.execute(
        "create virtual table passage_search using fts5(text, content='passages',"
        " content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    for row in list(db["versions"].rows_where(order_by="id")):
        data = row["document"].encode("utf-8")
        base_id, packed = _pack_against_keyframe(db, "versions", "id", row["target"], data)
        db.execute(
            "update versions set packed = ?, codec = ?, base_version = ?, document = null"
            " where id = ?",
            [packed, DEFAULT_CODEC, base_id, row["id"]],
        )
        document = Document.from_json(data)
        _index_passages(db, row["target"], row["id"], _passages(document))
    db.execute(
        "update versions set text = null"
        " where id not in (select max(id) from versions group by target)"
    )
    db.execute(
        """
        create view latest_versions as
        select v.target, v.id as version_id, v.created_at as fetched_at, v.title, v.language,
            v.last_updated, v.effective, v.word_count, v.fingerprint, v.text
        from versions v
        where v.id = (select max(id) from versions where target = v.target)
        """
    )
    db.execute(
        """
        create view change_log as
        select c.id as change_id, c.target, c.detected_at,
            case when c.material then 'material' else 'minor' end as materiality,
            c.date_from as stated_date_before, c.date_to as stated_date_after,
            c.silent_change, c.date_only, c.categories, c.summary,
            c.from_version, c.to_version
        from changes c
        """
    )


def _issue12_returns(db: sqlite_utils.Database) -> None:
    """A version that repeats an earlier text (the page returned to it) names that version."""
    db["versions"].add_column("same_as", int)


def _issue9_suspect_fetches(db: sqlite_utils.Database) -> None:
    """The text fingerprint of a suspect fetch, to tell when the same text comes back."""
    db["fetches"].add_column("fingerprint", str)
    db["fetches"].create_index(["target", "result"])


def _issue8_trusted_body(db: sqlite_utils.Database) -> None:
    """The body of each target's last trusted fetch, and the version it gave."""
    db["targets"].add_column("trusted_body", str)
    db["targets"].add_column("trusted_version", int)


def _issue8_search_on_demand(db: sqlite_utils.Database) -> None:
    """The full-text index is brought up to date when searched (`Store.index_passages`):
    how far it is, rebuilt once from the passages so that the mark is exact."""
    db["passage_search_progress"].create({"indexed_upto": int})
    db.execute("insert into passage_search (passage_search) values ('rebuild')")
    db.execute(
        "insert into passage_search_progress (indexed_upto)"
        " select coalesce(max(id), 0) from passages"
    )


def _issue8_robots_files(db: sqlite_utils.Database) -> None:
    """robots.txt files, by site, with when they were fetched."""
    db["robots_files"].create({"netloc": str, "body": bytes, "fetched_at": str}, pk="netloc")


def _issue8_trusted_region(db: sqlite_utils.Database) -> None:
    """The selected region's key of each target's last trusted fetch (`watch.page_region`)."""
    db["targets"].add_column("trusted_region", str)


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial_schema", _create_initial_schema),
    ("0002_crawl_claims", _create_claims),
    ("0003_delivery_retries_and_incidents", _add_delivery_retries_and_incidents),
    ("0004_issue7_compact_history", _issue7_compact_history),
    ("0005_issue9_suspect_fetches", _issue9_suspect_fetches),
    ("0006_issue12_returns", _issue12_returns),
    ("0007_issue8_trusted_body", _issue8_trusted_body),
    ("0008_issue8_search_on_demand", _issue8_search_on_demand),
    ("0009_issue8_robots_files", _issue8_robots_files),
    ("0010_issue8_trusted_region", _issue8_trusted_region),
]


def _migrate(db: sqlite_utils.Database) -> None:
    with db.atomic():
        db.execute("create table if not exists migrations (name text primary key, applied_at text)")
        applied = {row["name"] for row in db["migrations"].rows}
        for name, migration in MIGRATIONS:
            if name not in applied:
                migration(db)
                db["migrations"].insert({"name": name, "applied_at": utcnow()})
