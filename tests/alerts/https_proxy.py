"""A loopback HTTPS-intercepting proxy: what a chat service would receive, without network.

Clients that honour ``HTTPS_PROXY`` (requests, hence Apprise) send ``CONNECT host:443``; the
proxy answers 200, ends TLS itself with a certificate for that host signed by a test CA made
on the spot, reads and records the HTTP requests inside and answers them as the service
would. Plain-HTTP proxy requests (absolute URIs) are recorded and answered the same way.

    with intercepting_proxy(tmp_path) as proxy:
        for name, value in proxy.env().items():
            monkeypatch.setenv(name, value)
        ...  # notify
        [request] = proxy.requests
        request.json()
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"


def service_reply(host: str) -> Reply:
    """What each service answers to an accepted message."""
    if host.endswith("slack.com"):
        return Reply(200, b"ok")  # an incoming webhook answers the text "ok"
    if host in ("discord.com", "discordapp.com"):
        return Reply(204)
    if host.endswith((".logic.azure.com", ".powerplatform.com")):
        return Reply(202)  # a Teams workflow trigger
    return Reply(200, b'{"ok": true}', "application/json")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    scheme: str  # "https" for a tunnelled request, else the absolute URI's
    host: str
    port: int
    path: str  # with the query
    headers: Message  # case-insensitive get(), as http.server parsed them
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)


@dataclass
class RequestLog:
    """The recorded requests, safe to append to from the proxy's threads."""

    _items: list[RecordedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def append(self, request: RecordedRequest) -> None:
        with self._lock:
            self._items.append(request)

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def to(self, host: str) -> list[RecordedRequest]:
        return [r for r in self.snapshot() if r.host == host]

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __getitem__(self, index: int) -> RecordedRequest:
        with self._lock:
            return self._items[index]


class _Authority:
    """A CA made for this proxy, and a server certificate per host name it is asked for."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trialwatch test CA")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        self.ca_file = folder / "proxy-ca.pem"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def context_for(self, host: str) -> ssl.SSLContext:
        with self._lock:
            if host not in self._contexts:
                self._contexts[host] = self._make_context(host)
            return self._contexts[host]

    def _make_context(self, host: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        try:
            alt_name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            alt_name = x509.DNSName(host)
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([alt_name]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        stem = self.folder / f"proxy-{len(self._contexts)}"
        cert_file, key_file = stem.with_suffix(".crt"), stem.with_suffix(".key")
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, authority: _Authority, replies: Sequence[Reply | int]) -> None:
        super().__init__((HOST, 0), _Handler)
        self.authority = authority
        self.requests = RequestLog()
        self.errors: list[BaseException] = []
        self._replies = list(replies)
        self._lock = threading.Lock()

    def next_reply(self, host: str) -> Reply:
        with self._lock:
            reply = self._replies.pop(0) if self._replies else service_reply(host)
        return Reply(reply) if isinstance(reply, int) else reply

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, ConnectionError):
            self.errors.append(error)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as clients expect inside a tunnel
    tunnel: tuple[str, int] | None = None

    def log_message(self, format: str, *args: Any) -> None:  # quiet tests
        pass

    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        host = host.strip("[]")
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        tls = self.server.authority.context_for(host).wrap_socket(self.connection, server_side=True)
        # From here on, handle() reads the requests inside the tunnel.
        self.connection = self.request = tls
        self.rfile = tls.makefile("rb")
        self.wfile = tls.makefile("wb")
        self.tunnel = (host, int(port or 443))
        self.close_connection = False

    def _record(self) -> None:
        body = self._read_body()
        if self.tunnel is not None:
            scheme, (host, port), path = "https", self.tunnel, self.path
        else:  # a plain-HTTP proxy request names the whole URL
            url = urlsplit(self.path)
            scheme, host, port = url.scheme, url.hostname or "", url.port or 80
            path = url.path + (f"?{url.query}" if url.query else "")
        self.server.requests.append(
            RecordedRequest(self.command, scheme, host, port, path, self.headers, body)
        )
        reply = self.server.next_reply(host)
        self.send_response(reply.status)
        if reply.status not in (204, 304):
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if reply.status not in (204, 304):
            self.wfile.write(reply.body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _record


@dataclass
class InterceptingProxy:
    url: str
    ca_file: Path
    requests: RequestLog
    errors: list[BaseException]

    def env(self) -> dict[str, str]:
        """Environment for requests: through this proxy, trusting its CA, no exceptions.
        Lower-case names too, which urllib prefers when both are set."""
        return {
            "HTTPS_PROXY": self.url,
            "HTTP_PROXY": self.url,
            "https_proxy": self.url,
            "http_proxy": self.url,
            "REQUESTS_CA_BUNDLE": str(self.ca_file),
            "NO_PROXY": "",
            "no_proxy": "",
        }


@contextmanager
def intercepting_proxy(
    folder: Path, replies: Sequence[Reply | int] = ()
) -> Iterator[InterceptingProxy]:
    """A proxy on 127.0.0.1:<free port>. ``replies`` answer the first requests in order
    (a status alone means an empty body); later ones get ``service_reply(host)``."""
    server = _Server(_Authority(folder), replies)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="https-proxy", daemon=True
    )
    thread.start()
    try:
        yield InterceptingProxy(
            url=f"http://{HOST}:{server.server_address[1]}",
            ca_file=server.authority.ca_file,
            requests=server.requests,
            errors=server.errors,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
