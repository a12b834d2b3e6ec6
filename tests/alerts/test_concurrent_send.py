"""Many senders at once, on one database: real `trialwatch alerts send` processes released at
the same instant, with senders in threads of this process beside them (as a scheduler runs
its jobs), over 300 watches with pending deliveries. Counted at a real SMTP server."""

from __future__ import annotations

import re
import threading
import time

import pytest

from trialwatch.alerts.outbox import send_pending
from trialwatch.registry.db import open_engine
from trialwatch.registry.models import utcnow

from .senders import Slow, arrivals, duplicates, messages, seed, sender_env, trialwatch, unassigned
from .smtp_server import plain_settings, smtp_server

WATCHES = 300
PROCESSES = 4
THREADS = 2


@pytest.mark.reliability
def test_concurrent_senders_send_each_message_once(db_url, tmp_path, reliability):
    recipients = seed(db_url, tmp_path, WATCHES)
    handler = Slow(delay=0.005)
    with smtp_server(handler) as port:
        env = sender_env(tmp_path, port)
        procs = [trialwatch(db_url, env, "alerts", "send", gated=True) for _ in range(PROCESSES)]
        engine = open_engine(db_url)
        tallies = []

        def in_process() -> None:
            tallies.append(send_pending(engine, plain_settings(port), now=utcnow))

        threads = [threading.Thread(target=in_process) for _ in range(THREADS)]
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        started = time.monotonic()
        for proc in procs:  # every process has imported everything: go
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for thread in threads:
            thread.start()
        outputs = [proc.communicate(timeout=300) for proc in procs]
        for thread in threads:
            thread.join(timeout=300)
        elapsed = time.monotonic() - started
        engine.dispose()

    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    got = arrivals(handler)
    assert duplicates([to for to, _ in got]) == {}
    assert sorted(to for to, _ in got) == sorted(recipients)
    assert duplicates([mid for _, mid in got]) == {}
    stored = messages(db_url)
    assert len(stored) == WATCHES and {m.status for m in stored} == {"sent"}
    assert {m.message_id for m in stored} == {mid for _, mid in got}
    assert unassigned(db_url) == 0
    # the senders really overlapped (on SQLite composing may fall to one writer at a time)
    summaries = [re.search(r"(\d+) message\(s\) composed, (\d+) sent", e) for _, e in outputs]
    composed = [int(s.group(1)) for s in summaries if s] + [t.composed for t in tallies]
    sent = [int(s.group(2)) for s in summaries if s] + [t.sent for t in tallies]
    assert sum(composed) == WATCHES and sum(sent) == WATCHES
    senders = {m.claimed_by for m in stored}
    assert len(senders) >= 2
    reliability.tried(
        "alerts",
        f"{PROCESSES} `alerts send` processes and {THREADS} in-process senders at once, "
        f"{WATCHES} watches",
        1,
        f"{WATCHES} messages, each recipient once, one Message-ID each; composed by "
        f"{sum(1 for n in composed if n)} and sent by {len(senders)} senders "
        f"in {elapsed:.1f} s",
    )
