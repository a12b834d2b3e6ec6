"""Messages the SMTP server refused for good are held with the reason, not lost: a settings
mistake holds every due message after one try and they go again once the settings change;
`alerts retry` sends held messages again; `alerts send --now` skips the backoff."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from click.testing import CliRunner

from trialwatch.cli import cli

from .senders import arrivals, change_status, messages, seed
from .smtp_server import HOST, PASSWORD, USER, Recorder, check_login, free_port, smtp_server
from .tls import make_certificate


@pytest.fixture
def cli_run(db_url, tmp_path, monkeypatch):
    """`trialwatch --db <db_url> ...` in this process; ``smtp(port, **values)`` sets the
    SMTP environment (a value of None unsets it)."""
    (tmp_path / "none.toml").write_text("")
    monkeypatch.setenv("TRIALWATCH_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    for key in ("HOST", "PORT", "USER", "PASSWORD", "FROM", "SECURITY"):
        monkeypatch.delenv(f"TRIALWATCH_SMTP_{key}", raising=False)

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--db", db_url, *args], catch_exceptions=False)

    def smtp(port: int, **values: str | None) -> None:
        base: dict[str, str | None] = {"host": HOST, "from": "tw@x.test", "security": "none"}
        for key, value in (base | {"port": str(port)} | values).items():
            name = f"TRIALWATCH_SMTP_{key.upper()}"
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)

    invoke.smtp = smtp  # type: ignore[attr-defined]
    return invoke


def problems(stderr: str) -> list[str]:
    """The lines about single messages (the rest are the run's own `alerts:` lines)."""
    return [line for line in stderr.splitlines() if line.startswith("message ")]


def statuses(db_url: str) -> list[str]:
    return [m.status for m in messages(db_url)]


@dataclass
class Refusing(Recorder):
    """Refuses some recipients for good (550), accepts the rest."""

    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, o: Any):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        return await super().handle_RCPT(server, session, envelope, address, o)


@pytest.mark.reliability
def test_a_password_over_a_plain_connection_holds_until_the_settings_change(
    cli_run, db_url, tmp_path, reliability
):
    recipients = seed(db_url, tmp_path, 3)
    handler = Recorder()
    with smtp_server(handler) as port:
        cli_run.smtp(port, user=USER, password=PASSWORD)
        first = cli_run("alerts", "send")
        assert first.exit_code == 1
        [line] = problems(first.stderr)
        assert "refusing to send the SMTP password over an unencrypted connection" in line
        assert "held: fix the SMTP settings" in line
        assert "3 held (2 untried)" in first.stderr
        assert PASSWORD not in first.output and "Traceback" not in first.output
        listed = json.loads(cli_run("alerts", "list", "--held", "--json").stdout)
        assert [d["status"] for d in listed] == ["held"] * 3
        assert all("unencrypted" in d["last_error"] for d in listed)

        same = cli_run("alerts", "send")  # nothing changed: nothing is tried
        assert same.exit_code == 1 and problems(same.stderr) == []
        assert "3 message(s) held since these SMTP settings failed" in same.stderr
        assert [m.attempts for m in messages(db_url)] == [1, 0, 0]

        cli_run.smtp(port, user=None, password=None)  # the mistake fixed
        fixed = cli_run("alerts", "send")
        assert fixed.exit_code == 0, fixed.stderr
        assert "3 held message(s) go again: the SMTP settings changed" in fixed.stderr
    assert sorted(to for to, _ in arrivals(handler)) == sorted(recipients)
    assert statuses(db_url) == ["sent"] * 3
    reliability.tried(
        "alerts",
        "security none with a password, 3 messages due",
        1,
        "no connection; all held with the reason, exit 1; sent once the settings changed",
    )


@pytest.mark.reliability
def test_a_wrong_password_is_tried_once_then_held_until_it_is_fixed(
    cli_run, db_url, tmp_path, monkeypatch, reliability
):
    recipients = seed(db_url, tmp_path, 3)
    certificate = make_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert_file))  # trust it, as a user would
    logins: list[bytes] = []

    def counting(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any):
        logins.append(auth_data.password)
        return check_login(server, session, envelope, mechanism, auth_data)

    handler = Recorder()
    options = {
        "tls_context": certificate.server_context(),
        "require_starttls": True,
        "authenticator": counting,
        "auth_require_tls": True,
        "auth_required": True,
    }
    with smtp_server(handler, **options) as port:
        cli_run.smtp(port, security="starttls", user=USER, password="not-the-password")
        first = cli_run("alerts", "send")
        assert first.exit_code == 1
        [line] = problems(first.stderr)
        assert "535" in line and "not-the-password" not in first.output
        # one connection's login (smtplib tries each mechanism the server offers)
        tried = len(logins)
        assert 1 <= tried <= 2 and statuses(db_url) == ["held"] * 3
        # a new change: its messages are held untried, the same wrong password is not tried
        assert change_status(db_url, tmp_path, "TERMINATED", hours=2) == 3
        again = cli_run("alerts", "send")
        assert again.exit_code == 1 and "3 held (3 untried)" in again.stderr
        assert "6 message(s) held since these SMTP settings failed" not in again.stderr
        assert len(logins) == tried and statuses(db_url) == ["held"] * 6

        cli_run.smtp(port, security="starttls", user=USER, password=PASSWORD)
        fixed = cli_run("alerts", "send")
        assert fixed.exit_code == 0, fixed.stderr
    assert sorted(to for to, _ in arrivals(handler)) == sorted(recipients * 2)
    assert all(got["tls"] and got["auth"] for got in handler.received)
    reliability.tried(
        "alerts",
        "a wrong SMTP password (535), 3 messages due, then 3 more on the next run",
        1,
        "one login tried in all, every message held with the reason; sent once fixed",
    )


