"""Shared set-up for the web page's tests: the app served over loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from lxml import html

from tests.analyst_data import (  # noqa: F401
    analyst_pg_template,
    analyst_shared_url,
    analyst_template,
    analyst_url,
)
from tests.web.browser import chromium_fixture, tab_fixture  # noqa: F401  (one per process)
from trialwatch.cli import cli
from trialwatch.registry.db import open_engine
from trialwatch.web.app import CSP, create_app


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_app(db_url: str, *, timeout: float = 15.0) -> Iterator[str]:
    """Run the web app on ``db_url`` with uvicorn in a thread on 127.0.0.1 and a free port;
    yield its base URL (``http://127.0.0.1:PORT``); stop the server on exit."""
    import uvicorn

    engine = open_engine(db_url)
    port = free_port()
    config = uvicorn.Config(
        create_app(engine), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the web app did not start on 127.0.0.1:{port}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        engine.dispose()


@pytest.fixture
def live_server(analyst_url: str) -> Iterator[str]:  # noqa: F811
    """The app on a private copy of the analyst database, served on loopback: its base URL."""
    with serve_app(analyst_url) as base_url:
        yield base_url


class Client(TestClient):
    db_url: str  # the database the app reads, where the test reads its expectations too


@pytest.fixture
def client(analyst_url: str) -> Iterator[Client]:  # noqa: F811
    engine = open_engine(analyst_url)
    with Client(create_app(engine)) as test_client:
        test_client.db_url = analyst_url
        yield test_client
    engine.dispose()


@pytest.fixture(scope="module")
def reader(analyst_shared_url: str) -> Iterator[Client]:  # noqa: F811
    """A client of the app on the module's one copy of the analyst database: only for tests
    that write nothing to it."""
    engine = open_engine(analyst_shared_url)
    with Client(create_app(engine)) as test_client:
        test_client.db_url = analyst_shared_url
        yield test_client
    engine.dispose()


@pytest.fixture(autouse=True)
def _reader_holds_no_connection(request: pytest.FixtureRequest) -> Iterator[None]:
    """The module's reader keeps no pooled connection between tests: another test's count
    of the PostgreSQL connections held at once would include them."""
    yield
    if "reader" in request.fixturenames:
        request.getfixturevalue("reader").app.state.engine.dispose()


def db_of(client: TestClient) -> str:
    return client.db_url  # type: ignore[attr-defined,no-any-return]


def cli_json(url: str, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--db", url, *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def page(client: TestClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, (url, response.text[:300])
    assert response.headers["content-security-policy"] == CSP
    return html.fromstring(response.text)


def api(client: TestClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, (url, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    return response.json()
