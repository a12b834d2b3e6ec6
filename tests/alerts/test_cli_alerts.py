"""watch / crawl / alerts / runs through the command line: a loopback server replays a
recorded record and then its changed version; a real SMTP server receives the alert."""

from __future__ import annotations

import email
import email.policy
import json

import pytest
from click.testing import CliRunner

from tests.conftest import fixture_file
from trialwatch.cli import cli
from trialwatch.demo.replay import ReplayServer

from .smtp_server import HOST, Recorder, smtp_server

NCT = "NCT03934567"


def _replay(folder, mutate=None):
    folder.mkdir()
    data = json.loads(fixture_file("ctgov_v2_NCT03934567.json").read_bytes())
    if mutate:
        mutate(data)
    (folder / "study.json").write_text(json.dumps(data))
    routes = [
        {"path": f"/api/v2/studies/{NCT}", "responses": [{"status": 200, "body": "study.json"}]}
    ]
    (folder / "routes.json").write_text(json.dumps({"routes": routes}))
    return folder


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRIALWATCH_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("TRIALWATCH_SMTP_HOST", raising=False)
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    (tmp_path / "none.toml").write_text("")

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--db", db, *args], catch_exceptions=False)

    return invoke


def _crawl(run, folder):
    with ReplayServer(folder) as server:
        result = run("crawl", "ctgov", "--nct", NCT, "--base-url", server.base_url, "--delay", "0")
    assert result.exit_code == 0, result.output
    return result


def test_watch_crawl_and_send_by_email(run, tmp_path, monkeypatch):
    added = run("watch", "add", "--email", "site@x.test", "--nct", NCT)
    assert added.exit_code == 0 and added.stdout.startswith("watch 1:")
    assert run("watch", "add", "--email", "other@x.test", "--nct", "NCT06171568").exit_code == 0
    [first, second] = json.loads(run("watch", "list", "--json").stdout)
    assert first["kinds"] == [
        "status",
        "primary_completion_date",
        "completion_date",
        "eligibility_criteria",
    ]

    def completed(data):
        data["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"

    _crawl(run, _replay(tmp_path / "r1"))
    crawled = _crawl(run, _replay(tmp_path / "r2", completed))
    assert "1 alert(s) queued" in crawled.stderr
    [pending] = json.loads(run("alerts", "list", "--pending", "--json").stdout)
    assert (pending["watch_id"], pending["kind"], pending["status"]) == (1, "status", "pending")

    unset = run("alerts", "send")
    assert unset.exit_code == 1 and "TRIALWATCH_SMTP_HOST" in unset.stderr

    handler = Recorder()
    with smtp_server(handler) as port:
        monkeypatch.setenv("TRIALWATCH_SMTP_HOST", HOST)
        monkeypatch.setenv("TRIALWATCH_SMTP_PORT", str(port))
        monkeypatch.setenv("TRIALWATCH_SMTP_FROM", "alerts@trialwatch.test")
        monkeypatch.setenv("TRIALWATCH_SMTP_SECURITY", "none")
        sent = run("alerts", "send")
        assert sent.exit_code == 0, sent.output
        assert run("alerts", "send").exit_code == 0
    assert len(handler.received) == 1
    message = email.message_from_bytes(handler.received[0]["content"], policy=email.policy.default)
    assert message["To"] == "site@x.test"
    assert message["Subject"] == f"{NCT}: Active, not recruiting → Completed"
    assert f"https://clinicaltrials.gov/study/{NCT}" in message.get_body(("plain",)).get_content()
    assert json.loads(run("alerts", "list", "--pending", "--json").stdout) == []
    [done] = json.loads(run("alerts", "list", "--json").stdout)
    assert done["status"] == "sent" and done["message_id"] == message["Message-ID"]

    assert run("watch", "remove", "1").exit_code == 0
    assert run("watch", "remove", "1").exit_code == 1
    assert [w["id"] for w in json.loads(run("watch", "list", "--json").stdout)] == [2]
    runs = json.loads(run("runs", "--json").stdout)
    assert [r["new_versions"] for r in runs] == [1, 1] and all(r["status"] == "ok" for r in runs)


def test_watch_usage_errors_and_bad_smtp_settings(run, monkeypatch, tmp_path):
    assert run("watch", "add", "--email", "a@x.test").exit_code == 2  # no target
    assert (
        run("watch", "add", "--email", "a@x.test", "--nct", NCT, "--source", "ctgov").exit_code == 2
    )
    assert run("watch", "add", "--email", "not-an-address", "--nct", NCT).exit_code == 2
    assert (
        run("watch", "add", "--email", "a@x.test", "--nct", NCT, "--kind", "nonsense").exit_code
        == 2
    )
    monkeypatch.setenv("TRIALWATCH_SMTP_HOST", HOST)
    monkeypatch.setenv("TRIALWATCH_SMTP_PORT", "not-a-port")
    monkeypatch.setenv("TRIALWATCH_SMTP_FROM", "alerts@trialwatch.test")
    monkeypatch.setenv("TRIALWATCH_SMTP_PASSWORD", "s3cret-never-shown")
    result = run("alerts", "send")
    assert result.exit_code == 1 and "TRIALWATCH_SMTP_PORT" in result.stderr
    assert "s3cret-never-shown" not in result.output and "Traceback" not in result.output


def test_smtp_settings_from_the_config_file(run, monkeypatch, tmp_path):
    handler = Recorder()
    with smtp_server(handler) as port:
        config = tmp_path / "trialwatch.toml"
        config.write_text(
            f'[smtp]\nhost = "{HOST}"\nport = {port}\nfrom = "tw@x.test"\nsecurity = "none"\n'
        )
        monkeypatch.setenv("TRIALWATCH_CONFIG", str(config))
        result = run("alerts", "send")
    assert result.exit_code == 0, result.output
    assert "0 message(s) composed, 0 sent" in result.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[smtp\n")
    monkeypatch.setenv("TRIALWATCH_CONFIG", str(broken))
    result = run("alerts", "send")
    assert result.exit_code == 1 and "broken.toml" in result.stderr
