"""Where the database is, opening it, its schema revision, and transactions.

Opening a database (``open_engine``) never migrates one in use: an empty database is created
at the latest revision, a current one is used, and any other is refused with one line.
Upgrading is explicit (``upgrade``, the `trialwatch db upgrade` command) and serialised: a
PostgreSQL advisory lock, or SQLite's write lock, is held while it runs.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlmodel import Session

from trialwatch.registry.revisions import read_revisions

if TYPE_CHECKING:  # alembic is imported where migrations run: it costs every command ~0.1 s
    from alembic.config import Config

DEFAULT_DB_FILE = "trialwatch.db"
MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
# trialwatch.scheduler.JOB_TABLE: the job store creates it itself, so `schedule add` on a new
# database leaves it there before any migration ran. It does not make a database non-empty.
JOB_STORE_TABLE = "apscheduler_jobs"
# pg_advisory_xact_lock key taken around every migration (advisory keys are per database).
SCHEMA_LOCK_KEY = 0x7472_6961_6C77_6174  # "trialwat"
SQLITE_LOCK_WAIT_MS = 600_000  # a second upgrade waits this long for the first one
POSTGRES_CONNECT_TIMEOUT = 10  # seconds, unless the URL says otherwise
# A process holds at most POOL_SIZE + POOL_OVERFLOW connections to a server (shared by others).
POOL_SIZE = 5
POOL_OVERFLOW = 5
PG_DRIVERS = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg"}

log = logging.getLogger(__name__)

Status = Literal["empty", "current", "behind", "ahead", "unversioned"]


class DatabaseError(Exception):
    """The database cannot be opened or used as it is; the message is one line that names it
    (never its password) and says what to do."""


def database_url(given: str | None = None) -> str:
    """--db, else TRIALWATCH_DATABASE_URL, else a SQLite file in the working directory.

    A plain path is taken as a SQLite file; ``postgres://`` and ``postgresql://`` mean
    psycopg 3 (see ``normalize_url``).
    """
    url = given or os.environ.get("TRIALWATCH_DATABASE_URL") or DEFAULT_DB_FILE
    if "://" not in url:
        url = f"sqlite:///{Path(url).resolve()}"
    return normalize_url(url)


def normalize_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` as ``postgresql+psycopg://``: the driver
    trialwatch installs (SQLAlchemy 2.0 reads a bare ``postgresql://`` as psycopg2, and does
    not know ``postgres://`` at all). Other URLs are left as given."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in PG_DRIVERS:
        return f"{PG_DRIVERS[scheme.lower()]}://{rest}"
    return url


def shown_url(url: str) -> str:
    """The URL to print: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # unparseable: drop whatever sits between "//" and "@"
        return re.sub(r"//[^/@]*@", "//***@", url)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=10000")  # first: switching to WAL may wait for a writer
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


@cache
def _scripts() -> tuple[frozenset[str], frozenset[str]]:
    """(the head revisions, every revision) of the migration scripts, read once: they do not
    change while the process runs. Read from the files' own assignments when they are a plain
    chain (every command checks the schema, and importing alembic would cost it ~0.1 s);
    anything else is left to alembic."""
    found = read_revisions(MIGRATIONS / "versions")
    if found is not None:
        return found
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(script.get_heads()), frozenset(r.revision for r in script.walk_revisions())


def head_revision() -> str:
    """The revision this trialwatch needs, as printed ("0008")."""
    return ",".join(sorted(_scripts()[0]))


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands against this trialwatch's migrations."""

    revisions: tuple[str, ...]  # as stored in alembic_version; () when none
    other_tables: tuple[str, ...]  # tables besides the version table and the job store

    @property
    def revision(self) -> str:
        return ",".join(self.revisions) or "none"

    @property
    def status(self) -> Status:
        heads, known = _scripts()
        if not self.revisions:
            return "unversioned" if self.other_tables else "empty"
        if not set(self.revisions) <= known:
            return "ahead"
        return "current" if set(self.revisions) == heads else "behind"

    def refusal(self, url: str) -> str:
        """The one line that says why ordinary commands will not use this database."""
        where, head = shown_url(url), head_revision()
        if self.status == "ahead":
            return (
                f"{where}: the schema is at revision {self.revision}, which this trialwatch "
                f"does not know (it knows up to {head}): a newer trialwatch upgraded it; use that"
            )
        if self.status == "unversioned":
            names = ", ".join(self.other_tables[:3])
            names += ", ..." if len(self.other_tables) > 3 else ""
            return (
                f"{where}: the database has tables ({names}) but no trialwatch schema revision: "
                "run `trialwatch db upgrade` to add trialwatch's tables beside them"
            )
        return (
            f"{where}: the schema is at revision {self.revision}, this trialwatch needs {head}: "
            "run `trialwatch db upgrade`"
        )


def read_state(conn: Connection) -> SchemaState:
    tables = set(inspect(conn).get_table_names())
    revisions: tuple[str, ...] = ()
    if VERSION_TABLE in tables:
        stored = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        revisions = tuple(sorted(stored))
    return SchemaState(revisions, tuple(sorted(tables - {VERSION_TABLE, JOB_STORE_TABLE})))


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic logs each migration context at INFO ("Context impl SQLiteImpl."); keep that
    out of the log unless someone set the "alembic" logger's level (``trialwatch -v``)."""
    logger = logging.getLogger("alembic")
    if logger.level != logging.NOTSET:
        yield
        return
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(logging.NOTSET)


