"""`policywatch status`: where each target stands, from the store and its schedule."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from monitor.config import Config
from monitor.daemon import daemon_running, next_due
from monitor.store import Store


@dataclass(frozen=True)
class TargetStatus:
    name: str
    url: str
    schedule: str
    next_run: str  # ISO time, or "now" when due
    last_check: str | None
    last_result: str | None
    last_error: str | None
    last_change: str | None
    last_change_at: str | None
    stated_date: str | None
    health: str  # "ok", "never checked", or "failing (N in a row)"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def target_statuses(config: Config, now: datetime | None = None) -> list[TargetStatus]:
    now = now or datetime.now(UTC)
    due = next_due(config, now)
    with Store(config.store_path) as store:
        overview = store.overview()
    statuses = []
    for target in config.targets:
        row = overview.get(target.name, {})
        failures = row.get("consecutive_failures") or 0
        at = due[target.name]
        statuses.append(
            TargetStatus(
                name=target.name,
                url=target.url,
                schedule=target.schedule,
                next_run="now" if at is None or at <= now else at.isoformat(timespec="seconds"),
                last_check=row.get("last_checked"),
                last_result=row.get("last_result"),
                last_error=row.get("last_error"),
                last_change=row.get("last_change"),
                last_change_at=row.get("last_change_at"),
                stated_date=row.get("stated_date"),
                health=(
                    "never checked"
                    if not row
                    else f"failing ({failures} in a row)"
                    if failures
                    else "ok"
                ),
            )
        )
    return statuses


def daemon_state(config: Config) -> str:
    return "running" if daemon_running(config) else "not running"
