"""A 4028 JSON API server on loopback: one request per connection, as
cgminer's api.c does it. The handler turns one request into reply bytes;
the server adds the NUL (or closes, as firmware that sends none does).

`replay_handler` serves stored replies byte for byte (real captures in the
tests, faults included), joining commands the way cgminer does, or refusing
joins the way old Whatsminer firmware does (Code 45)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[[dict[str, Any]], Awaitable[bytes | None]]
REQUEST_LIMIT = 64 * 1024


def invalid_command(command: str) -> bytes:
    return json.dumps({"STATUS": [{"STATUS": "E", "When": int(time.time()), "Code": 14,
                                   "Msg": f"Invalid command ({command})",
                                   "Description": "cgminer"}], "id": 1}).encode()


def join_refused() -> bytes:
    """Whatsminer's answer to a joined command: STATUS as a bare string."""
    return json.dumps({"STATUS": "E", "When": int(time.time()), "Code": 45,
                       "Msg": "Permission denied", "Description": ""}).encode()


def joined(parts: list[tuple[str, bytes]]) -> bytes:
    """cgminer's joined reply, built from each command's own bytes."""
    body = b",".join(f'"{name}":['.encode() + raw + b"]" for name, raw in parts)
    return b"{" + body + b',"id":1}'


def commands_of(request: dict[str, Any]) -> list[str]:
    cmd = request.get("command", request.get("cmd", ""))
    return [c for c in str(cmd).split("+") if c]


def replay_handler(replies: dict[str, bytes], *, joins: bool = True) -> Handler:
    async def handle(request: dict[str, Any]) -> bytes | None:
        names = commands_of(request)
        if len(names) > 1:
            if not joins:
                return join_refused()
            return joined([(n, replies.get(n) or invalid_command(n)) for n in names])
        name = names[0] if names else ""
        return replies.get(name) or invalid_command(name)
    return handle


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """End one connection; a peer that already vanished is not an error."""
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


async def close_server(server: asyncio.Server | None) -> None:
    """Stop listening, waiting at most 2 s for open connections to end."""
    if server is not None:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)


class ApiServer:
    """Serve `handler` on 127.0.0.1 (port 0: any free port)."""

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 0,
                 nul: bool = True):
        self.handler = handler
        self.host = host
        self.port = port
        self.nul = nul
        self.requests = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> ApiServer:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            raw = await asyncio.wait_for(_read_request(reader), 10)
            self.requests += 1
            try:
                request = json.loads(raw)
                if not isinstance(request, dict):
                    raise ValueError
            except ValueError:
                request = {"command": ""}
            reply = await self.handler(request)
            if reply is not None:
                writer.write(reply + (b"\x00" if self.nul else b""))
                await writer.drain()
        except (OSError, TimeoutError):
            pass
        finally:
            await close_writer(writer)

    async def stop(self) -> None:
        await close_server(self._server)
        self._server = None


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    """A request is one JSON object; clients may or may not half-close after it."""
    buf = b""
    while len(buf) < REQUEST_LIMIT:
        chunk = await reader.read(4096)
        if not chunk:
            break
        buf += chunk
        try:
            json.loads(buf)
            break
        except ValueError:
            continue
    return buf
