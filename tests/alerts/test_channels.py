"""Watches that send to Apprise URLs: checked when added, stored sealed, never printed with
their secrets, and sent through the same outbox as email, by the `trialwatch` command itself
against real receivers on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlmodel import select

from trialwatch.cli import cli
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import Watch, WatchChannel

from .receivers import Receiver, receiving
from .senders import NCT, change_status, messages, run, seed, sender_env
from .smtp_server import Recorder, free_port, smtp_server

SLACK_TOKEN = "TIiajkdnlazkcOXrIdevi7FQ"
SLACK = f"slack://T1JJ3T3L2/A1BRTD4JD/{SLACK_TOKEN}"
SECRETS = (SLACK_TOKEN, "pa55w0rdX", "t0kenInPath42", "ntfyPa55", "topicS3cret")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The tests that run `trialwatch alerts send` in processes use a SQLite file: the outbox
    is the same code on PostgreSQL, where test_concurrent_channels runs it under contention."""
    return f"sqlite:///{tmp_path / 'trialwatch.db'}"


def invoke(db_url: str, *args: str):
    return CliRunner().invoke(cli, ["--db", db_url, *args], catch_exceptions=False)


def watches(db_url: str) -> list[Watch]:
    engine = open_engine(db_url)
    try:
        with transaction(engine) as session:
            return list(session.exec(select(Watch)))
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("foo://somewhere/x", "unknown notification scheme 'foo://'"),
        ("slack://only-one-part", "not a usable slack:// URL"),
        ("json://", "not a usable json:// URL"),
        ("no scheme at all", "not a notification URL"),
        ("json://127.0.0.1/hook\nX-Injected: 1", "line break"),
    ],
)
def test_watch_add_refuses_a_bad_url_in_one_line(db_url, url, expected):
    result = invoke(db_url, "watch", "add", "--nct", NCT, "--notify", url)
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output
    assert watches(db_url) == []


def test_watch_add_needs_somewhere_to_send(db_url):
    result = invoke(db_url, "watch", "add", "--nct", NCT)
    assert result.exit_code == 2 and "--email ADDRESS or --notify URL" in result.output


def _add_secret_watch(db_url: str, port: int) -> str:
    result = invoke(
        db_url,
        "watch",
        "add",
        "--nct",
        NCT,
        "--kind",
        "status",
        "--email",
        "me@x.test",
        "--notify",
        SLACK,
        "--notify",
        f"json://user:pa55w0rdX@127.0.0.1:{port}/hooks/t0kenInPath42",
        "--notify",
        f"ntfy://user:ntfyPa55@127.0.0.1:{port}/topicS3cret",
    )
    assert result.exit_code == 0, result.output
    return result.output


def _stored_text(db_url: str, tmp_path: Path) -> str:
    """Everything the database holds about channels and messages, as text; for SQLite the
    file's bytes (and its write-ahead log's) besides."""
    engine = open_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = [
                *conn.execute(text("SELECT * FROM watch_channel")),
                *conn.execute(text("SELECT * FROM alert_message")),
                *conn.execute(text("SELECT * FROM watch")),
            ]
    finally:
        engine.dispose()
    stored = json.dumps([list(map(str, row)) for row in rows])
    if db_url.startswith("sqlite"):
        path = Path(db_url.split("///", 1)[1])
        for part in (path, path.with_name(path.name + "-wal")):
            if part.exists():
                stored += part.read_bytes().decode("latin-1")
    return stored


