"""Claims on messages: one sender wins; a sender SIGKILLed after claiming leaves a claim the
next run takes over, sending with the same Message-ID; a live sender's claim is left alone
until it times out."""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import update

from trialwatch.alerts import claims
from trialwatch.alerts.claims import CLAIM_TIMEOUT, Claimant
from trialwatch.alerts.outbox import compose, send_pending
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import AlertMessage

from .senders import (
    T0,
    Holding,
    arrivals,
    messages,
    parsed,
    run,
    seed,
    sender_env,
    trialwatch,
    writes_blocked,
)
from .smtp_server import Recorder, plain_settings, smtp_server


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def composed(db_url, tmp_path):
    """One watch, its message composed and pending."""
    seed(db_url, tmp_path, 1)
    engine = open_engine(db_url)
    with transaction(engine) as session:
        [message] = compose(session, now=T0, domain="trialwatch.test")
    yield engine, message
    engine.dispose()


def test_only_one_claimant_wins_and_a_taken_over_claim_settles_nothing(composed):
    engine, message = composed
    first, second = Claimant.here(), Claimant.here()
    assert first.token != second.token
    mine = claims.claim(engine, message.id, first, T0, due_by=T0)
    assert mine is not None and mine.status == "sending" and mine.claimed_by == first.token
    assert claims.claim(engine, message.id, second, T0, due_by=T0) is None
    assert claims.claim(engine, message.id, second, T0, due_by=None) is None
    # the first claim goes stale; the second sender takes it over, the first can no longer settle
    later = T0 + CLAIM_TIMEOUT
    assert claims.claim(engine, message.id, second, later, due_by=None, stale_claim=first.token)
    assert claims.settle(engine, mine, first, status="sent") is False
    assert claims.settle(engine, mine, second, status="sent") is True


def _claim_as(engine, message, token: str) -> None:
    with transaction(engine) as session:
        session.connection().execute(
            update(AlertMessage)
            .where(AlertMessage.id == message.id)
            .values(status="sending", claimed_by=token, claimed_at=T0)
        )


@pytest.mark.reliability
@pytest.mark.parametrize("where", ["another machine", "a live process here"])
def test_a_live_or_remote_claim_is_taken_over_only_once_it_times_out(composed, where, reliability):
    engine, message = composed
    here = Claimant.here()
    token = "0123456789abcdef:4242:1:elsewhere" if where == "another machine" else here.token
    _claim_as(engine, message, token)
    handler, clock = Recorder(), Clock()
    with smtp_server(handler) as port:
        clock.now = T0 + CLAIM_TIMEOUT - timedelta(seconds=1)
        assert send_pending(engine, plain_settings(port), now=clock).sent == 0
        clock.now = T0 + CLAIM_TIMEOUT
        assert send_pending(engine, plain_settings(port), now=clock).sent == 1
    assert arrivals(handler) == [(message.recipient, message.message_id)]
    reliability.tried(
        "alerts",
        f"a message claimed by {where}, then never settled",
        1,
        "left alone until the claim timed out, then sent once with its Message-ID",
    )


def test_a_claim_naming_a_dead_process_here_is_taken_over_at_once(composed):
    engine, message = composed
    here = Claimant.here()
    dead = replace(here, pid=2**22 + 17, started="1")  # no such process
    _claim_as(engine, message, dead.token)
    handler = Recorder()
    with smtp_server(handler) as port:
        assert send_pending(engine, plain_settings(port), now=Clock()).sent == 1
    assert arrivals(handler) == [(message.recipient, message.message_id)]


@pytest.mark.reliability
def test_a_sender_killed_before_the_server_answered_is_resumed_by_the_next_run(
    db_url, tmp_path, reliability
):
    recipients = seed(db_url, tmp_path, 3)
    holding = Holding()
    with smtp_server(holding) as port:
        proc = trialwatch(db_url, sender_env(tmp_path, port), "alerts", "send")
        try:
            assert holding.arrived.wait(60), "the first message never reached the server"
            [claimed] = [m for m in messages(db_url) if m.status == "sending"]
            assert claimed.claimed_by and f":{proc.pid}:" in claimed.claimed_by
        finally:
            proc.kill()
            proc.wait(30)
            holding.release.set()
    assert holding.received == []  # nothing was accepted
    assert parsed(holding.seen[0])["Message-ID"] == claimed.message_id

    handler = Recorder()
    with smtp_server(handler) as port:
        again = run(db_url, sender_env(tmp_path, port), "alerts", "send")
    assert again.returncode == 0, again.stderr
    got = arrivals(handler)
    assert sorted(to for to, _ in got) == sorted(recipients)
    assert (claimed.recipient, claimed.message_id) in got
    assert {m.status for m in messages(db_url)} == {"sent"}
    reliability.tried(
        "alerts",
        "`alerts send` SIGKILLed after claiming, while the server held its DATA",
        1,
        "the next run took the dead claim over: each message once, the same Message-ID",
    )


@pytest.mark.reliability
def test_a_sender_killed_after_the_server_accepted_resends_with_the_same_message_id(
    db_url, tmp_path, reliability
):
    seed(db_url, tmp_path, 1)
    blocked = ExitStack()
    holding = Holding(hold_first=False)
    # the server accepts, and from then on the sender cannot mark the message sent
    holding.before_accept = lambda: blocked.enter_context(writes_blocked(db_url))
    with smtp_server(holding) as port:
        proc = trialwatch(db_url, sender_env(tmp_path, port), "alerts", "send")
        try:
            assert holding.arrived.wait(60), "the message never reached the server"
            time.sleep(0.5)  # the sender now waits on its write
        finally:
            proc.kill()
            proc.wait(30)
            blocked.close()
    [accepted] = arrivals(holding)
    [message] = messages(db_url)
    assert message.status == "sending" and accepted[1] == message.message_id

    handler = Recorder()
    with smtp_server(handler) as port:
        again = run(db_url, sender_env(tmp_path, port), "alerts", "send")
    assert again.returncode == 0, again.stderr
    assert arrivals(handler) == [accepted]  # again, as the same message
    [message] = messages(db_url)
    assert message.status == "sent"
    reliability.tried(
        "alerts",
        "`alerts send` SIGKILLed after the server accepted, before it marked the message sent",
        1,
        "the next run sent it again with the same Message-ID (receivers can drop the copy)",
    )
