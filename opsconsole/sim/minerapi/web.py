"""A minimal HTTP/1.1 server on loopback for the simulated miners' vendor
web endpoints (stock Antminer CGI behind HTTP digest, VNish's REST API).
One request per connection (Connection: close), JSON bodies."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from opsconsole.sim.minerapi.server import close_server, close_writer

MAX_BODY = 64 * 1024


@dataclass
class WebRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class WebReply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


WebHandler = Callable[[WebRequest], Awaitable[WebReply]]
_REASON = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed"}


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class DigestAuth:
    """RFC 2617 digest (MD5, qop=auth), as stock Antminer firmware asks for."""

    def __init__(self, user: str, password: str, realm: str = "antMiner Configuration"):
        self.user, self.password, self.realm = user, password, realm
        self.nonces: set[str] = set()

    def challenge(self) -> WebReply:
        nonce = secrets.token_hex(16)
        self.nonces.add(nonce)
        return WebReply(401, {"error": "unauthorized"}, {
            "WWW-Authenticate": f'Digest realm="{self.realm}", nonce="{nonce}", qop="auth", '
                                'algorithm=MD5'})

    def ok(self, req: WebRequest) -> bool:
        header = req.headers.get("authorization", "")
        if not header.lower().startswith("digest "):
            return False
        parts: dict[str, str] = {}
        for item in header[7:].split(","):
            if "=" in item:
                k, v = item.strip().split("=", 1)
                parts[k.strip()] = v.strip().strip('"')
        if parts.get("username") != self.user or parts.get("nonce") not in self.nonces:
            return False
        ha1 = _md5(f"{self.user}:{self.realm}:{self.password}")
        ha2 = _md5(f"{req.method}:{parts.get('uri', '')}")
        want = _md5(f"{ha1}:{parts['nonce']}:{parts.get('nc', '')}:{parts.get('cnonce', '')}:"
                    f"{parts.get('qop', '')}:{ha2}")
        return secrets.compare_digest(want, parts.get("response", ""))


class WebServer:
    def __init__(self, handler: WebHandler, host: str = "127.0.0.1", port: int = 0):
        self.handler, self.host, self.port = handler, host, port
        self._server: asyncio.Server | None = None

    async def start(self) -> WebServer:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        await close_server(self._server)
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            req = await asyncio.wait_for(self._read(reader), 10)
            reply = await self.handler(req) if req else WebReply(400, {"error": "bad request"})
            body = b"" if reply.body is None else json.dumps(reply.body).encode()
            head = [f"HTTP/1.1 {reply.status} {_REASON.get(reply.status, 'Error')}",
                    "Content-Type: application/json", f"Content-Length: {len(body)}",
                    "Connection: close", *(f"{k}: {v}" for k, v in reply.headers.items())]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            await writer.drain()
        except (OSError, TimeoutError, ValueError):
            pass
        finally:
            await close_writer(writer)

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> WebRequest | None:
        line = (await reader.readline()).decode("latin-1").strip()
        parts = line.split()
        if len(parts) != 3:
            return None
        headers: dict[str, str] = {}
        while True:
            h = (await reader.readline()).decode("latin-1").strip()
            if not h:
                break
            k, _, v = h.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = min(int(headers.get("content-length", "0") or 0), MAX_BODY)
        raw = await reader.readexactly(n) if n else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        return WebRequest(parts[0].upper(), parts[1], headers, body)
