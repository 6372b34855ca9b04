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

import sqlite_utils

from monitor.document import Document

BUSY_TIMEOUT_SECONDS = 30
CLAIM_EXPIRY = timedelta(hours=6)


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


@dataclass(frozen=True)
class StoredVersion:
    id: int
    target: str
    created_at: str
    fingerprint: str
    document: Document


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
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_SECONDS)
        self.db = sqlite_utils.Database(connection)
        self.db.enable_wal()
        _migrate(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything written inside lands together or not at all."""
        with self.db.atomic():
            yield

    # -- fetches ---------------------------------------------------------------------------

    def record_fetch(self, fetch: FetchRecord, result: str) -> int:
        row = {**fetch.__dict__, "result": result}
        fetch_id = self.db["fetches"].insert(row).last_pk
        target = self.db["targets"]
        failed = result == "failed"
        previous = self._target_row(fetch.target)
        failures = (previous or {}).get("consecutive_failures") or 0
        target.upsert(
            {
                "name": fetch.target,
                "url": fetch.url,
                "last_checked": fetch.started_at,
                "last_result": result,
                "last_error": fetch.error,
                "consecutive_failures": failures + 1 if failed else 0,
            },
            pk="name",
        )
        return int(fetch_id)

    def _target_row(self, name: str) -> dict[str, Any] | None:
        rows = list(self.db["targets"].rows_where("name = ?", [name]))
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
        rows = list(
            self.db["versions"].rows_where("target = ?", [target], order_by="id desc", limit=1)
        )
        return _version(rows[0]) if rows else None

    def versions(self, target: str) -> list[StoredVersion]:
        rows = self.db["versions"].rows_where("target = ?", [target], order_by="id")
        return [_version(row) for row in rows]

    def add_version(self, target: str, fetch_id: int, created_at: str, document: Document) -> int:
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
            "text": document.text,
            "document": json.dumps(document.to_dict(), ensure_ascii=False),
        }
        return int(self.db["versions"].insert(row).last_pk)

    def add_change(
        self,
        target: str,
        from_version: int,
        to_version: int,
        detected_at: str,
        change: dict[str, Any],
    ) -> int:
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
            "detail": json.dumps(change, ensure_ascii=False),
        }
        return int(self.db["changes"].insert(row).last_pk)

    def changes(self, target: str | None = None) -> list[dict[str, Any]]:
        where, args = ("target = ?", [target]) if target else (None, [])
        return list(self.db["changes"].rows_where(where, args, order_by="id"))

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
        alert_id = int(
            self.db["alerts"]
            .insert(
                {
                    "kind": kind,
                    "target": target,
                    "change_id": change_id,
                    "created_at": utcnow(),
                    "title": title,
                    "body": body,
                    "body_format": body_format,
                    "payload": None if payload is None else json.dumps(payload, ensure_ascii=False),
                }
            )
            .last_pk
        )
        self.db["deliveries"].insert_all(
            {
                "alert_id": alert_id,
                "destination": destination_key(url),
                "status": "pending",
                "attempts": 0,
                "last_attempt_at": None,
                "error": None,
            }
            for url in destinations
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
        rows = list(
            self.db["incidents"].rows_where("target = ? and ended_at is null", [target], limit=1)
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


def _version(row: dict[str, Any]) -> StoredVersion:
    return StoredVersion(
        id=row["id"],
        target=row["target"],
        created_at=row["created_at"],
        fingerprint=row["fingerprint"],
        document=Document.from_dict(json.loads(row["document"])),
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


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial_schema", _create_initial_schema),
    ("0002_crawl_claims", _create_claims),
    ("0003_delivery_retries_and_incidents", _add_delivery_retries_and_incidents),
]


def _migrate(db: sqlite_utils.Database) -> None:
    with db.atomic():
        db.execute("create table if not exists migrations (name text primary key, applied_at text)")
        applied = {row["name"] for row in db["migrations"].rows}
        for name, migration in MIGRATIONS:
            if name not in applied:
                migration(db)
                db["migrations"].insert({"name": name, "applied_at": utcnow()})
