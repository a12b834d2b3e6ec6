"""The SMTP transport against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
from dataclasses import replace
from email.message import EmailMessage
from typing import Any

import pytest

from trialwatch.alerts import smtp
from trialwatch.alerts.render import AlertItem, render_message
from trialwatch.alerts.smtp import SendError, SmtpSettings, build_email, send_email

from .smtp_server import (
    HOST,
    MESSAGE_ID,
    PASSWORD,
    USER,
    Recorder,
    check_login,
    free_port,
    smtp_server,
)
from .tls import Certificate, make_certificate


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made here (no files from elsewhere)."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


def settings(port: int, **changes: Any) -> SmtpSettings:
    base = SmtpSettings(
        host=HOST,
        port=port,
        user=None,
        password=None,
        sender="trialwatch@example.org",
        security="auto",
        timeout=5.0,
    )
    return replace(base, **changes)


def alert_message(config: SmtpSettings, criterion: str = "Age over 18 years") -> EmailMessage:
    item = AlertItem(
        nct_id="NCT03934567",
        title="A Study of Tazemetostat\r\nBcc: victim@example.org",
        kind="eligibility_criteria",
        before={"inclusion": [criterion], "exclusion": []},
        after={"inclusion": ["Age over 21 years"], "exclusion": []},
        detail={
            "inclusion": {
                "added": [],
                "removed": [],
                "changed": [[criterion, "Age over 21 years"]],
            },
            "exclusion": {"added": [], "removed": [], "changed": []},
        },
        source="ctgov",
        observed_at=dt.datetime(2026, 11, 22, 4, 6, 50, tzinfo=dt.UTC),
    )
    rendered = render_message([item], recipient="ann@example.org", watch_label="watch 7")
    return build_email(
        config,
        to="ann@example.org",
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=MESSAGE_ID,
    )


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_message_arrives_as_text_and_html_with_the_given_message_id() -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        config = settings(port)
        send_email(config, alert_message(config))
    [got] = handler.received
    assert got["rcpt_tos"] == ["ann@example.org"]
    message = parse(got["content"])
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == MESSAGE_ID
    assert message["From"] == "trialwatch@example.org"
    assert message["Date"] is not None
    assert message["Bcc"] is None
    subject = message["Subject"]
    assert subject == "NCT03934567: eligibility criteria changed"
    assert "\n" not in subject and "\r" not in subject
    text = message.get_body(("plain",)).get_content()
    assert "~ inclusion: Age over 18 years \u2192 Age over 21 years" in text


def test_scraped_markup_arrives_escaped_in_the_html_part() -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        config = settings(port)
        send_email(config, alert_message(config, "<script>alert(1)</script> and <b>bold</b>"))
    message = parse(handler.received[0]["content"])
    html = message.get_body(("html",)).get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<script" not in html and "<b>" not in html
    text = message.get_body(("plain",)).get_content()
    assert "<script>alert(1)</script>" in text  # plain text shows it as it was written


def test_password_never_goes_over_a_plain_connection() -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        for mode in ("auto", "none"):
            config = settings(port, security=mode, user=USER, password=PASSWORD)
            with pytest.raises(SendError) as caught:
                send_email(config, alert_message(config))
            assert caught.value.temporary is False
            assert "refusing to send the SMTP password" in str(caught.value)
            assert PASSWORD not in str(caught.value) and PASSWORD not in repr(caught.value)
    assert handler.received == []


def test_starttls_required_but_not_offered_is_a_setting_error() -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        config = settings(port, security="starttls")
        with pytest.raises(SendError, match="does not offer STARTTLS") as caught:
            send_email(config, alert_message(config))
    assert caught.value.temporary is False
    assert handler.received == []


def test_auto_without_credentials_sends_on_a_plain_server() -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        config = settings(port, security="auto")
        send_email(config, alert_message(config))
    assert handler.received[0]["tls"] is False


@pytest.mark.parametrize("mode", ["starttls", "auto"])
def test_starttls_with_a_self_signed_certificate_and_login(
    certificate: Certificate, mode: str
) -> None:
    handler = Recorder()
    options = {
        "tls_context": certificate.server_context(),
        "require_starttls": True,
        "authenticator": check_login,
        "auth_require_tls": True,
        "auth_required": True,
    }
    with smtp_server(handler, **options) as port:
        config = settings(port, security=mode, user=USER, password=PASSWORD)
        send_email(config, alert_message(config), ssl_context=certificate.client_context())
        wrong = replace(config, password="not-the-password")
        with pytest.raises(SendError) as caught:
            send_email(wrong, alert_message(wrong), ssl_context=certificate.client_context())
    [got] = handler.received
    assert got["tls"] is True and got["auth"] is True
    assert caught.value.temporary is False  # 535: wrong credentials need a person
    assert "535" in str(caught.value) and "not-the-password" not in str(caught.value)


def test_certificates_are_verified_by_default(certificate: Certificate) -> None:
    handler = Recorder()
    with smtp_server(handler, tls_context=certificate.server_context()) as port:
        config = settings(port, security="starttls")
        with pytest.raises(SendError, match="certificate") as caught:
            send_email(config, alert_message(config))
    assert caught.value.temporary is False
    assert handler.received == []


def test_implicit_tls_with_login(certificate: Certificate) -> None:
    handler = Recorder()
    # Implicit TLS: aiosmtpd only counts STARTTLS for auth_require_tls, so leave it off.
    options = {"authenticator": check_login, "auth_require_tls": False}
    with smtp_server(handler, ssl_context=certificate.server_context(), **options) as port:
        config = settings(port, security="tls", user=USER, password=PASSWORD)
        send_email(config, alert_message(config), ssl_context=certificate.client_context())
    assert handler.received[0]["auth"] is True


def test_server_down_is_temporary() -> None:
    config = settings(free_port())
    with pytest.raises(SendError) as caught:
        send_email(config, alert_message(config))
    assert caught.value.temporary is True


def test_server_that_never_greets_times_out_as_temporary() -> None:
    with socket.socket() as silent:
        silent.bind((HOST, 0))
        silent.listen()  # the kernel accepts the connection; nobody ever answers
        config = settings(silent.getsockname()[1], timeout=0.5)
        with pytest.raises(SendError) as caught:
            send_email(config, alert_message(config))
    assert caught.value.temporary is True


@pytest.mark.parametrize(
    ("where", "reply", "temporary"),
    [
        ("rcpt", "451 4.3.0 Mailbox busy, try again later", True),
        ("rcpt", "550 5.1.1 No such user", False),
        ("data", "451 4.7.1 Greylisted, try again later", True),
        ("data", "550 5.7.1 Message rejected", False),
    ],
)
def test_reply_codes_decide_whether_to_retry(where: str, reply: str, temporary: bool) -> None:
    handler = Recorder(**{f"{where}_reply": reply})
    with smtp_server(handler) as port:
        config = settings(port)
        with pytest.raises(SendError) as caught:
            send_email(config, alert_message(config))
    assert caught.value.temporary is temporary
    assert reply.split()[0] in str(caught.value)
    assert handler.received == []


def test_settings_from_environment_over_config() -> None:
    config = {"host": "mail.internal", "port": 2525, "from": "cfg@example.org", "security": "tls"}
    environ = {
        "TRIALWATCH_SMTP_HOST": "smtp.example.org",
        "TRIALWATCH_SMTP_FROM": "alerts@example.org",
        "TRIALWATCH_SMTP_USER": USER,
        "TRIALWATCH_SMTP_PASSWORD": PASSWORD,
        "TRIALWATCH_SMTP_PORT": "",  # set but empty: the config's value stands
    }
    loaded = SmtpSettings.load(environ, config)
    assert (loaded.host, loaded.port, loaded.sender) == (
        "smtp.example.org",
        2525,
        "alerts@example.org",
    )
    assert (loaded.security, loaded.user, loaded.password) == ("tls", USER, PASSWORD)
    assert PASSWORD not in repr(loaded) and PASSWORD not in str(loaded)


@pytest.mark.parametrize(
    ("security", "port"), [(None, 587), ("STARTTLS", 587), ("tls", 465), ("none", 25)]
)
def test_default_ports(security: str | None, port: int) -> None:
    environ = {"TRIALWATCH_SMTP_HOST": "h", "TRIALWATCH_SMTP_FROM": "a@example.org"}
    if security:
        environ["TRIALWATCH_SMTP_SECURITY"] = security
    loaded = SmtpSettings.load(environ)
    assert loaded.port == port and loaded.security == (security or "auto").lower()


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"TRIALWATCH_SMTP_FROM": "a@example.org"}, "TRIALWATCH_SMTP_HOST"),
        ({"TRIALWATCH_SMTP_HOST": "h"}, "TRIALWATCH_SMTP_FROM"),
        ({"TRIALWATCH_SMTP_PORT": "smtp"}, "TRIALWATCH_SMTP_PORT"),
        ({"TRIALWATCH_SMTP_SECURITY": "ssl3"}, "TRIALWATCH_SMTP_SECURITY"),
        ({"TRIALWATCH_SMTP_USER": "u"}, "TRIALWATCH_SMTP_PASSWORD"),
    ],
)
def test_bad_settings_name_the_variable(environ: dict[str, str], named: str) -> None:
    full = {"TRIALWATCH_SMTP_HOST": "h", "TRIALWATCH_SMTP_FROM": "a@example.org", **environ}
    if named in ("TRIALWATCH_SMTP_HOST", "TRIALWATCH_SMTP_FROM"):
        full.pop(named)
    with pytest.raises(smtp.SmtpConfigError, match=named) as caught:
        SmtpSettings.load(full, {})
    assert isinstance(caught.value, ValueError) and "\n" not in str(caught.value)


def test_unset_host_at_send_time_is_a_permanent_error() -> None:
    config = settings(25, host="")
    with pytest.raises(SendError, match="TRIALWATCH_SMTP_HOST") as caught:
        send_email(config, alert_message(settings(25)))
    assert caught.value.temporary is False


def test_header_injection_and_bad_message_ids_are_stopped() -> None:
    config = settings(25)
    message = build_email(
        config,
        to="ann@example.org",
        subject="NCT03934567: x\r\nBcc: victim@example.org",
        text="t",
        html="<p>t</p>",
        message_id=MESSAGE_ID,
    )
    assert message["Bcc"] is None and "\n" not in message["Subject"]
    with pytest.raises(ValueError, match="Message-ID"):
        build_email(
            config,
            to="a@example.org",
            subject="s",
            text="t",
            html="h",
            message_id="<a@b>\r\nBcc: victim@example.org",
        )
