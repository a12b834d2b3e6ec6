"""Four `trialwatch alerts send` processes released at the same instant over watches that
each send to an email address, a JSON webhook and an ntfy topic: every message reaches its
channel once, counted at the real SMTP server and HTTP receivers on loopback."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from trialwatch.alerts.watches import Target

from .receivers import Receiver, receiving
from .senders import Slow, arrivals, duplicates, messages, seed, sender_env, trialwatch
from .smtp_server import smtp_server

WATCHES = 40
PROCESSES = 4
ID_LINE = re.compile(r"^id: (<[^>\s]+>)$", re.MULTILINE)


def _channels(hook: Receiver, ntfy: Receiver) -> Callable[[int], list[Target]]:
    def notify(n: int) -> list[Target]:
        return [
            Target("apprise", hook.url(path=f"/hook/{n}"), f"json hook {n}"),
            Target("apprise", ntfy.url("ntfy", f"/topic{n}"), f"ntfy topic {n}"),
        ]

    return notify


@pytest.mark.reliability
def test_four_senders_send_each_message_once_on_every_channel(db_url, tmp_path, reliability):
    handler = Slow(delay=0.005)
    with (
        receiving() as hook,
        receiving(Receiver(ntfy=True)) as ntfy,
        smtp_server(handler) as port,
    ):
        seed(db_url, tmp_path, WATCHES, _channels(hook, ntfy))
        env = sender_env(tmp_path, port)
        procs = [trialwatch(db_url, env, "alerts", "send", gated=True) for _ in range(PROCESSES)]
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        started = time.monotonic()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=300) for proc in procs]
        elapsed = time.monotonic() - started
        hooked, topics = hook.accepted, ntfy.accepted

    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    mails = arrivals(handler)
    assert sorted(to for to, _ in mails) == sorted(f"w{n}@x.test" for n in range(WATCHES))
    assert duplicates([mid for _, mid in mails]) == {}
    assert sorted(r.path for r in hooked) == sorted(f"/hook/{n}" for n in range(WATCHES))
    hook_ids = [r.headers["X-Trialwatch-Message-Id"] for r in hooked]
    assert duplicates(hook_ids) == {}
    ntfy_topics = [r.json()["topic"] for r in topics]
    assert sorted(ntfy_topics) == sorted(f"topic{n}" for n in range(WATCHES))
    ntfy_ids = [ID_LINE.findall(r.json()["message"])[-1] for r in topics]
    assert duplicates(ntfy_ids) == {}
    stored = messages(db_url)
    assert len(stored) == 3 * WATCHES and {m.status for m in stored} == {"sent"}
    assert {m.message_id for m in stored} == {mid for _, mid in mails} | set(hook_ids) | set(
        ntfy_ids
    )
    senders = {m.claimed_by for m in stored}
    assert len(senders) >= 2
    reliability.tried(
        "alerts",
        f"{PROCESSES} `alerts send` processes at once, {WATCHES} watches each with an email, "
        "a JSON webhook and an ntfy topic",
        1,
        f"{3 * WATCHES} messages: {len(mails)} emails, {len(hooked)} webhook posts, "
        f"{len(topics)} ntfy posts, each once with its own id; sent by {len(senders)} senders "
        f"in {elapsed:.1f} s",
    )
