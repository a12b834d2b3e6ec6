"""What the scheduler process tests share: real `trialwatch` processes started in a folder of
their own, a slow loopback HTTP server for crawls that take a while, and looks at /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlmodel import col, select

from tests.conftest import FIXTURES
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import CrawlRun

ROOT = Path(__file__).resolve().parents[2]
STUDY = "NCT03934567"
STUDY_BODY = (FIXTURES / "ctgov_spider" / f"ctgov_v2_{STUDY}.json").read_bytes()
T = TypeVar("T")


def db_arg(db_url: str, cwd: Path) -> str:
    """What a user in ``cwd`` passes as --db: a SQLite file by a path relative to that folder
    (so two folders name one file differently), else the URL."""
    parsed = make_url(db_url)
    if parsed.get_backend_name() == "sqlite":
        return os.path.relpath(str(parsed.database), cwd)
    return db_url


@dataclass
class Proc:
    """A `trialwatch` process; its stderr goes to a file, read at any time with ``err()``."""

    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def err(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def signal(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def stop(self) -> None:
        """Clean-up after a test: kill it if it is still running."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)


def trialwatch(
    *args: str, cwd: Path, name: str, env: dict[str, str] | None = None, own_group: bool = False
) -> Proc:
    """Start ``trialwatch ARGS`` in ``cwd`` with no database or data folder in the environment
    (each process finds the database from its own folder, as a user's would)."""
    cwd.mkdir(parents=True, exist_ok=True)
    full = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TRIALWATCH_")
        or k in ("TRIALWATCH_TEST_POSTGRES_URL", "TRIALWATCH_SECRET_KEY_FILE")
    }
    full.update(PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT), **(env or {}))
    log = cwd / f"{name}.stderr"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "trialwatch.cli", *args],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=out,
            env=full,
            start_new_session=own_group,
        )
    return Proc(popen, log)


def wait_for(what: str, probe: Callable[[], T], timeout: float = 60, every: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def runs(db_url: str) -> list[CrawlRun]:
    engine = open_engine(db_url)
    try:
        with transaction(engine) as session:
            return list(session.exec(select(CrawlRun).order_by(col(CrawlRun.id))).all())
    finally:
        engine.dispose()


# -- processes ----------------------------------------------------------------------------


def proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # "pid (comm) state ppid ..."; comm may hold spaces or parentheses
    return text[text.rindex(")") + 2 :].split()


def alive(pid: int) -> bool:
    """Running or stopped; a zombie (dead, not yet reaped by whoever adopted it) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def crawl_children(pid: int) -> list[int]:
    """The live crawl processes (`python -m trialwatch.spiders.runner`) started by ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = proc_stat(int(entry.name))
        if stat is None or int(stat[1]) != pid or stat[0] in ("Z", "X"):
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"trialwatch.spiders.runner" in cmdline:
            found.append(int(entry.name))
    return found


def kill_quietly(pid: int | None) -> None:
    """Clean-up: kill a crawl process a test found, if it is still there."""
    if pid is None or pid <= 0:  # never 0 or -1: those name whole process groups
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- a slow registry on loopback ----------------------------------------------------------


@dataclass
class SlowRegistry:
    """Answers /api/v2/studies/NCT03934567 with a real recorded study after ``delay`` seconds;
    anything else (robots.txt) is a quick 404."""

    delay: float
    base_url: str = ""
    arrivals: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def study_requests(self) -> int:
        with self._lock:
            return len(self.arrivals)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # http.server calls do_<METHOD>
                if self.path.split("?")[0] != f"/api/v2/studies/{STUDY}":
                    self._send(404, b'{"error": "Not Found"}')
                    return
                with registry._lock:
                    registry.arrivals.append(time.time())
                time.sleep(registry.delay)
                self._send(200, STUDY_BODY)

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the crawl was killed while waiting: nobody reads the answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def slow_registry(delay: float) -> Iterator[SlowRegistry]:
    registry = SlowRegistry(delay)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), registry.handler())
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    registry.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield registry
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
