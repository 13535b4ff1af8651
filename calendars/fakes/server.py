"""A tiny threaded HTTP(S) server that serves one fake provider, for tests (in a thread) and ``make run``.

A fake is any object with ``handle(request: FakeRequest) -> FakeResponse``; it keeps its own state under its own
lock. :class:`FakeServer` runs it on a loopback port (0: any free one) in a daemon thread, over TLS when given an
``ssl.SSLContext`` (msal refuses plain http).
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)


@dataclass
class FakeRequest:
    method: str
    path: str  # without the query string, still percent-encoded
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self):
        return json.loads(self.body or b"{}")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class FakeResponse:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data, status: int = 200, headers: dict | None = None) -> FakeResponse:
        return cls(
            status=status,
            body=json.dumps(data).encode(),
            headers={"Content-Type": "application/json; charset=UTF-8", **(headers or {})},
        )

    @classmethod
    def empty(cls, status: int = 204) -> FakeResponse:
        return cls(status=status)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LabsFake/1"

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = FakeRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            response = self.server.fake.handle(request)
        except Exception:  # a fake's bug must show, not hang the client
            logger.exception("fake %s failed on %s %s", type(self.server.fake).__name__, self.command, self.path)
            response = FakeResponse.json({"error": {"code": 500, "message": "fake server error"}}, status=500)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        logger.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeServer:
    """Serve ``fake`` on ``host:port`` in a daemon thread; ``base_url`` once started."""

    def __init__(self, fake, *, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None):
        self._server = _Server((host, port), _Handler)
        self._server.fake = fake
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if ssl_context is not None else "http"
        self._thread: threading.Thread | None = None

    @property
    def fake(self):
        return self._server.fake

    @fake.setter
    def fake(self, fake) -> None:
        """Serve another fake from now on (tests keep one server and give each test a fresh fake)."""
        self._server.fake = fake

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"fake-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
