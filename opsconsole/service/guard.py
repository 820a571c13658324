"""A connection that never finishes its request head gets 408 and is closed.

aiohttp waits for a request's headers as long as the client keeps the
connection open, so a client that sends a few bytes and stalls (slowloris)
holds a connection, and its file descriptor, for ever. Each connection here
passes through `HeadGuard`, which watches the first request head: if its
closing blank line has not arrived within HEAD_TIMEOUT_S, the client gets
`408 Request Timeout` and the connection ends. Later requests on a kept-alive
connection are covered by aiohttp's keep-alive timeout; a slow *body* is the
handlers' 408 (service.api.body).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

HEAD_TIMEOUT_S = 15.0
MAX_HEAD = 64 * 1024
TIMEOUT_ANSWER = (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 47\r\n\r\n"
                  b'{"error": "request head not received in time"}\n')


class HeadGuard(asyncio.Protocol):
    """Forwards everything to aiohttp's protocol; times out the first head only."""

    def __init__(self, inner: asyncio.Protocol, timeout_s: float) -> None:
        self.inner = inner
        self.timeout_s = timeout_s
        self.transport: asyncio.BaseTransport | None = None
        self._seen = b""
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._timer = asyncio.get_running_loop().call_later(self.timeout_s, self._expire)
        self.inner.connection_made(transport)

    def _expire(self) -> None:
        self._timer = None
        t = self.transport
        if t is not None and not t.is_closing() and isinstance(t, asyncio.WriteTransport):
            t.write(TIMEOUT_ANSWER)
            t.close()

    def data_received(self, data: bytes) -> None:
        if self._timer is not None:
            self._seen = (self._seen + data)[-MAX_HEAD:]
            if b"\r\n\r\n" in self._seen:
                self._timer.cancel()
                self._timer, self._seen = None, b""
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class GuardedSite(web.TCPSite):
    """aiohttp's TCPSite with every connection behind a HeadGuard."""

    def __init__(self, *args: Any, head_timeout_s: float = HEAD_TIMEOUT_S, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.head_timeout_s = head_timeout_s

    async def start(self) -> None:
        self._runner._reg_site(self)
        server = self._runner.server
        assert server is not None

        def factory() -> asyncio.Protocol:
            return HeadGuard(server(), self.head_timeout_s)

        self._server = await asyncio.get_running_loop().create_server(
            factory, self._host, self._port, ssl=self._ssl_context, backlog=self._backlog,
            reuse_address=self._reuse_address, reuse_port=self._reuse_port)

    @property
    def port(self) -> int:
        socks = getattr(self._server, "sockets", None) or []
        return int(socks[0].getsockname()[1]) if socks else self._port