@pytest.mark.reliability
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_5xx_from_the_server_holds_and_alerts_retry_sends_them(
    cli_run, db_url, tmp_path, reliability
):
    recipients = seed(db_url, tmp_path, 2)
    port = free_port()
    cli_run.smtp(port)
    with smtp_server(Recorder(), port=port, auth_required=True, auth_require_tls=False):
        first = cli_run("alerts", "send")  # no login: 530 at MAIL FROM
    assert first.exit_code == 1
    [line] = problems(first.stderr)
    assert "530 5.7.0 Authentication required" in line
    text = cli_run("alerts", "list", "--held").stdout.splitlines()
    assert len(text) == 2 and all("held  message" in t and "530" in t for t in text)

    handler = Recorder()
    with smtp_server(handler, port=port):  # the server fixed, the settings as they were
        same = cli_run("alerts", "send")
        assert same.exit_code == 1 and handler.received == []
        retried = cli_run("alerts", "retry", "--all")
        assert retried.exit_code == 0, retried.stderr
        assert "2 held message(s) back to pending" in retried.stderr
    assert sorted(to for to, _ in arrivals(handler)) == sorted(recipients)
    assert statuses(db_url) == ["sent", "sent"]
    reliability.tried(
        "alerts",
        "530 at MAIL FROM (login required, none set)",
        1,
        "held with the reply, exit 1; `alerts retry --all` sent each once",
    )


@pytest.mark.reliability
def test_a_refused_recipient_is_held_alone_and_retried_by_number(
    cli_run, db_url, tmp_path, reliability
):
    seed(db_url, tmp_path, 3)
    handler = Refusing(refuse={"w1@x.test"})
    with smtp_server(handler) as port:
        cli_run.smtp(port)
        first = cli_run("alerts", "send")
        assert first.exit_code == 1
        [line] = problems(first.stderr)
        assert (
            "w1@x.test" in line
            and "550 5.1.1" in line
            and "for this message or its recipient" in line
        )
        assert statuses(db_url) == ["sent", "held", "sent"]
        [held] = json.loads(cli_run("alerts", "list", "--held", "--json").stdout)
    with smtp_server(handler) as port:  # other settings do not release a recipient's hold
        cli_run.smtp(port)
        assert cli_run("alerts", "send").exit_code == 0
        assert statuses(db_url) == ["sent", "held", "sent"]
        handler.refuse.clear()
        assert cli_run("alerts", "retry", str(held["message"])).exit_code == 0
    assert sorted(to for to, _ in arrivals(handler)) == ["w0@x.test", "w1@x.test", "w2@x.test"]
    assert (held["message_id"], "w1@x.test") in {(mid, to) for to, mid in arrivals(handler)}
    reliability.tried(
        "alerts",
        "one recipient refused with 550 among 3",
        1,
        "that one held (the others sent), sent by `alerts retry N` with its Message-ID",
    )


def test_alerts_retry_names_what_it_cannot_retry(cli_run, db_url, tmp_path):
    seed(db_url, tmp_path, 1)
    assert cli_run("alerts", "retry").exit_code == 2
    assert cli_run("alerts", "retry", "--all", "1").exit_code == 2
    handler = Recorder()
    with smtp_server(handler) as port:
        cli_run.smtp(port)
        assert cli_run("alerts", "send").exit_code == 0
        result = cli_run("alerts", "retry", "1", "999")
    assert result.exit_code == 1
    assert "message 1: not held (it is sent)" in result.stderr
    assert "message 999: no such message" in result.stderr
    assert len(handler.received) == 1


@pytest.mark.reliability
def test_a_4xx_keeps_the_backoff_and_send_now_skips_it(cli_run, db_url, tmp_path, reliability):
    seed(db_url, tmp_path, 1)
    with smtp_server(Recorder(data_reply="451 4.7.1 Greylisted, try later")) as port:
        cli_run.smtp(port)
        busy = cli_run("alerts", "send")
    assert busy.exit_code == 1 and "will retry after" in busy.stderr
    [message] = messages(db_url)
    assert (message.status, message.attempts) == ("pending", 1)

    handler = Recorder()
    with smtp_server(handler) as port:
        cli_run.smtp(port)
        waiting = cli_run("alerts", "send")
        assert waiting.exit_code == 0 and handler.received == []
        assert "1 message(s) wait out their retry backoff" in waiting.stderr
        now = cli_run("alerts", "send", "--now")
        assert now.exit_code == 0, now.stderr
    assert arrivals(handler) == [("w0@x.test", message.message_id)]
    reliability.tried(
        "alerts",
        "451 greylisting, then the server back within the backoff",
        1,
        "pending, not held; `alerts send` waited, `alerts send --now` sent it once",
    )


def test_messages_failed_before_holds_existed_go_once_more(cli_run, db_url, tmp_path):
    from alembic import command
    from sqlalchemy import text

    from trialwatch.registry.db import alembic_config, open_engine

    seed(db_url, tmp_path, 1)
    port = free_port()
    cli_run.smtp(port)
    assert cli_run("alerts", "send").exit_code == 1  # server down: composed, pending
    engine = open_engine(db_url)
    cfg = alembic_config(db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
        conn.execute(text("UPDATE alert_message SET status = 'failed'"))
        command.upgrade(cfg, "head")
    engine.dispose()
    [message] = messages(db_url)
    assert (message.status, message.held_settings) == ("held", "before-0006")
    handler = Recorder()
    with smtp_server(handler, port=port):
        result = cli_run("alerts", "send")
    assert result.exit_code == 0, result.stderr
    assert "1 held message(s) go again" in result.stderr
    assert arrivals(handler) == [("w0@x.test", message.message_id)]
