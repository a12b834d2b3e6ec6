"""Where the database is, opening it (migrated to the latest schema), and transactions."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

DEFAULT_DB_FILE = "trialwatch.db"
MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"


def database_url(given: str | None = None) -> str:
    """--db, else TRIALWATCH_DATABASE_URL, else a SQLite file in the working directory.

    A plain path is taken as a SQLite file.
    """
    url = given or os.environ.get("TRIALWATCH_DATABASE_URL") or DEFAULT_DB_FILE
    if "://" not in url:
        url = f"sqlite:///{Path(url).resolve()}"
    return url


def data_dir(url: str) -> Path:
    """TRIALWATCH_DATA_DIR, else a folder beside the SQLite file (or in the working directory)."""
    if env := os.environ.get("TRIALWATCH_DATA_DIR"):
        return Path(env)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        db = Path(parsed.database)
        return db.with_name(db.stem + "-data")
    return Path("trialwatch-data")


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@cache
def _head_revisions() -> frozenset[str]:
    # The migration scripts do not change while the process runs; read them once.
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


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


def upgrade_to_head(engine: Engine, url: str) -> bool:
    """Bring the schema to the latest migration; True when a migration ran.

    A database already at the latest revision costs one query: a long-running process that
    opens the database per job does not run Alembic again and again.
    """
    with engine.connect() as conn:  # read directly: a migration context logs as it starts
        current: frozenset[str] = frozenset()
        if inspect(conn).has_table(VERSION_TABLE):
            current = frozenset(
                conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
            )
    if current == _head_revisions():
        return False
    with _quiet_alembic():
        cfg = alembic_config(url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    return True


def open_engine(url: str, *, migrate: bool = True) -> Engine:
    """Create the engine and bring the schema to the latest migration."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if migrate:
        upgrade_to_head(engine, url)
    return engine


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
