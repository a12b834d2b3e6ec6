"""`trialwatch serve`: the read-only web page and its JSON API."""

from __future__ import annotations

import click

from trialwatch.cli.util import Context, err, reads_only

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback makes the page reachable from other "
    "machines.",
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port."
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(0.5, 300),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="A client has this long to send a request's headers (from connecting, or from the "
    "previous response); then the connection is closed. Request lines over 8192 bytes get "
    "414, headers over 16384 bytes get 431.",
)
@click.pass_obj
@reads_only
def serve(obj: Context, host: str, port: int, header_timeout: float) -> None:
    """Serve a read-only web page over the database: search trials, each trial's status and
    primary completion timeline, its versions side by side, and the change feed. The same
    data is JSON under /api (described at /openapi.json). Only reads (GET and HEAD); stop
    with Ctrl-C.

    \b
    trialwatch serve
    trialwatch --db postgresql+psycopg://reader@db/trialwatch serve --port 8080
    """
    from trialwatch.web.app import create_app
    from trialwatch.web.server import run

    app = create_app(obj.engine)
    if host not in LOOPBACK:
        err(f"serve: listening on {host}: the page is reachable from other machines")
    err(f"serve: http://{host if ':' not in host else f'[{host}]'}:{port}/ (Ctrl-C stops)")
    run(app, host, port, header_timeout)
