"""`watch add` takes exactly one addressable mailbox and a source a change can come from;
anything else is refused with one line naming it, and no watch is written."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from trialwatch.alerts.watches import add_watch, check_email, check_source
from trialwatch.cli import cli
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import utcnow

NCT = "NCT03934567"
NOT_ONE_MAILBOX = [
    "@",
    "a@b@c",
    "a@",
    "@x.test",
    "not-an-address",
    "Alice <alice@x.test>",
    '"alice@x.test" <mallory@evil.test>',
    "alice@x.test <mallory@evil.test>",
    "alice@x.test, mallory@evil.test",
    "alice@x.test;mallory@evil.test",
    "alice@x.test\r\nBcc: mallory@evil.test",
    "alice@x.test\nmallory@evil.test",
    "(boss)alice@x.test",
    "alice@x.test (boss)",
    "alice..b@x.test",
    "alice@x..test",
    "alice@-x.test",
    "alice@x_y.test",
    "alice@[127.0.0.1]",
    "älice@x.test",
    "a" * 65 + "@x.test",
    "alice@" + "x" * 250 + ".test",
]


@pytest.fixture
def run(tmp_path):
    db = f"sqlite:///{tmp_path / 'tw.db'}"

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--db", db, *args], catch_exceptions=False)

    return invoke


@pytest.mark.reliability
@pytest.mark.parametrize("address", NOT_ONE_MAILBOX)
def test_watch_add_refuses_anything_but_one_mailbox(run, address, reliability):
    result = run("watch", "add", "--email", address, "--nct", NCT)
    assert result.exit_code == 2
    [error] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert "--email" in error and "email address" in error
    assert "Traceback" not in result.output
    assert json.loads(run("watch", "list", "--json").stdout) == []
    with pytest.raises(ValueError):
        check_email(address)
    reliability.tried(
        "input",
        "`watch add --email` with a malformed or smuggled address",
        1,
        "refused with one line, no watch written",
    )


@pytest.mark.parametrize(
    ("address", "stored"),
    [
        ("alice@x.test", "alice@x.test"),
        (" Alice.B+trials@Example.ORG ", "Alice.B+trials@Example.ORG"),
        ("root@localhost", "root@localhost"),
        ("ana@bücher.example", "ana@xn--bcher-kva.example"),
    ],
)
def test_watch_add_takes_one_mailbox(run, address, stored):
    result = run("watch", "add", "--email", address, "--nct", NCT)
    assert result.exit_code == 0, result.output
    [watch] = json.loads(run("watch", "list", "--json").stdout)
    assert watch["email"] == stored


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("nonsense", "unknown source 'nonsense'"),
        ("ctgov_classic", "payload format of the registry"),
        ("ctgov_history", "payload format of the registry"),
        ("../../etc/passwd", "unknown source"),
        ("", "unknown source"),
    ],
)
def test_watch_add_refuses_unknown_sources(run, given, why):
    result = run("watch", "add", "--email", "a@x.test", "--source", given)
    assert result.exit_code == 2
    [error] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert "--source" in error and why in error
    assert json.loads(run("watch", "list", "--json").stdout) == []


@pytest.mark.parametrize(
    "slug", ["ctgov", "veeva", "centerwatch", "clinicaltrialexchange", "trialpage", "Veeva"]
)
def test_watch_add_takes_known_sources(run, slug):
    result = run("watch", "add", "--email", "a@x.test", "--source", slug)
    assert result.exit_code == 0, result.output
    [watch] = json.loads(run("watch", "list", "--json").stdout)
    assert watch["source"] == slug.lower() == check_source(slug)


def test_add_watch_checks_what_library_callers_give(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'tw.db'}")
    try:
        with pytest.raises(ValueError, match="not one email address"):
            with transaction(engine) as session:
                add_watch(session, email="a@b@c", created_at=utcnow(), nct_ids=[NCT])
        with pytest.raises(ValueError, match="unknown source"):
            with transaction(engine) as session:
                add_watch(session, email="a@x.test", created_at=utcnow(), source="rss")
    finally:
        engine.dispose()
