"""The scheduler's alerts job sends a digest once its time has passed, and once only: real
`trialwatch schedule run` processes, the serving one killed after the digest went and a
standby taking over, with an SMTP server and a JSON webhook on loopback."""

from __future__ import annotations

import json
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.alerts.receivers import receiving
from tests.alerts.smtp_server import HOST, Recorder, smtp_server
from tests.conftest import fixture_file
from tests.scheduler.support import db_arg, trialwatch, wait_for
from trialwatch.alerts.secrets import seal
from trialwatch.alerts.watches import Target, add_watch
from trialwatch.ingest.pipeline import Pipeline, Tally
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import AlertMessage, utcnow
from trialwatch.snapshots import SnapshotStore

NCT = "NCT03934567"


def _ingest(pipeline: Pipeline, status: str | None, when) -> int:  # type: ignore[no-untyped-def]
    data = json.loads(fixture_file(f"ctgov_v2_{NCT}.json").read_bytes())
    if status:
        data["protocolSection"]["statusModule"]["overallStatus"] = status
    tally = Tally()
    pipeline.ingest_body(json.dumps(data).encode(), name="p", observed_at=when, tally=tally)
    return tally.deliveries


def _env(port: int, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "none.toml").write_text("")
    return {
        "TRIALWATCH_CONFIG": str(tmp_path / "none.toml"),
        "TRIALWATCH_ALERTS_EVERY": "0.5",
        "TRIALWATCH_SMTP_HOST": HOST,
        "TRIALWATCH_SMTP_PORT": str(port),
        "TRIALWATCH_SMTP_FROM": "tw@x.test",
        "TRIALWATCH_SMTP_SECURITY": "none",
    }


@pytest.mark.reliability
def test_a_digest_goes_once_across_a_killed_scheduler_and_its_standby(
    db_url, tmp_path, reliability
):
    now = utcnow()
    ended = now - timedelta(hours=1)  # today's digest time has passed
    engine = open_engine(db_url)
    pipeline = Pipeline(engine, SnapshotStore(tmp_path / "snapshots"))
    handler = Recorder()
    with receiving() as hook, smtp_server(handler) as port:
        with transaction(engine) as session:
            add_watch(
                session,
                email="team@x.test",
                notify=[Target("apprise", hook.url(), "json://127.0.0.1/h...k")],
                seal=seal,
                created_at=now - timedelta(days=3),
                nct_ids=[NCT],
                kinds=["status"],
                digest="daily",
                digest_at=f"{ended:%H:%M}",
                digest_tz="UTC",
            )
        _ingest(pipeline, None, now - timedelta(days=2))
        assert _ingest(pipeline, "COMPLETED", now - timedelta(days=1, hours=2)) == 2
        env = _env(port, tmp_path)
        here_a, here_b = tmp_path / "a", tmp_path / "b"
        lease = ("--lease-timeout", "3")
        holder = trialwatch(
            "--db", db_arg(db_url, here_a), "schedule", "run", *lease,
            cwd=here_a, name="holder", env=env,
        )  # fmt: skip
        standby = None
        try:
            wait_for("the holder", lambda: "scheduler: serving" in holder.err())
            standby = trialwatch(
                "--db", db_arg(db_url, here_b), "schedule", "run", "--wait", *lease,
                cwd=here_b, name="standby", env=env,
            )  # fmt: skip
            wait_for("the digest", lambda: len(hook.accepted) >= 1 and handler.received)
            # A change after the period ended waits for the next one.
            assert _ingest(pipeline, "TERMINATED", utcnow()) == 2
            holder.signal(signal.SIGKILL)
            holder.wait(timeout=10)
            wait_for("the takeover", lambda: "took over" in standby.err(), timeout=30)
            time.sleep(3)  # its alerts job runs every half second: six chances to repeat it
            standby.signal(signal.SIGTERM)
            assert standby.wait(timeout=60) == 0, standby.err()
        finally:
            holder.stop()
            if standby is not None:
                standby.stop()
        posts, mails, hook_url = len(hook.accepted), len(handler.received), hook.url()
    with transaction(engine) as session:
        stored = list(session.exec(AlertMessage.__table__.select()))  # type: ignore[attr-defined]
    engine.dispose()
    assert standby is not None
    assert (posts, mails) == (1, 1), (holder.err(), standby.err())
    said = holder.err() + standby.err()
    assert hook_url.split("://")[1] not in said and "Payload" not in said  # Apprise is quiet
    assert "to json://127.0.0.1/h...k" in said  # the outbox says what it sent, masked
    assert len(stored) == 2 and len({row.period for row in stored}) == 1
    assert "Traceback" not in holder.err() + standby.err()
    reliability.tried(
        "alerts",
        "a daily digest due; the serving scheduler SIGKILLed after sending it, a standby "
        "taking over",
        1,
        "one email and one webhook post for the period; the change after it waits for the next",
    )
