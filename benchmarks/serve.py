"""Time the web page as people use it: `trialwatch serve` on the demo's database, each page
asked for by several clients at once, over loopback.

    python benchmarks/serve.py [--clients 8] [--requests 200] [--db sqlite:///...]

Without --db the offline demo is run first (`trialwatch demo --keep`) into a temporary
folder. For each page: requests per second and the median and 99th-percentile latency, in a
table on stdout. The server is the real command in its own process (`trialwatch serve`);
clients are threads in this one, each with its own connection.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
TRIAL = "NCT04280705"  # backfilled history: a reworded criterion, statuses, a slip
MANY_SITES = "NCT04267848"  # 1,148 sites


def _command() -> list[str]:
    return [sys.executable, "-m", "trialwatch.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pages(base: str) -> list[tuple[str, str]]:
    """(name, path) of each page timed; version ids are read from the API as a user would."""
    with httpx.Client(base_url=base) as client:
        versions = client.get(f"/api/trials/{TRIAL}/versions").json()
        sites = client.get(f"/api/trials/{MANY_SITES}/versions").json()
    a, b = versions[-3]["version_id"], versions[-2]["version_id"]
    s1, s2 = sites[0]["version_id"], sites[-1]["version_id"]
    return [
        ("home", "/"),
        ("search", "/trials?q=cancer"),
        ("trial page", f"/trials/{TRIAL}"),
        ("trial page, 1,148 sites", f"/trials/{MANY_SITES}"),
        ("diff, reworded criterion", f"/trials/{TRIAL}/diff?a={a}&b={b}"),
        ("diff, 1,146 sites added", f"/trials/{MANY_SITES}/diff?a={s1}&b={s2}"),
        ("whole record side by side", f"/trials/{TRIAL}/compare?a={a}&b={b}"),
        ("change feed", "/changes"),
        ("change feed (JSON)", "/api/changes"),
        ("Atom feed", "/changes.atom"),
    ]


def _time(base: str, path: str, clients: int, requests: int) -> tuple[float, list[float], int]:
    """Seconds for all requests, each request's latency, and the bytes of one answer."""
    latencies: list[float] = []
    lock = threading.Lock()
    size = len(httpx.get(base + path).content)

    def client() -> None:
        mine = []
        with httpx.Client(base_url=base) as http:
            for _ in range(requests // clients):
                start = time.perf_counter()
                response = http.get(path)
                mine.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: HTTP {response.status_code}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200, help="per page, all clients")
    parser.add_argument("--db", help="a database URL (default: the demo's, made here)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db
        if url is None:
            print("serve: running the offline demo for its database", file=sys.stderr)
            subprocess.run(
                [*_command(), "demo", "--keep", tmp], check=True, stdout=subprocess.DEVNULL
            )
            url = f"sqlite:///{Path(tmp) / 'trialwatch.db'}"
        port = _free_port()
        server = subprocess.Popen(
            [*_command(), "--db", url, "serve", "--port", str(port)], stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(base + "/")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("serve: the server did not start") from None
                    time.sleep(0.1)
            print(f"| page | KB | requests/s | median ms | p99 ms |  ({args.clients} clients)")
            print("|---|---:|---:|---:|---:|")
            for name, path in _pages(base):
                took, latencies, size = _time(base, path, args.clients, args.requests)
                cut = statistics.quantiles(latencies, n=100)
                print(
                    f"| {name} | {size / 1024:,.0f} | {len(latencies) / took:,.0f} "
                    f"| {statistics.median(latencies) * 1000:,.0f} | {cut[98] * 1000:,.0f} |"
                )
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
