"""Small parsing helpers for the command line: times, NCT ids, query parameters."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import click

from trialwatch.record import NCT_RE


def parse_time(value: str, *, end_of_day: bool = False) -> datetime:
    """ISO 8601 date or date-time; naive times are UTC. A bare date means its start
    (or, for "as of" questions, its end, so the whole day counts)."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            return moment + timedelta(days=1, microseconds=-1) if end_of_day else moment
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or date-time") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_nct(value: str) -> str:
    nct = value.strip().upper()
    if not NCT_RE.match(nct):
        raise click.BadParameter(f"{value!r} is not an NCT id (NCT followed by 8 digits)")
    return nct


def read_nct_file(path: Path) -> list[str]:
    """One NCT id per line; blank lines and # comments ignored."""
    ids = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            ids.append(check_nct(text))
        except click.BadParameter as exc:
            raise click.BadParameter(f"{path}:{number}: {exc.message}") from exc
    return ids


def parse_query(items: tuple[str, ...]) -> dict[str, str]:
    """``query.cond=lymphoma`` or ``filter.overallStatus=RECRUITING`` pass through as API
    parameters; a bare phrase is a full-text ``query.term``."""
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if sep and (key.startswith("query.") or key.startswith("filter.")):
            params[key] = value
        elif sep:
            raise click.BadParameter(
                f"{item!r}: only query.* and filter.* parameters can be passed through"
            )
        else:
            params["query.term"] = item
    return params


def input_files(paths: tuple[Path, ...]) -> list[Path]:
    """Files as given; a folder means every file below it, in name order (hidden ones skipped)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.parts[-1:])
            )
        else:
            files.append(path)
    return files