def _reason(exc: BaseException, url: str) -> str:
    """A driver error's first line, with the URL's password (if any) masked."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    line = lines[0] if lines else type(orig).__name__
    try:
        password = make_url(url).password
    except ArgumentError:
        password = None
    return line.replace(str(password), "***") if password else line


def _json_text(value: object) -> str:
    # A value already written as JSON (orjson.Fragment: a record dumped by a parse worker)
    # goes in as it is.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")


# JSON columns written and read by orjson: a first load writes two records' JSON per study.
_JSON: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def _create(url: str) -> Engine:
    """The engine, or DatabaseError for a URL that cannot give one (malformed, unknown
    scheme, driver not installed)."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, **_JSON)
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        connect_args: dict[str, object] = {}
        if parsed.get_backend_name() == "postgresql":
            if "connect_timeout" not in parsed.query:
                connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT  # an unanswering host
            if (
                "application_name" not in parsed.query
            ):  # who holds a connection, in pg_stat_activity
                connect_args["application_name"] = f"trialwatch {os.getpid()}"
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            connect_args=connect_args,
            **_JSON,
        )
    except ImportError as exc:
        backend = url.partition(":")[0]
        if backend.startswith("postgresql"):
            raise DatabaseError(
                f"{shown_url(url)}: PostgreSQL needs the psycopg driver, which is not "
                "installed: pip install 'trialwatch[postgres]'"
            ) from None
        raise DatabaseError(f"{shown_url(url)}: its driver is not installed ({exc})") from None
    except NoSuchModuleError:
        raise DatabaseError(
            f"{shown_url(url)}: unknown kind of database (not sqlite:// or postgresql://)"
        ) from None
    except (ArgumentError, ValueError) as exc:
        raise DatabaseError(f"{shown_url(url)}: not a database URL ({exc})") from None
    except OSError as exc:
        raise DatabaseError(f"{shown_url(url)}: cannot create its folder: {exc}") from None


@contextmanager
def _connected(engine: Engine, url: str) -> Iterator[Connection]:
    """A connection; a database that cannot be reached is DatabaseError naming it."""
    try:
        conn = engine.connect()
    except DBAPIError as exc:
        raise DatabaseError(f"{shown_url(url)}: cannot connect: {_reason(exc, url)}") from None
    with conn:
        yield conn


def _lock(conn: Connection) -> None:
    """Serialise migrations: one process runs them, the next waits and finds them done."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCHEMA_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_LOCK_WAIT_MS}")
        # the driver begins transactions only before DML: take the write lock now, so the
        # version is read and every migration runs inside it
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _migrate(engine: Engine, url: str, *, only_if_empty: bool) -> tuple[SchemaState, SchemaState]:
    """Run the migrations to head under the lock; (state before, state after).

    ``only_if_empty``: create a new database's schema, and nothing else (another process may
    have created it meanwhile: then it is used as it is, if current)."""
    with _connected(engine, url) as conn:
        try:
            with _quiet_alembic(), conn.begin():
                _lock(conn)
                before = read_state(conn)
                if before.status == "ahead" or (
                    only_if_empty and before.status not in ("empty", "current")
                ):
                    raise DatabaseError(before.refusal(url))
                if before.status != "current":
                    from alembic import command

                    cfg = alembic_config(url)
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                after = read_state(conn)
        except DBAPIError as exc:
            raise DatabaseError(
                f"{shown_url(url)}: the upgrade from revision {_stored(conn)} failed and was "
                f"rolled back: {_reason(exc, url)}"
            ) from None
        finally:
            if conn.dialect.name == "sqlite" and not conn.invalidated:
                conn.exec_driver_sql("PRAGMA busy_timeout=10000")  # as every connection has
    return before, after


def _stored(conn: Connection) -> str:
    try:
        return read_state(conn).revision
    except DBAPIError:
        return "unknown"


def missing_file(url: str) -> str | None:
    """The path of a SQLite database file that does not exist; None for one that does, or
    for any other database."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return None if Path(parsed.database).exists() else str(parsed.database)


def open_engine(url: str, *, check_schema: bool = True, must_exist: bool = False) -> Engine:
    """The engine for ``url``, checked: the database answers and its schema is this
    trialwatch's. An empty database is created at the latest revision; a schema behind or
    ahead is DatabaseError (upgrading is ``upgrade``'s job, never a side effect).

    ``check_schema=False``: only that the database answers (for the job store, and tests
    that shape a database themselves). ``must_exist``: a SQLite file that is not there is
    DatabaseError, not created (for commands that only read).
    """
    url = normalize_url(url)
    if must_exist and (missing := missing_file(url)) is not None:
        raise DatabaseError(
            f"{missing}: no such database (a command that only reads never creates one; "
            "check --db or $TRIALWATCH_DATABASE_URL)"
        )
    engine = _create(url)
    try:
        with _connected(engine, url) as conn:
            state = read_state(conn) if check_schema else None
        if state is None or state.status == "current":
            return engine
        if state.status != "empty":
            raise DatabaseError(state.refusal(url))
        _, after = _migrate(engine, url, only_if_empty=True)
        log.info("%s: created the schema at revision %s", shown_url(url), after.revision)
        return engine
    except BaseException:
        engine.dispose()
        raise


def schema_state(url: str) -> SchemaState:
    """Where ``url``'s schema stands, read without changing anything."""
    url = normalize_url(url)
    engine = _create(url)
    try:
        with _connected(engine, url) as conn:
            return read_state(conn)
    finally:
        engine.dispose()


def upgrade(url: str) -> tuple[SchemaState, SchemaState]:
    """Bring ``url``'s schema to the latest revision (``trialwatch db upgrade``); (state
    before, state after). Idempotent, and safe when run by several processes at once."""
    url = normalize_url(url)
    engine = _create(url)
    try:
        return _migrate(engine, url, only_if_empty=False)
    finally:
        engine.dispose()


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