def test_secrets_are_sealed_in_the_database_and_masked_in_every_output(
    db_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("TRIALWATCH_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    port = free_port()  # nothing listens: every channel fails, and says why
    outputs = [_add_secret_watch(db_url, port)]
    assert "slack://T...2/A...D/T...Q" in outputs[0]
    assert change_status(db_url, tmp_path, "COMPLETED", hours=1) == 0  # the first version
    assert change_status(db_url, tmp_path, "TERMINATED", hours=2) == 4  # 4 channels
    for args in (
        ("watch", "list"),
        ("watch", "list", "--json"),
        ("alerts", "preview", "1"),
        ("alerts", "send"),
        ("alerts", "list"),
        ("alerts", "list", "--json"),
        ("alerts", "list", "--pending"),
        ("alerts", "retry", "--all"),
    ):
        result = CliRunner().invoke(cli, ["--db", db_url, *args], catch_exceptions=False)
        assert "Traceback" not in result.output
        outputs.append(result.output + result.stderr)
    said = "\n".join(outputs)
    assert "Connection error" in said or "connection" in said.lower()
    assert "json://user:****@127.0.0.1" in said
    for secret in SECRETS:
        assert secret not in said, secret
    stored = _stored_text(db_url, tmp_path)
    assert "slack://T...2/A...D/T...Q" in stored  # the masked form is there to show
    for secret in SECRETS:
        assert secret not in stored, secret


def _one_webhook_watch(db_url: str, receiver: Receiver, tmp_path: Path) -> None:
    result = invoke(
        db_url,
        "watch",
        "add",
        "--nct",
        NCT,
        "--kind",
        "status",
        "--notify",
        receiver.url(),
    )
    assert result.exit_code == 0, result.output
    change_status(db_url, tmp_path, "RECRUITING", hours=0)
    assert change_status(db_url, tmp_path, "COMPLETED", hours=1) == 1


def test_a_webhook_answering_500_then_200_gets_the_message_once(sqlite_url, tmp_path):
    with receiving(Receiver(statuses=[500])) as receiver:
        _one_webhook_watch(sqlite_url, receiver, tmp_path)
        env = sender_env(tmp_path, free_port())
        first = run(sqlite_url, env, "alerts", "send")
        assert first.returncode == 1 and "Traceback" not in first.stderr
        assert "error=500" in first.stderr and "will retry after" in first.stderr
        listed = run(sqlite_url, env, "alerts", "list", "--pending")
        assert "pending" in listed.stdout and "error=500" in listed.stdout
        waiting = run(sqlite_url, env, "alerts", "send")  # within the backoff: not tried
        assert len(receiver.received) == 1 and "wait out their retry backoff" in waiting.stderr
        second = run(sqlite_url, env, "alerts", "send", "--now")
        assert second.returncode == 0, second.stderr
        third = run(sqlite_url, env, "alerts", "send", "--now")
        assert third.returncode == 0
    assert [r.status for r in receiver.received] == [500, 200]
    ids = {r.headers.get("X-Trialwatch-Message-Id") for r in receiver.received}
    [message] = [m for m in messages(sqlite_url)]
    assert ids == {message.message_id} and message.status == "sent"
    body = receiver.accepted[0].json()
    assert NCT in body["title"] and "Completed" in body["title"]
    assert "[major]" in body["message"] and message.message_id in body["message"]


def test_a_channel_that_refuses_is_held_alone_and_retried_by_hand(sqlite_url, tmp_path):
    with (
        receiving(Receiver(statuses=[404])) as hook,
        receiving(Receiver(ntfy=True)) as ntfy,
        smtp_server(Recorder()) as smtp_port,
    ):
        result = invoke(
            sqlite_url,
            "watch",
            "add",
            "--nct",
            NCT,
            "--kind",
            "status",
            "--email",
            "me@x.test",
            "--notify",
            hook.url(),
            "--notify",
            ntfy.url("ntfy", "/trials"),
        )
        assert result.exit_code == 0, result.output
        change_status(sqlite_url, tmp_path, "RECRUITING", hours=0)
        assert change_status(sqlite_url, tmp_path, "COMPLETED", hours=1) == 3
        env = sender_env(tmp_path, smtp_port)
        first = run(sqlite_url, env, "alerts", "send")
        assert first.returncode == 1 and "error=404" in first.stderr
        held = run(sqlite_url, env, "alerts", "list", "--held").stdout.splitlines()
        assert len(held) == 1 and "json://127.0.0.1" in held[0] and "error=404" in held[0]
        [topic] = [r.json()["topic"] for r in ntfy.accepted]
        assert topic == "trials" and len(ntfy.accepted) == 1
        number = held[0].split("message ")[1].split(":")[0]
        again = run(sqlite_url, env, "alerts", "retry", number)
        assert again.returncode == 0, again.stderr
        assert run(sqlite_url, env, "alerts", "send", "--now").returncode == 0
    assert [r.status for r in hook.received] == [404, 200]
    assert len(ntfy.accepted) == 1
    assert {m.status for m in messages(sqlite_url)} == {"sent"}


def test_a_channel_that_times_out_is_retried_with_the_reason(sqlite_url, tmp_path):
    with receiving(Receiver(hang=3.0)) as receiver:
        slow = receiver.url(path="/hook?cto=1&rto=1")
        assert invoke(sqlite_url, "watch", "add", "--nct", NCT, "--notify", slow).exit_code == 0
        change_status(sqlite_url, tmp_path, "RECRUITING", hours=0)
        change_status(sqlite_url, tmp_path, "COMPLETED", hours=1)
        first = run(sqlite_url, sender_env(tmp_path, free_port()), "alerts", "send")
    assert first.returncode == 1 and "will retry after" in first.stderr
    [message] = messages(sqlite_url)
    assert message.status == "pending" and message.attempts == 1
    assert (
        "timed out" in (message.last_error or "").lower()
        or "timeout" in (message.last_error or "").lower()
    ), message.last_error


def test_without_smtp_the_url_channels_still_go(sqlite_url, tmp_path):
    with receiving() as receiver:
        added = invoke(
            sqlite_url, "watch", "add", "--nct", NCT,
            "--email", "a@x.test", "--notify", receiver.url(),
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        seed_changes = change_status(sqlite_url, tmp_path, "RECRUITING", hours=0)
        assert seed_changes == 0
        assert change_status(sqlite_url, tmp_path, "COMPLETED", hours=1) == 2
        env = {k: v for k, v in sender_env(tmp_path, 1).items() if "SMTP" not in k}
        result = run(sqlite_url, env, "alerts", "send")
    assert result.returncode == 1
    assert "1 email message(s) stay in the outbox: no SMTP server set" in result.stderr
    assert len(receiver.accepted) == 1
    statuses = {m.recipient: m.status for m in messages(sqlite_url)}
    assert statuses["a@x.test"] == "pending"


def test_an_existing_email_watch_is_one_email_channel(db_url, tmp_path):
    seed(db_url, tmp_path, 2)
    engine = open_engine(db_url)
    try:
        with transaction(engine) as session:
            channels = list(session.exec(select(WatchChannel)))
    finally:
        engine.dispose()
    assert [(c.kind, c.target, c.sealed) for c in channels] == [
        ("email", "w0@x.test", None),
        ("email", "w1@x.test", None),
    ]


def test_alerts_preview_shows_each_channel_its_message_and_claims_nothing(db_url, tmp_path):
    hostile = "<!channel> @everyone *Trial* <script>x</script> & more"
    added = invoke(
        db_url, "watch", "add", "--nct", NCT, "--kind", "status", "--email", "me@x.test",
        "--notify", SLACK, "--notify", "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    digest = invoke(
        db_url, "watch", "add", "--nct", NCT, "--kind", "status", "--email", "d@x.test",
        "--digest", "weekly", "--day", "fri", "--at", "18:30", "--tz", "America/New_York",
    )  # fmt: skip
    assert "weekly on friday at 18:30 America/New_York" in digest.output
    assert invoke(db_url, "alerts", "preview", "1").output.count("nothing to send") == 3
    change_status(db_url, tmp_path, "RECRUITING", hours=0, title=hostile)
    assert change_status(db_url, tmp_path, "COMPLETED", hours=1, title=hostile) == 4
    shown = invoke(db_url, "alerts", "preview", "1")
    assert shown.exit_code == 0, shown.output
    sections = shown.output.split("--- channel ")[1:]
    assert [s.split("\n")[0].split(":")[0:2] for s in sections] == [
        ["1", " email me@x.test"],
        ["2", " apprise slack"],
        ["3", " apprise discord"],
    ]
    email, slack, discord = sections
    assert "at once" in email and hostile in email  # the email's text part, as it is
    assert "<!channel>" in slack  # Apprise escapes it for Slack as it sends (test_channel_text)
    assert "@\u200beveryone" in discord and "@everyone" not in discord
    for section in (slack, discord):
        assert "id: " in section and "Completed" in section
    later = invoke(db_url, "alerts", "preview", "2").output
    assert "weekly digest" in later and "NCT03934567" in later
    assert messages(db_url) == []  # nothing composed, claimed or sent
    missing = invoke(db_url, "alerts", "preview", "99")
    assert missing.exit_code == 1 and "watch 99: no such watch" in missing.output


def test_without_the_key_a_channel_is_held_with_the_reason_and_goes_once_it_is_back(
    sqlite_url, tmp_path, monkeypatch
):
    with receiving() as receiver:
        _one_webhook_watch(sqlite_url, receiver, tmp_path)
        env = sender_env(tmp_path, free_port())
        elsewhere = dict(env, TRIALWATCH_SECRET_KEY_FILE=str(tmp_path / "no-such.key"))
        first = run(sqlite_url, elsewhere, "alerts", "send")
        assert first.returncode == 1 and "Traceback" not in first.stderr
        assert "no-such.key: the key that seals channel URLs is missing" in first.stderr
        held = run(sqlite_url, env, "alerts", "list", "--held").stdout
        assert "held" in held and "key that seals channel URLs is missing" in held
        assert receiver.received == []
        again = run(sqlite_url, env, "alerts", "retry", "--all")
        assert again.returncode == 0, again.stderr
    assert len(receiver.accepted) == 1


def test_a_key_that_cannot_be_written_is_one_line_and_no_watch(db_url, tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("TRIALWATCH_SECRET_KEY_FILE", str(blocked / "secret.key"))
    result = invoke(db_url, "watch", "add", "--nct", NCT, "--notify", "json://127.0.0.1/x")
    assert result.exit_code == 1 and "Traceback" not in result.output
    [line] = [x for x in result.output.splitlines() if x.strip()]
    assert "cannot write the key that seals channel URLs" in line
    assert watches(db_url) == []


@pytest.mark.reliability
def test_a_sender_killed_while_a_webhook_holds_its_post_is_taken_over_with_the_same_id(
    sqlite_url, tmp_path, reliability
):
    import signal
    import threading

    from .senders import trialwatch

    release = threading.Event()
    with receiving(Receiver(release=release)) as receiver:
        _one_webhook_watch(sqlite_url, receiver, tmp_path)
        env = sender_env(tmp_path, free_port())
        first = trialwatch(sqlite_url, env, "alerts", "send")
        assert receiver.arrived.wait(timeout=60), "the post never came"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        release.set()
        [claimed] = messages(sqlite_url)
        assert claimed.status == "sending"  # claimed by the dead sender, never settled
        again = run(sqlite_url, env, "alerts", "send")
        assert again.returncode == 0, again.stderr
    ids = [r.headers["X-Trialwatch-Message-Id"] for r in receiver.received]
    [message] = messages(sqlite_url)
    assert ids == [message.message_id] * 2 and message.status == "sent"
    reliability.tried(
        "alerts",
        "`alerts send` SIGKILLed while a JSON webhook held its post",
        1,
        "the next run took the dead claim over and posted again with the same "
        "X-Trialwatch-Message-Id (the receiver can drop the copy)",
    )
