"""Whose fault a refusal is: the settings (every message would fail the same way, so the
sender stops and holds them) or this message and its recipient. Against a real server."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from trialwatch.alerts.smtp import SendError, SmtpSettings, build_email, send_email

from .smtp_server import HOST, PASSWORD, USER, Recorder, check_login, smtp_server
from .tls import make_certificate


def settings(port: int, **changes: Any) -> SmtpSettings:
    base = SmtpSettings(HOST, port, None, None, "tw@example.org", "none", timeout=5.0)
    return replace(base, **changes)


def attempt(config: SmtpSettings, **kw: Any) -> SendError:
    message = build_email(
        config, to="ann@example.org", subject="s", text="t", html="<p>t</p>", message_id="<a@b>"
    )
    with pytest.raises(SendError) as caught:
        send_email(config, message, **kw)
    return caught.value


@pytest.mark.parametrize(
    ("where", "reply", "is_settings"),
    [
        ("rcpt", "550 5.1.1 No such user", False),
        ("rcpt", "554 5.7.1 Relay access denied", True),
        ("data", "550 5.6.0 Message content rejected", False),
    ],
)
def test_replies_say_whose_fault(where: str, reply: str, is_settings: bool) -> None:
    with smtp_server(Recorder(**{f"{where}_reply": reply})) as port:
        error = attempt(settings(port))
    assert (error.temporary, error.settings) == (False, is_settings)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_required_but_not_set_is_the_settings() -> None:
    with smtp_server(Recorder(), auth_required=True, auth_require_tls=False) as port:
        error = attempt(settings(port))
    assert (error.temporary, error.settings) == (False, True) and "530" in str(error)


def test_tls_against_a_plain_port_is_the_settings() -> None:
    with smtp_server(Recorder()) as port:
        error = attempt(settings(port, security="tls"))
    assert (error.temporary, error.settings) == (False, True)


def test_wrong_password_and_untrusted_certificate_are_the_settings(tmp_path) -> None:
    certificate = make_certificate(tmp_path)
    options = {"tls_context": certificate.server_context(), "authenticator": check_login}
    with smtp_server(Recorder(), require_starttls=True, auth_require_tls=True, **options) as port:
        wrong = settings(port, security="starttls", user=USER, password="wrong")
        refused = attempt(wrong, ssl_context=certificate.client_context())
        untrusted = attempt(settings(port, security="starttls"))
    assert (refused.temporary, refused.settings) == (False, True) and "535" in str(refused)
    assert (untrusted.temporary, untrusted.settings) == (False, True)


def test_the_fingerprint_changes_with_any_setting_and_hides_the_password() -> None:
    config = settings(25, user=USER, password=PASSWORD, security="tls")
    first = config.fingerprint()
    salt = first.partition("$")[0]
    assert config.fingerprint(salt) == first and config.fingerprint() != first  # salted
    for change in ({"password": "other"}, {"user": "u2"}, {"host": "h2"}, {"port": 26}):
        assert replace(config, **change).fingerprint(salt) != first
    assert PASSWORD not in first and USER not in first
