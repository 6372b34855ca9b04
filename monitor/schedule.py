"""When targets run: schedules ("30s", "6h", "1d", cron "0 9 * * MON") and first runs after a start.

Pure functions over times, so that the daemon and `policywatch status` agree on what is due.

APScheduler is imported where a trigger is built or a cron expression read, not with the
module: every command that reads the config imports this module, most schedules are
intervals, and its import is about 0.1 s of CPU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger
    from apscheduler.triggers.cron import CronTrigger

_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

MAX_JITTER_SECONDS = 300
CRON_JITTER_SECONDS = 60


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    """Either a fixed interval or a cron expression (5 fields, UTC)."""

    text: str
    interval: timedelta | None = None
    cron: str | None = None

    def trigger(self, start: datetime) -> BaseTrigger:
        """The APScheduler trigger, first firing at `start` (intervals) and jittered.

        Jitter spreads targets that share a schedule: a tenth of the interval, at most five
        minutes, so that a thousand daily targets do not all start in the same second.
        """
        if self.interval is not None:
            from apscheduler.triggers.interval import IntervalTrigger

            jitter = min(self.interval.total_seconds() / 10, MAX_JITTER_SECONDS)
            return IntervalTrigger(
                seconds=self.interval.total_seconds(), start_date=start, jitter=jitter, timezone=UTC
            )
        assert self.cron is not None
        return _cron_trigger(self.cron)

    def next_after(self, moment: datetime) -> datetime:
        """The first time this schedule is due after `moment` (without jitter)."""
        if self.interval is not None:
            return moment + self.interval
        assert self.cron is not None
        fire = _cron_trigger(self.cron).get_next_fire_time(None, moment + timedelta(seconds=1))
        assert fire is not None
        return fire


def _cron_trigger(expression: str) -> CronTrigger:
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(expression, timezone=UTC)


def parse_schedule(text: str) -> Schedule:
    interval = _INTERVAL.match(text)
    if interval:
        amount, unit = int(interval.group(1)), interval.group(2)
        if amount <= 0:
            raise ScheduleError(f"interval must be positive: {text!r}")
        return Schedule(text, interval=timedelta(seconds=amount * _UNIT_SECONDS[unit]))
    try:
        _cron_trigger(text)
    except ValueError as err:
        raise ScheduleError(
            f"expected an interval like '6h' or a cron expression like '0 9 * * MON': {err}"
        ) from None
    return Schedule(text, cron=text)


def first_runs(
    due: dict[str, datetime | None], now: datetime, spread: timedelta
) -> dict[str, datetime]:
    """When each target should first run after a (re)start, from when it is next due.

    `due` maps each target to the time its schedule makes it due after its last check (None
    when it was never checked). Targets due in the future keep that time. Overdue targets (and
    new ones) are spread evenly over the first `spread`, most overdue first, so a restart after
    downtime does not fire everything at once.
    """
    overdue = sorted(
        (name for name, at in due.items() if at is None or at <= now),
        key=lambda name: (due[name] or datetime.min.replace(tzinfo=UTC), name),
    )
    step = spread / max(len(overdue), 1)
    runs = {name: now + step * index for index, name in enumerate(overdue)}
    runs.update({name: at for name, at in due.items() if at is not None and at > now})
    return runs
