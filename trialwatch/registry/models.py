"""The tables: trial (merged current view), trial_version, change, crawl_run and friends.

After git-history's item / item_version / item_changed: a version row is written once and never
rewritten; only its last_seen_at moves when the same content is seen again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from trialwatch.kinds import DEFAULT_MIN_GRADE


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (which keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; trialwatch stores aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _time(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kw))


def _json(**kw: Any) -> Any:
    return Field(sa_column=Column(JSON, **kw))


class Trial(SQLModel, table=True):
    __tablename__ = "trial"

    id: int | None = Field(default=None, primary_key=True)
    nct_id: str = Field(unique=True, index=True, max_length=11)
    brief_title: str | None = None
    overall_status: str | None = Field(default=None, index=True)
    record: dict[str, Any] = _json(nullable=False)
    record_source: str = Field(max_length=64)
    field_sources: dict[str, str] | None = _json(nullable=True)
    first_seen_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)


class TrialVersion(SQLModel, table=True):
    """One distinct content of a trial from one origin (``source``: the registry, ``ctgov``,
    whatever the payload's format, or one republishing site), in the origin's own order:
    the registry's clock (``registry_date``, then ``registry_version``), else first seen."""

    __tablename__ = "trial_version"
    __table_args__ = (Index("ix_trial_version_trial_source_seen", "trial_id", "source", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    trial_id: int = Field(foreign_key="trial.id", index=True)
    nct_id: str = Field(max_length=11, index=True)
    source: str = Field(max_length=64)  # the origin
    format: str = Field(max_length=64)  # the payload's format: the parser's slug
    parser_version: str | None = Field(default=None, max_length=32)  # None: read before 0004
    source_url: str | None = None
    record_hash: str = Field(max_length=64)
    snapshot: str | None = Field(default=None, max_length=64)
    record: dict[str, Any] = _json(nullable=False)
    first_seen_at: datetime = _time(nullable=False, index=True)
    last_seen_at: datetime = _time(nullable=False)
    registry_date: str | None = Field(default=None, max_length=10)
    registry_version: str | None = Field(default=None, max_length=32)
    crawl_run_id: int | None = Field(default=None, foreign_key="crawl_run.id")
    # sha256 of the fetched study (its daily versionHolder left out) when last seen: a fetch
    # with the same raw hash, read by the same parser, holds this content without parsing.
    # A lookup key, not history: nothing is derived from it.
    raw_hash: str | None = Field(default=None, max_length=64)


class Change(SQLModel, table=True):
    __tablename__ = "change"

    id: int | None = Field(default=None, primary_key=True)
    trial_id: int = Field(foreign_key="trial.id", index=True)
    nct_id: str = Field(max_length=11, index=True)
    source: str = Field(max_length=64)
    kind: str = Field(max_length=64, index=True)
    before: Any = _json(nullable=True)
    after: Any = _json(nullable=True)
    detail: dict[str, Any] = _json(nullable=False)
    from_version_id: int = Field(foreign_key="trial_version.id")
    to_version_id: int = Field(foreign_key="trial_version.id", index=True)
    observed_at: datetime = _time(nullable=False, index=True)
    registry_date: str | None = Field(default=None, max_length=10)
    # kinds.GRADES; None: written before grades were stored (counts as major until reparse)
    grade: str | None = Field(default=None, max_length=16, index=True)


class HistoryEntry(SQLModel, table=True):
    """A record-history version fetched from the registry, and the version holding its
    content (several registry versions can hold one content: a version row is per content)."""

    __tablename__ = "history_entry"
    __table_args__ = (UniqueConstraint("nct_id", "version", name="uq_history_entry"),)

    id: int | None = Field(default=None, primary_key=True)
    trial_id: int = Field(foreign_key="trial.id", index=True)
    nct_id: str = Field(max_length=11)
    version: int
    registry_date: str | None = Field(default=None, max_length=10)
    version_id: int = Field(foreign_key="trial_version.id", index=True)
    fetched_at: datetime = _time(nullable=False)


class CrawlRun(SQLModel, table=True):
    __tablename__ = "crawl_run"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    args: dict[str, Any] = _json(nullable=False)
    started_at: datetime = _time(nullable=False)
    finished_at: datetime | None = _time(nullable=True)
    # running, then ok | partial | failed | interrupted (stopped by a signal or Ctrl-C)
    status: str = Field(default="running", max_length=16)
    fetched: int = 0
    new_versions: int = 0
    unchanged: int = 0
    not_found: int = 0
    rejected: int = 0
    errors: list[str] = _json(nullable=False)
    job_id: str | None = Field(default=None, max_length=191, index=True)


class ParseFailure(SQLModel, table=True):
    """A payload set aside: kept by snapshot hash with its reason, never parsed into a version."""

    __tablename__ = "parse_failure"

    id: int | None = Field(default=None, primary_key=True)
    source: str | None = Field(default=None, max_length=64)
    url: str | None = None
    snapshot: str | None = Field(default=None, max_length=64)
    reason: str
    observed_at: datetime = _time(nullable=False)
    crawl_run_id: int | None = Field(default=None, foreign_key="crawl_run.id")


class TrialAlias(SQLModel, table=True):
    """An NCT id the registry redirects to another (an alias, e.g. merged duplicates)."""

    __tablename__ = "trial_alias"
    __table_args__ = (UniqueConstraint("alias", name="uq_trial_alias_alias"),)

    id: int | None = Field(default=None, primary_key=True)
    alias: str = Field(max_length=11)
    nct_id: str = Field(max_length=11, index=True)
    first_seen_at: datetime = _time(nullable=False)


class Watch(SQLModel, table=True):
    """Who wants to hear about which trials (by id, by search, or by source), which kinds,
    and from which grade up."""

    __tablename__ = "watch"

    id: int | None = Field(default=None, primary_key=True)
    # The address of its email channel ('' when it has none); the channels are watch_channel.
    email: str = Field(max_length=320)
    nct_ids: list[str] | None = _json(nullable=True)
    query: dict[str, str] | None = _json(nullable=True)
    query_key: str | None = Field(default=None, max_length=64, index=True)
    source: str | None = Field(default=None, max_length=64)
    kinds: list[str] = _json(nullable=False)
    # integrity findings it hears about (kinds.FINDING_KINDS); None: none
    findings: list[str] | None = _json(nullable=True)
    digest: str = Field(default="immediate", max_length=16)  # immediate, daily or weekly
    # When a digest is due: "HH:MM" in the zone digest_tz (None: 07:00 UTC), and for a weekly
    # one the weekday (0 Monday ... 6 Sunday; None: Monday).
    digest_at: str | None = Field(default=None, max_length=5)
    digest_tz: str | None = Field(default=None, max_length=64)
    digest_weekday: int | None = None
    # the least grade this watch hears about (kinds.GRADES)
    min_grade: str = Field(
        default=DEFAULT_MIN_GRADE,
        max_length=16,
        sa_column_kwargs={"server_default": DEFAULT_MIN_GRADE},
    )
    active: bool = True
    created_at: datetime = _time(nullable=False)


class WatchChannel(SQLModel, table=True):
    """Where a watch's alerts go: an email address (sent with trialwatch's SMTP settings) or
    an Apprise URL, kept sealed with a key that lives outside the database."""

    __tablename__ = "watch_channel"

    id: int | None = Field(default=None, primary_key=True)
    watch_id: int = Field(foreign_key="watch.id", index=True)
    kind: str = Field(max_length=16)  # "email" or "apprise"
    # The address, or the URL with its secrets masked: safe to print.
    target: str = Field(max_length=2048)
    sealed: str | None = None  # the whole Apprise URL, encrypted (alerts.secrets)
    created_at: datetime = _time(nullable=False)


class QueryMember(SQLModel, table=True):
    """A trial that a search returned: a watch on that search follows it from then on."""

    __tablename__ = "query_member"
    __table_args__ = (UniqueConstraint("query_key", "nct_id", name="uq_query_member"),)

    id: int | None = Field(default=None, primary_key=True)
    query_key: str = Field(max_length=64, index=True)
    nct_id: str = Field(max_length=11)
    first_seen_at: datetime = _time(nullable=False)


class AlertMessage(SQLModel, table=True):
    """One message for one channel of a watch, composed once; a resend reuses it and its
    Message-ID. A digest names its period, so a channel gets one digest per period."""

    __tablename__ = "alert_message"
    __table_args__ = (Index("uq_alert_message_period", "channel_id", "period", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    watch_id: int = Field(foreign_key="watch.id", index=True)
    channel_id: int | None = Field(default=None, foreign_key="watch_channel.id")
    period: str | None = Field(default=None, max_length=40)  # a digest's period: its end
    message_id: str = Field(max_length=255, unique=True)
    recipient: str = Field(max_length=320)  # the address, or the channel's masked URL (cut)
    subject: str
    text: str
    html: str
    # pending -> sending (claimed by one sender) -> sent; held: a person must act (last_error)
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: datetime = _time(nullable=False)
    last_error: str | None = None
    created_at: datetime = _time(nullable=False)
    sent_at: datetime | None = _time(nullable=True)
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_at: datetime | None = _time(nullable=True)
    # held by the SMTP settings: their salted fingerprint, so changed settings release it
    held_settings: str | None = Field(default=None, max_length=128)


class Delivery(SQLModel, table=True):
    """The outbox: a change (or an integrity finding) one channel of a watch must hear
    about, written with the change itself (or when the finding comes to hold)."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("channel_id", "change_id", name="uq_delivery_channel"),
        UniqueConstraint("channel_id", "finding_id", name="uq_delivery_channel_finding"),
    )

    id: int | None = Field(default=None, primary_key=True)
    watch_id: int = Field(foreign_key="watch.id", index=True)
    channel_id: int = Field(foreign_key="watch_channel.id", index=True)
    change_id: int | None = Field(default=None, foreign_key="change.id")  # one of the two
    finding_id: int | None = Field(default=None, foreign_key="finding.id")
    message_pk: int | None = Field(default=None, foreign_key="alert_message.id", index=True)
    created_at: datetime = _time(nullable=False)


class Finding(SQLModel, table=True):
    """An integrity finding (diffing.findings), derived from the trial's registry versions and
    recomputed whenever they change: kept while it holds, ``resolved_at`` once it no longer
    does (kept, so that it is never announced twice)."""

    __tablename__ = "finding"
    __table_args__ = (UniqueConstraint("trial_id", "kind", "key", name="uq_finding"),)

    id: int | None = Field(default=None, primary_key=True)
    trial_id: int = Field(foreign_key="trial.id", index=True)
    nct_id: str = Field(max_length=11, index=True)
    kind: str = Field(max_length=32, index=True)  # kinds.FINDING_KINDS
    key: str = Field(max_length=64)
    grade: str = Field(max_length=16)
    since: str = Field(max_length=10, index=True)  # registry date from which it holds
    version_ids: list[int] = _json(nullable=False)
    registry_dates: list[str] = _json(nullable=False)
    text: str
    detail: dict[str, Any] = _json(nullable=False)
    first_seen_at: datetime = _time(nullable=False)  # observed: when first stored
    resolved_at: datetime | None = _time(nullable=True)  # observed: when it stopped holding
    # Told to watches once it holds: set when a live version revealed it, or when it was
    # stored before it came to hold; never for what backfill, a first load or reparse found.
    news: bool = False
    announced_at: datetime | None = _time(nullable=True)


class TrialIdentifier(SQLModel, table=True):
    """Every identifier a record gave for its trial (NCT id, sponsor and secondary ids), so a
    page that shows no NCT id can be linked to its trial by another id."""

    __tablename__ = "trial_identifier"
    __table_args__ = (UniqueConstraint("identifier", "nct_id", name="uq_trial_identifier"),)

    id: int | None = Field(default=None, primary_key=True)
    identifier: str = Field(max_length=191, index=True)
    nct_id: str = Field(max_length=11)
    source: str = Field(max_length=64)


class Discrepancy(SQLModel, table=True):
    """A republishing site disagreeing with the registry on one field, while it lasts."""

    __tablename__ = "discrepancy"

    id: int | None = Field(default=None, primary_key=True)
    trial_id: int = Field(foreign_key="trial.id", index=True)
    nct_id: str = Field(max_length=11)
    field: str = Field(max_length=64)
    site_source: str = Field(max_length=64)
    site_value: Any = _json(nullable=True)
    registry_source: str = Field(max_length=64)
    registry_value: Any = _json(nullable=True)
    opened_at: datetime = _time(nullable=False)
    closed_at: datetime | None = _time(nullable=True, index=True)
    change_id: int = Field(foreign_key="change.id")


class SchedulerLease(SQLModel, table=True):
    """Who serves this database's schedule: one row, renewed by its holder every few seconds.
    A holder whose heartbeat is older than its own ``timeout_seconds`` is taken for dead."""

    __tablename__ = "scheduler_lease"

    name: str = Field(primary_key=True, max_length=64)  # "scheduler"
    holder: str = Field(max_length=64)  # a random id per `schedule run` process
    host: str = Field(max_length=255)
    pid: int
    started_at: datetime = _time(nullable=False)
    heartbeat_at: datetime = _time(nullable=False)
    timeout_seconds: float


class RawPayload(SQLModel, table=True):
    """A raw payload kept in the database itself (PostgreSQL, unless $TRIALWATCH_DATA_DIR
    names a folder): compressed as the file store keeps it, named by the sha256 of the
    uncompressed bytes, written in the transaction of the version that names it."""

    __tablename__ = "raw_payload"

    digest: str = Field(primary_key=True, max_length=64)
    # zstd, or gzip when stored before zstd
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int  # bytes before compression
    stored_at: datetime = _time(nullable=False)
