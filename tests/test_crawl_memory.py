"""`trialwatch crawl ctgov` as its own process, against a loopback API serving pages of
1,000 studies (~18 MB each, as the registry's largest page): every study is ingested, and the
command's peak memory (os.wait4's ru_maxrss, taken by a small launcher: the command or the
spider's or a parse worker's process it waited for, whichever is larger) stays under 300 MB.

The studies are the real ones in tests/fixtures/ctgov cloned with new NCT ids by the
benchmark's generator (benchmarks/generate.py); the three pages hold the same 1,000 trials, so
only the first page's are parsed and the test stays quick: the page size is what is tested.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine, text

from benchmarks.generate import Params, day_dir, generate
from benchmarks.loopback import PagesServer

PAGES = 3
LIMIT_MB = 300
# Runs argv[1:] as its child and writes the child's ru_maxrss (KB) to $MAXRSS_FILE.
LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(child.pid, 0)
open(os.environ["MAXRSS_FILE"], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("large-pages")
    generate(Params(1000, 1, seed=3, page_size=1000), out / "data")
    [page] = sorted((day_dir(out / "data", 0) / "pages").glob("page-*.json"))
    body = page.read_bytes()
    assert body.endswith(b"]}")  # one page: no token
    ncts = [
        s["protocolSection"]["identificationModule"]["nctId"] for s in orjson.loads(body)["studies"]
    ]
    folder = out / "pages"
    folder.mkdir()
    tokens = {}
    for n in range(1, PAGES + 1):
        name = f"page-{n:04d}.json"
        token = f"token-{n + 1}" if n < PAGES else None
        tail = b',"nextPageToken":"' + token.encode() + b'"}' if token else b"}"
        (folder / name).write_bytes(body[:-1] + tail)
        if n > 1:
            tokens[f"token-{n}"] = name
    index = {"page_size": 1000, "first": "page-0001.json", "tokens": tokens}
    (folder / "index.json").write_bytes(orjson.dumps(index))
    return folder, ncts


def test_a_crawl_of_large_pages_ingests_every_study_in_bounded_memory(
    pages: tuple[Path, list[str]], tmp_path: Path
) -> None:
    folder, ncts = pages
    assert len(set(ncts)) == 1000
    assert min(p.stat().st_size for p in folder.glob("page-*.json")) > 12_000_000
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALWATCH_")}
    env["TRIALWATCH_DATA_DIR"] = str(tmp_path / "data")
    env["MAXRSS_FILE"] = str(tmp_path / "maxrss")
    with PagesServer(folder) as server:
        # Through a small launcher: a process started by this one (vfork, then exec) keeps
        # this process's high-water mark as its own ru_maxrss, hundreds of MB late in a run.
        argv = [sys.executable, "-c", LAUNCHER, sys.executable, "-m", "trialwatch.cli"]
        argv += ["--db", db, "crawl", "ctgov"]
        argv += ["--query", "query.term=x", "--base-url", server.url, "--delay", "0"]
        err = tmp_path / "stderr"
        start = time.monotonic()
        peaks: dict[str, int] = {}
        with err.open("wb") as fe:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=fe, env=env)
            threading.Thread(target=_watch, args=(proc.pid, peaks), daemon=True).start()
            _, status, _usage = os.wait4(proc.pid, 0)
        took = time.monotonic() - start
        asked = server.requests.get("/api/v2/studies", 0)
    said = err.read_text(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, said[-2000:]
    assert asked == PAGES
    peak_mb = int((tmp_path / "maxrss").read_text()) / 1024
    assert peak_mb < LIMIT_MB, f"peak {peak_mb:.0f} MB in {took:.1f} s; each process: {peaks}"
    engine = create_engine(db)
    with engine.connect() as conn:
        held = set(conn.execute(text("SELECT DISTINCT nct_id FROM trial_version")).scalars())
        run = conn.execute(
            text("SELECT status, fetched, new_versions, unchanged, rejected FROM crawl_run")
        ).one()
    engine.dispose()
    assert held == set(ncts)
    assert tuple(run) == ("ok", PAGES, 1000, 1000 * (PAGES - 1), 0), said[-2000:]


def _watch(root: int, peaks: dict[str, int]) -> None:
    """Each process of the command's tree and its peak resident MB (VmHWM), polled: when the
    bound is missed, the message says which process it was."""
    while True:
        try:
            os.kill(root, 0)
        except OSError:
            return
        for pid in _tree(root):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                name = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:90]
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    key = f"{pid} {name.decode(errors='replace').strip()}"
                    peaks[key] = max(peaks.get(key, 0), int(line.split()[1]) // 1024)
        time.sleep(0.05)


def _tree(root: int) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        todo += [int(c) for c in children]
    return found
