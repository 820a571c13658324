"""A small asyncio client for the CGMiner-style JSON API on TCP 4028.

One request per connection (that is how the API works): send the JSON
command, read until a NUL byte or EOF, under a deadline and a byte cap, so a
miner that drips, never stops, or never closes costs one bounded slot.
Joined commands (`summary+stats`) are tried first; firmware that rejects
joins (old Whatsminer: Code 24 / 45, plain cgminer: "Invalid command") is
asked one command per connection from then on. One failing section never
voids the others. Some firmware serves one client at a time: `MinerApi`
holds a small semaphore per miner.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from opsconsole.collectors.minerapi.replies import ApiError, ApiUnreachable, check, decode

DEFAULT_PORT = 4028
DEFAULT_TIMEOUT_S = 5.0
# Real replies are a few KiB (Avalon `stats` with per-chip lists ~40 KiB):
# anything beyond this is a broken or hostile peer, not a miner.
MAX_REPLY_BYTES = 512 * 1024
PER_MINER_CONNECTIONS = 1  # firmware such as stock Antminer serves one client at a time

Section = dict[str, Any] | ApiError  # a command's reply, or why it has none


async def exchange(host: str, port: int, payload: bytes, *, timeout_s: float,
                   max_bytes: int = MAX_REPLY_BYTES) -> bytes:
    """Send `payload`, return the reply up to its NUL or EOF.

    Raises ApiUnreachable when nothing came back (refused, reset, silence);
    ApiError when bytes came but not a whole reply in time or within the cap.
    A peer that neither sends NUL nor closes gets the benefit of the doubt
    once at the deadline: a buffer that already decodes is a reply.

    On the loop's plain socket calls, not streams: one request per
    connection makes the transport, protocol and StreamReader that
    `open_connection` builds most of the client's own CPU per poll, and one
    timeout (one timer) covers connect and reply together."""
    loop = asyncio.get_running_loop()
    sock: socket.socket | None = None
    buf = bytearray()
    try:
        async with asyncio.timeout_at(loop.time() + timeout_s):
            sock = await _connect(loop, host, port)
            await loop.sock_sendall(sock, payload)
            while True:
                chunk = await loop.sock_recv(sock, 65536)
                if not chunk:  # EOF ends a reply
                    if not buf:
                        raise ApiUnreachable("connection closed without a reply")
                    return bytes(buf)
                nul = chunk.find(b"\x00")
                if nul >= 0:
                    if not buf:  # the usual case: the whole reply in one read
                        return chunk[:nul]
                    buf += chunk[:nul]
                    return bytes(buf)
                buf += chunk
                if len(buf) > max_bytes:
                    raise ApiError(f"reply larger than {max_bytes // 1024} KiB: "
                                   "not a miner reply")
    except TimeoutError:
        if sock is None:
            raise ApiUnreachable(f"no connection within {timeout_s:g} s") from None
        return _at_deadline(buf, timeout_s)
    except (ConnectionResetError, BrokenPipeError) as exc:
        if not buf:
            raise ApiUnreachable(exc.strerror or type(exc).__name__) from None
        raise ApiError(f"connection reset after {len(buf)} bytes") from None
    except OSError as exc:  # refused, no route, a name that does not resolve
        if sock is None:
            raise ApiUnreachable(exc.strerror or type(exc).__name__) from None
        raise
    finally:
        if sock is not None:
            sock.close()  # no wait for the peer's FIN: a hostile one may never send it


def _ip_family(host: str) -> int | None:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return family
        except OSError:
            continue
    return None


async def _connect(loop: asyncio.AbstractEventLoop, host: str, port: int) -> socket.socket:
    """A connected non-blocking TCP socket; an address literal skips the
    resolver, a name tries each of its addresses in turn."""
    family = _ip_family(host)
    if family is not None:
        addrs: list[tuple[int, Any]] = [(family, (host, port))]
    else:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addrs = [(info[0], info[4]) for info in infos]
    error: OSError = OSError(f"{host}: no address")
    for family, addr in addrs:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, addr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
        except BaseException:  # cancelled or timed out: the socket must not leak
            sock.close()
            raise
    raise error


def _at_deadline(buf: bytearray, timeout_s: float) -> bytes:
    if not buf:
        raise ApiUnreachable(f"no answer within {timeout_s:g} s")
    try:
        decode(bytes(buf))
    except ApiError:
        raise ApiError(f"reply did not end within {timeout_s:g} s "
                       f"({len(buf)} bytes, no NUL, socket left open)") from None
    return bytes(buf)


def request_bytes(command: str, parameter: str | None = None, **extra: Any) -> bytes:
    body: dict[str, Any] = {"command": command}
    if parameter is not None:
        body["parameter"] = parameter
    body.update(extra)
    return json.dumps(body, separators=(",", ":")).encode()


def _joined_rejected(reply: dict[str, Any], names: Iterable[str]) -> bool:
    """A joined request answered with none of its sections: joins not supported."""
    return not any(n in reply for n in names)


def split_joined(reply: dict[str, Any], names: list[str]) -> dict[str, Section]:
    """`{"summary":[{...}],"stats":[{...}]}` -> per command, checked one by one."""
    out: dict[str, Section] = {}
    for name in names:
        part = reply.get(name)
        if isinstance(part, list) and part and isinstance(part[0], dict):
            part = part[0]
        if not isinstance(part, dict):
            out[name] = ApiError(f"{name}: missing from the joined reply")
            continue
        try:
            out[name] = check(part, name)
        except ApiError as exc:
            out[name] = exc
    return out


@dataclass
class _MinerState:
    sem: asyncio.Semaphore
    joins: bool = True  # False once the firmware rejected a joined command
    firmware: str | None = None  # the detected family, cached
    extra: dict[str, Any] = field(default_factory=dict)


class MinerApi:
    """Talks to many miners from one event loop; remembers, per miner, the
    firmware family and whether it takes joined commands."""

    def __init__(self, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 per_miner: int = PER_MINER_CONNECTIONS, max_bytes: int = MAX_REPLY_BYTES):
        self.timeout_s = timeout_s
        self.per_miner = per_miner
        self.max_bytes = max_bytes
        self._miners: dict[tuple[str, int], _MinerState] = {}

    def state(self, host: str, port: int) -> _MinerState:
        st = self._miners.get((host, port))
        if st is None:
            st = self._miners[(host, port)] = _MinerState(asyncio.Semaphore(self.per_miner))
        return st

    async def raw(self, host: str, port: int, payload: bytes,
                  timeout_s: float | None = None) -> dict[str, Any]:
        """One request under the miner's connection limit -> decoded reply."""
        t = self.timeout_s if timeout_s is None else timeout_s
        async with self.state(host, port).sem:
            data = await exchange(host, port, payload, timeout_s=t, max_bytes=self.max_bytes)
        return decode(data)

    async def command(self, host: str, port: int, command: str, parameter: str | None = None,
                      timeout_s: float | None = None) -> dict[str, Any]:
        reply = await self.raw(host, port, request_bytes(command, parameter), timeout_s)
        return check(reply, command)

    async def commands(self, host: str, port: int, names: list[str],
                       timeout_s: float | None = None) -> dict[str, Section]:
        """Several commands, joined when the firmware allows, else one per
        connection. ApiUnreachable propagates only when the miner is silent
        for all of them; any other failure stays inside its section."""
        st = self.state(host, port)
        if len(names) > 1 and st.joins:
            reply = await self.raw(host, port, request_bytes("+".join(names)), timeout_s)
            if not _joined_rejected(reply, names):
                return split_joined(reply, names)
            st.joins = False
        out: dict[str, Section] = {}
        unreachable: ApiUnreachable | None = None
        for name in names:
            try:
                out[name] = await self.command(host, port, name, timeout_s=timeout_s)
            except ApiUnreachable as exc:
                unreachable = exc
                out[name] = exc
            except ApiError as exc:
                out[name] = exc
        if unreachable is not None and all(isinstance(v, ApiUnreachable) for v in out.values()):
            raise unreachable
        return out
