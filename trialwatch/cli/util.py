"""What the commands share: the database context, output helpers, and parsing of times,
NCT ids, query parameters and crawl options."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from trialwatch.record import NCT_RE
from trialwatch.registry.db import database_url, open_engine

if TYPE_CHECKING:  # imported where used: most commands need no pipeline (nor its parsers)
    from sqlalchemy import Engine

    from trialwatch.ingest.pipeline import Pipeline
    from trialwatch.snapshots import PayloadStore

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """What every command shares: the database URL, opened on first use (created if empty,
    unless the command only reads; a schema not current is refused: `trialwatch db
    upgrade`), and closed when the command ends."""

    def __init__(self, db: str | None) -> None:
        self.url = database_url(db)
        self.reads_only = False  # set by @reads_only: a database must exist to be read
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = open_engine(self.url, must_exist=self.reads_only)
        return self._engine

    def store(self) -> PayloadStore:
        """Where the database keeps its raw payloads (or $TRIALWATCH_DATA_DIR)."""
        from trialwatch.config import data_dir_override
        from trialwatch.registry.rawstore import payload_store

        return payload_store(self.engine, data_dir_override())

    def pipeline(self) -> Pipeline:
        from trialwatch.ingest.pipeline import Pipeline

        return Pipeline(self.engine, self.store(), report=err)

    def close(self) -> None:
        """Give the database's connections back (a server counts them)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def reads_only(command: F) -> F:
    """A command that only reads: a SQLite file that does not exist is refused in one line,
    never created (a mistyped --db is said, not answered from an empty database). Put it
    next to the function, under click's decorators."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        found = click.get_current_context().find_object(Context)
        if found is not None:
            found.reads_only = True
        return command(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def err(line: str) -> None:
    """Progress, summaries and errors go to stderr; data goes to stdout."""
    click.echo(line, err=True)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


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
    """An NCT id as given on the command line or in a file: "NCT" and 8 ASCII digits (any
    case, surrounding spaces dropped); anything else is a usage error naming it."""
    nct = value.strip().upper()
    if not NCT_RE.match(nct):
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise click.BadParameter(f"{shown!r} is not an NCT id (NCT followed by 8 digits)")
    return nct


def read_nct_file(path: Path) -> list[str]:
    """One NCT id per line; blank lines and # comments ignored."""
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{path}: not UTF-8 (bad byte at offset {exc.start})") from None
    except OSError as exc:
        raise click.BadParameter(f"{path}: cannot read: {exc.strerror or exc}") from None
    ids = []
    for number, line in enumerate(content.splitlines(), 1):
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


def crawl_options(
    slug: str,
    ncts: tuple[str, ...],
    nct_file: Path | None,
    urls: tuple[str, ...],
    queries: tuple[str, ...],
    updated_since: str | None,
    base_url: str | None,
    delay: float | None,
    *,
    timeout: float | None = None,
    deadline: float | None = None,
    max_pages: int | None = None,
    search_url: str | None = None,
    http_cache: Path | None = None,
) -> dict[str, Any]:
    """The crawl command's options, checked, as plain values (a scheduled job stores these).

    ``search_url``: a search copied from the ClinicalTrials.gov website, turned into API
    parameters added to ``queries`` (each part it cannot translate is said on stderr).

    The limits (timeout, deadline, max_pages) not passed are read from the crawl command's
    context, which `schedule add` builds too; they are in the result only when set.

    ``http_cache`` (``--http-cache``) is passed by a crawl run now, and is not in the result:
    given to `schedule add`, which does not pass it, it is a usage error, since a job that
    replayed its first answers would never see a change.
    """
    from trialwatch.spiders.ctgov import check_base_url

    if base_url is not None:
        try:
            base_url = check_base_url(base_url)
        except ValueError as exc:
            message = str(exc).removeprefix("invalid base_url ")
            raise click.BadParameter(message, param_hint="'--base-url'") from None
    given = getattr(click.get_current_context(silent=True), "params", {})
    limits = {
        "timeout": timeout if timeout is not None else given.get("timeout"),
        "deadline": deadline if deadline is not None else given.get("deadline"),
        "max_pages": max_pages if max_pages is not None else given.get("max_pages"),
    }
    if http_cache is None and given.get("http_cache") is not None:
        raise click.UsageError(
            "--http-cache is for a crawl run now, not a scheduled one: the job would replay "
            "the same answers every time"
        )
    ids = [check_nct(n) for n in ncts] + (read_nct_file(nct_file) if nct_file else [])
    query = parse_query(queries)
    if search_url is not None:
        query = _searched(slug, search_url, query)
    since = parse_time(updated_since).date().isoformat() if updated_since else None
    if not ids and not urls and not query and since is None:
        raise click.UsageError(
            "say what to fetch: --nct, --nct-file, --url, --query, --search-url or --updated-since"
        )
    return {
        "slug": slug,
        "nct_ids": ids,
        "urls": list(urls),
        "query": query,
        "updated_since": since,
        "base_url": base_url,
        "delay": delay,
        **{name: value for name, value in limits.items() if value is not None},
    }


def _searched(slug: str, url: str, query: dict[str, str]) -> dict[str, str]:
    """``query`` with the website search's API parameters merged in; a URL that is not such a
    search, or a clash with ``--query``, is a usage error in one line."""
    from trialwatch.spiders.search_url import merge, translate

    if slug != "ctgov":
        err(f"--search-url: only for ctgov, not {slug}")
        sys.exit(2)
    try:
        found = translate(url)
        merged = merge(query, found.params)
    except ValueError as exc:
        err(f"--search-url: {exc}")
        sys.exit(2)
    for part in found.untranslated:
        err(f"--search-url: left out {part}")
    return merged
