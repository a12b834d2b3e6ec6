"""Shared test set-up: fixture paths, a fresh database per test (SQLite, and PostgreSQL
when a server is reachable)."""

from __future__ import annotations

import os
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool, Pool

from tests.reliability import Recorder, write

FIXTURES = Path(__file__).parent / "fixtures"
# The most connections a test process holds to PostgreSQL at once: a server shared with other
# clients (CI's has 100 in all) must never be exhausted by the suite, however it is split.
MAX_PG_CONNECTIONS = 10
PG_URL = os.environ.get(
    "TRIALWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_admin_url() -> str | None:
    """The server URL if PostgreSQL answers; else None (or a failure where it is required)."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return PG_URL
    except Exception as exc:  # any driver or connection error means "not here"
        if os.environ.get("TRIALWATCH_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required here but {PG_URL} did not answer: {exc}")
        return None


@pytest.fixture(scope="session")
def postgres_server() -> str | None:
    return _postgres_admin_url()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'trialwatch.db'}"
        return
    with postgres_database(request) as url:
        yield url


@contextmanager
def postgres_database(request: pytest.FixtureRequest, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database, dropped after; the test is skipped without a server. Empty,
    or a copy of the database ``template`` names (a URL; nothing may be connected to it)."""
    server = request.getfixturevalue("postgres_server")
    if server is None:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} (set TRIALWATCH_TEST_POSTGRES_URL)")
    name = f"tw_test_{uuid.uuid4().hex[:12]}"
    copied = f' TEMPLATE "{make_url(template).database}"' if template else ""
    # The server's connection is closed while the database is in use (a database kept for a
    # whole module or session would otherwise hold it, and tests count what they hold).
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copied}'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fixture_file(name: str) -> Path:
    """A saved real payload by its file name, wherever it sits under tests/fixtures/."""
    found = sorted(FIXTURES.rglob(name))
    if not found:
        raise FileNotFoundError(f"no fixture named {name} under {FIXTURES}")
    return found[0]


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """Say what a fault or attack test tried (see tests/reliability.py); written only when
    the test passed."""
    database = ""
    if "db_url" in request.fixturenames:
        database = str(request.getfixturevalue("db_url")).split(":", 1)[0].split("+")[0]
    recorder = Recorder(request.node.nodeid, database)
    yield recorder
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.passed:
        write(recorder.trials)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


class PgConnections:
    """This process's open PostgreSQL connections, through every SQLAlchemy pool (the
    program's engines and the tests' own): counted when each is made, so the count at that
    moment is the peak. A connection closed, or dropped with its engine, no longer counts."""

    def __init__(self) -> None:
        self.open: weakref.WeakSet[Any] = weakref.WeakSet()
        self.peak = 0

    def live(self) -> int:
        return sum(1 for conn in list(self.open) if not conn.closed)

    def made(self, dbapi_conn: Any, _record: Any) -> None:
        if type(dbapi_conn).__module__.startswith("psycopg"):
            self.open.add(dbapi_conn)
            self.peak = max(self.peak, self.live())


PG_CONNECTIONS = PgConnections()
event.listen(Pool, "connect", PG_CONNECTIONS.made)


@pytest.fixture(autouse=True)
def _few_pg_connections(request: pytest.FixtureRequest) -> Iterator[None]:
    """No test holds more than MAX_PG_CONNECTIONS connections at once."""
    PG_CONNECTIONS.peak = PG_CONNECTIONS.live()
    yield
    peak = PG_CONNECTIONS.peak
    assert peak <= MAX_PG_CONNECTIONS, (
        f"{request.node.nodeid} held {peak} PostgreSQL connections at once "
        f"(at most {MAX_PG_CONNECTIONS})"
    )


@pytest.fixture(autouse=True, scope="session")
def _secret_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Channel URLs are sealed with a key made in a folder of the test run, never in the
    user's ~/.config; processes the tests start inherit it."""
    path = tmp_path_factory.mktemp("secret") / "secret.key"
    before = os.environ.get("TRIALWATCH_SECRET_KEY_FILE")
    os.environ["TRIALWATCH_SECRET_KEY_FILE"] = str(path)
    yield path
    if before is None:
        os.environ.pop("TRIALWATCH_SECRET_KEY_FILE", None)
    else:
        os.environ["TRIALWATCH_SECRET_KEY_FILE"] = before
