"""The embedded SQLite store (sqlite-utils): fetches, versions, changes, and the alert outbox.

One writer owns the store: the crawl, the daemon, or a cluster's coordinator. WAL mode and a
busy timeout let readers (`status`, `history`, Datasette) work beside it. The schema is created
and upgraded on open by the migrations at the end of this module, each recorded once in the
`migrations` table.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.document import Document

BUSY_TIMEOUT_SECONDS = 30


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

    def add_change(self, target: str, from_version: int, to_version: int, detected_at: str,
                   change: dict[str, Any]) -> int:  # fmt: skip
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

    def enqueue_alert(self, *, kind: str, target: str | None, change_id: int | None,
                      title: str, body: str, body_format: str,
                      destinations: list[str]) -> int:  # fmt: skip
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

    def pending_deliveries(self) -> list[PendingDelivery]:
        rows = self.db.query(
            """
            select d.alert_id, d.destination, d.attempts, a.title, a.body, a.body_format
            from deliveries d join alerts a on a.id = d.alert_id
            where d.status != 'sent'
            order by d.alert_id, d.destination
            """
        )
        return [PendingDelivery(**row) for row in rows]

    def record_delivery(self, alert_id: int, destination: str, error: str | None) -> None:
        self.db.execute(
            """
            update deliveries set status = ?, attempts = attempts + 1,
                last_attempt_at = ?, error = ?
            where alert_id = ? and destination = ?
            """,
            ["sent" if error is None else "failed", utcnow(), error, alert_id, destination],
        )
        self.db.commit()

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.db["alerts"].rows_where(order_by="id"))


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


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial_schema", _create_initial_schema),
]


def _migrate(db: sqlite_utils.Database) -> None:
    with db.atomic():
        db.execute("create table if not exists migrations (name text primary key, applied_at text)")
        applied = {row["name"] for row in db["migrations"].rows}
        for name, migration in MIGRATIONS:
            if name not in applied:
                migration(db)
                db["migrations"].insert({"name": name, "applied_at": utcnow()})
