"""Digest periods: a daily or weekly digest is due at a local time in a time zone.

A period ends at each such moment. The digest for a period gathers what the watch's channel
was owed before its end and not yet sent, and is stored under the period's name: the database
keeps one per channel and period, so a restart, a second scheduler or a second `alerts send`
never sends a period twice. Periods missed while nothing ran become one digest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DIGESTS = ("immediate", "daily", "weekly")
DEFAULT_AT = "07:00"
DEFAULT_TZ = "UTC"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_AT = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


def check_at(value: str) -> str:
    """ "HH:MM" (24 h), or a ValueError."""
    found = _AT.fullmatch(value.strip())
    if not found:
        raise ValueError(f"{value!r} is not a time of day (expected HH:MM, such as 07:00)")
    return f"{int(found.group(1)):02d}:{found.group(2)}"


def check_tz(value: str) -> str:
    """An IANA time zone name (Europe/Paris, America/New_York, UTC), or a ValueError."""
    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not a time zone (expected a name such as Europe/Paris or UTC)"
        ) from None
    return name


def check_weekday(value: str) -> int:
    name = value.strip().lower()
    for number, day in enumerate(WEEKDAYS):
        if len(name) >= 3 and day.startswith(name):
            return number
    raise ValueError(f"{value!r} is not a day of the week (monday ... sunday)")


def _local(day: date, at: str, zone: ZoneInfo) -> datetime:
    hours, minutes = (int(x) for x in at.split(":"))
    # A time skipped by a clock change is read with the offset before it (PEP 495, fold 0).
    return datetime.combine(day, time(hours, minutes), tzinfo=zone).astimezone(UTC)


def _ends(
    digest: str, now: datetime, step: int, *, at: str | None, tz: str | None, weekday: int | None
) -> Iterator[datetime]:
    """The moments a period ends, from ``now``'s local day back (step -1) or on (step 1)."""
    zone = ZoneInfo(tz or DEFAULT_TZ)
    today = now.astimezone(zone).date()
    for offset in range(0, 9):
        day = today + timedelta(days=step * offset)
        if digest == "daily" or day.weekday() == (weekday or 0):
            yield _local(day, at or DEFAULT_AT, zone)


def period_end(
    digest: str, now: datetime, *, at: str | None, tz: str | None, weekday: int | None
) -> datetime | None:
    """The end of the latest period that has ended by ``now`` (aware UTC); None for a watch
    told at once."""
    if digest not in ("daily", "weekly"):
        return None
    ends = _ends(digest, now, -1, at=at, tz=tz, weekday=weekday)
    return next(end for end in ends if end <= now)  # a period ends within 8 days


def next_end(
    digest: str, now: datetime, *, at: str | None, tz: str | None, weekday: int | None
) -> datetime | None:
    """When the next period ends after ``now``."""
    if digest not in ("daily", "weekly"):
        return None
    ends = _ends(digest, now, 1, at=at, tz=tz, weekday=weekday)
    return next(end for end in ends if end > now)


def period_name(end: datetime) -> str:
    """How a period is stored: its end in UTC, to the minute."""
    return end.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def describe_digest(digest: str, *, at: str | None, tz: str | None, weekday: int | None) -> str:
    if digest == "daily":
        return f"daily at {at or DEFAULT_AT} {tz or DEFAULT_TZ}"
    if digest == "weekly":
        return f"weekly on {WEEKDAYS[weekday or 0]} at {at or DEFAULT_AT} {tz or DEFAULT_TZ}"
    return digest
