"""Real `trialwatch alerts send` processes over one database seeded with watches and pending
deliveries, the SMTP handlers that count, delay or hold what they receive, and locks that
stop a sender at its next database write."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import select

from tests.conftest import fixture_file
from trialwatch.alerts.secrets import seal
from trialwatch.alerts.watches import Target, add_watch
from trialwatch.ingest.pipeline import Pipeline, Tally
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import AlertMessage, Delivery
from trialwatch.snapshots import SnapshotStore

from .smtp_server import HOST, Recorder

NCT = "NCT03934567"
T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
FROM = "alerts@trialwatch.test"
# Imports everything, says "ready" on stdout, then waits for a line on stdin, so processes
# started together go at the same instant; then the `trialwatch` command's own entry point.
GATED = (
    "import sys, trialwatch.ingest.jobs, trialwatch.alerts.outbox\n"
    "from trialwatch.cli import main\n"
    "print('ready', flush=True)\n"
    "sys.stdin.readline()\n"
    "sys.argv[0] = 'trialwatch'\n"
    "main()\n"
)


def seed(
    db_url: str,
    tmp_path: Path,
    watches: int,
    notify: Callable[[int], list[Target]] = lambda _n: [],
) -> list[str]:
    """``watches`` watches on one trial, then a status change: one pending delivery for each
    channel (an email, and ``notify(n)`` for watch n). Returns the email recipients."""
    engine = open_engine(db_url)
    try:
        recipients = [f"w{i}@x.test" for i in range(watches)]
        with transaction(engine) as session:
            for n, address in enumerate(recipients):
                add_watch(
                    session,
                    email=address,
                    notify=notify(n),
                    seal=seal,
                    created_at=T0,
                    nct_ids=[NCT],
                    kinds=["status"],
                )
        pipeline = Pipeline(engine, SnapshotStore(tmp_path / "snapshots"))
        data = json.loads(fixture_file("ctgov_v2_NCT03934567.json").read_bytes())
        for step, status in enumerate((None, "COMPLETED")):
            if status:
                data["protocolSection"]["statusModule"]["overallStatus"] = status
            tally = Tally()
            when = T0 + timedelta(hours=step)
            pipeline.ingest_body(json.dumps(data).encode(), name="p", observed_at=when, tally=tally)
        assert tally.deliveries == sum(1 + len(notify(n)) for n in range(watches))
    finally:
        engine.dispose()
    return recipients


def change_status(
    db_url: str, tmp_path: Path, status: str, *, hours: int, title: str | None = None
) -> int:
    """The trial's status changes again ``hours`` after T0 (its brief title ``title``, as a
    hostile page might give it); returns the deliveries queued."""
    engine = open_engine(db_url)
    try:
        pipeline = Pipeline(engine, SnapshotStore(tmp_path / "snapshots"))
        data = json.loads(fixture_file("ctgov_v2_NCT03934567.json").read_bytes())
        data["protocolSection"]["statusModule"]["overallStatus"] = status
        if title is not None:
            data["protocolSection"]["identificationModule"]["briefTitle"] = title
        tally = Tally()
        when = T0 + timedelta(hours=hours)
        pipeline.ingest_body(json.dumps(data).encode(), name="p", observed_at=when, tally=tally)
        return tally.deliveries
    finally:
        engine.dispose()


def sender_env(tmp_path: Path, port: int, **smtp: str) -> dict[str, str]:
    """The environment of a sender process: this SMTP server, no other configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALWATCH_")}
    config = tmp_path / "empty.toml"
    config.write_text("")
    env |= {
        "TRIALWATCH_SECRET_KEY_FILE": os.environ["TRIALWATCH_SECRET_KEY_FILE"],
        "TRIALWATCH_CONFIG": str(config),
        "TRIALWATCH_DATA_DIR": str(tmp_path / "data"),
        "TRIALWATCH_SMTP_HOST": HOST,
        "TRIALWATCH_SMTP_PORT": str(port),
        "TRIALWATCH_SMTP_FROM": FROM,
        "TRIALWATCH_SMTP_SECURITY": "none",
    }
    env |= {f"TRIALWATCH_SMTP_{k.upper()}": v for k, v in smtp.items()}
    return env


def trialwatch(
    db_url: str, env: dict[str, str], *args: str, gated: bool = False
) -> subprocess.Popen[str]:
    code = ["-c", GATED] if gated else ["-m", "trialwatch.cli"]
    return subprocess.Popen(
        [sys.executable, *code, "--db", db_url, *args],
        env=env,
        stdin=subprocess.PIPE if gated else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(db_url: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trialwatch.cli", "--db", db_url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def parsed(content: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def arrivals(handler: Recorder) -> list[tuple[str, str]]:
    """(recipient, Message-ID) of each message the server accepted."""
    return [
        (str(parsed(g["content"])["To"]), str(parsed(g["content"])["Message-ID"]))
        for g in handler.received
    ]


def messages(db_url: str) -> list[AlertMessage]:
    engine = open_engine(db_url)
    try:
        with transaction(engine) as session:
            return list(session.exec(select(AlertMessage).order_by(AlertMessage.id)))
    finally:
        engine.dispose()


def unassigned(db_url: str) -> int:
    engine = open_engine(db_url)
    try:
        with transaction(engine) as session:
            rows = session.exec(select(Delivery).where(Delivery.message_pk == None))  # noqa: E711
            return len(rows.all())
    finally:
        engine.dispose()


def duplicates(values: list[str]) -> dict[str, int]:
    return {v: n for v, n in Counter(values).items() if n > 1}


@dataclass
class Slow(Recorder):
    """Takes ``delay`` seconds over each message, so senders overlap while sending."""

    delay: float = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@dataclass
class Holding(Recorder):
    """Holds the first message's DATA until ``release`` is set (``arrived`` says it came, and
    ``seen`` keeps it); ``before_accept`` runs just before a message is accepted."""

    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    seen: list[bytes] = field(default_factory=list)
    hold_first: bool = True
    before_accept: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.seen.append(envelope.original_content or envelope.content)
        if self.hold_first and len(self.seen) == 1:
            self.arrived.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
            return "451 4.3.0 the client went away"
        if self.before_accept is not None:
            self.before_accept()
        reply = await super().handle_DATA(server, session, envelope)
        self.arrived.set()
        return reply


@contextmanager
def writes_blocked(db_url: str) -> Iterator[None]:
    """While inside, no one can write alert_message: a sender stops at its next write there."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(str(url.database), isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = create_engine(db_url)
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE alert_message IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()
