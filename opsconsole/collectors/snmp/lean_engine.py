"""LeanEngine: a lean SNMP v1/v2c GET / walk engine on our own BER codec.

Why: pysnmp spends 85-90 % of its time in pyasn1 (about 1,000 GETs/s per
core); the poller at site scale needs many times that. This engine does only
the read hot path, in plain bytes work:
- one UDP socket per address family, shared by every target; answers are
  matched by request id AND source address (a reply carrying another pending
  request's id from the wrong agent is dropped, unlike pysnmp);
- per-request timeout/retry timers (`loop.call_later`), a retry resends the
  same request id so a late first answer still counts;
- GET split on tooBig (the accepted size is remembered per agent), v1
  noSuchName handling, GETBULK walks (GETNEXT on v1);
- malformed, oversized (over `max_message_size`), mismatched or unsolicited
  datagrams are dropped and counted; per-agent decode errors are exposed so
  the auto engine can hand an odd agent to pysnmp.
SET and SNMPv3 are not here: `AutoEngine` routes them to pysnmp.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from opsconsole.collectors.snmp import ber
from opsconsole.collectors.snmp.engine import (
    PduLimits,
    SnmpError,
    SnmpTarget,
    SnmpTimeout,
    SnmpValue,
    TooBig,
    get_in_chunks,
    norm_oid,
)

RECV_BUFFER_BYTES = 4 << 20  # hundreds of answers in flight: see PysnmpEngine._tune_socket
MAX_TRACKED_AGENTS = 50_000  # bounds the per-agent dicts (memory stays flat)

_ERROR_NAMES = {
    0: "noError", 1: "tooBig", 2: "noSuchName", 3: "badValue", 4: "readOnly", 5: "genErr",
    6: "noAccess", 7: "wrongType", 8: "wrongLength", 9: "wrongEncoding", 10: "wrongValue",
    11: "noCreation", 12: "inconsistentValue", 13: "resourceUnavailable", 14: "commitFailed",
    15: "undoFailed", 16: "authorizationError", 17: "notWritable", 18: "inconsistentName",
}
Addr = tuple[str, int]


class UnsupportedByEngine(SnmpError):
    """This engine does not do that (SET, SNMPv3): use the pysnmp engine."""


@lru_cache(maxsize=16384)
def _oid_tuple(norm: str) -> ber.Oid:
    try:
        return ber.oid_from_str(norm)
    except ber.BerError as exc:
        raise SnmpError(f"not a valid OID: {norm!r}") from exc


@lru_cache(maxsize=4096)
def _get_body(oids: tuple[ber.Oid, ...]) -> bytes:
    """Encoded varbind list of a GET: profiles ask the same OIDs every cycle."""
    return b"".join(ber.encode_varbind(o, ber.NULL) for o in oids)


def _py(tag: int, value: ber.Value) -> SnmpValue:
    """Codec value -> engine value (same shapes as PysnmpEngine's to_python)."""
    if isinstance(value, tuple):
        return ber.oid_to_str(value)
    return value


@dataclass(slots=True)
class _Pending:
    fut: asyncio.Future[ber.Message]
    addr: Addr
    data: bytes
    version: int
    community: bytes
    timeout_s: float
    tries_left: int
    transport: asyncio.DatagramTransport
    handle: asyncio.TimerHandle | None = None


@dataclass
class _Counts:
    requests: int = 0
    timeouts: int = 0
    errors: int = 0
    too_big: int = 0
    retries: int = 0
    dropped: int = 0  # malformed / oversized / mismatched / unsolicited datagrams
    dropped_malformed: int = 0
    dropped_mismatched: int = 0
    dropped_oversized: int = 0


class _Proto(asyncio.DatagramProtocol):
    def __init__(self, engine: LeanEngine) -> None:
        self.engine = engine

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.engine._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP port unreachable on an unconnected socket: the timer handles it


class LeanEngine(PduLimits):
    """The SnmpEngine interface for v1/v2c reads; see the module docstring."""

    name = "lean"

    def __init__(self, **limits: int) -> None:
        super().__init__(**limits)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transports: dict[int, asyncio.DatagramTransport] = {}  # by address family
        self._opening: dict[int, asyncio.Lock] = {}
        self._pending: dict[int, _Pending] = {}
        self._next_id = random.randrange(1, 0x7FFFFFFF)
        self._resolved: dict[tuple[str, int], tuple[int, Addr]] = {}
        self._pdu_size: dict[Addr, int] = {}  # learned from tooBig, per agent
        self._decode_errors: dict[Addr, int] = {}  # malformed datagrams since the last good one
        self._c = _Counts()

    # -- socket --------------------------------------------------------------------

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("LeanEngine is bound to another event loop (one engine, one loop)")
        return loop

    async def _resolve(self, target: SnmpTarget) -> tuple[int, Addr]:
        key = (target.host, target.port)
        hit = self._resolved.get(key)
        if hit is not None:
            return hit
        try:
            ip = ipaddress.ip_address(target.host)
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            res: tuple[int, Addr] = (family, (ip.compressed, target.port))
        except ValueError:
            loop = self._bind_loop()
            try:
                infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_DGRAM)
            except OSError as exc:
                raise SnmpError(f"{target.host}:{target.port}: cannot resolve address") from exc
            family, _, _, _, sockaddr = infos[0]
            res = (family, (str(sockaddr[0]), int(sockaddr[1])))
        if len(self._resolved) >= MAX_TRACKED_AGENTS:
            self._resolved.clear()
        self._resolved[key] = res
        return res

    async def _transport(self, family: int) -> asyncio.DatagramTransport:
        tr = self._transports.get(family)
        if tr is not None:
            return tr
        lock = self._opening.setdefault(family, asyncio.Lock())
        async with lock:
            tr = self._transports.get(family)
            if tr is None:
                loop = self._bind_loop()
                local = ("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0)
                tr, _ = await loop.create_datagram_endpoint(
                    lambda: _Proto(self), local_addr=local, family=family
                )
                sock = tr.get_extra_info("socket")
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER_BYTES)
                self._transports[family] = tr
        return tr

    # -- receive -------------------------------------------------------------------

    def _on_datagram(self, data: bytes, addr: tuple[Any, ...]) -> None:
        c = self._c
        src: Addr = (addr[0], addr[1])
        if len(data) > self.max_message_size:
            c.dropped += 1
            c.dropped_oversized += 1
            return
        try:
            msg = ber.decode(data)
        except ber.BerError:
            c.dropped += 1
            c.dropped_malformed += 1
            errs = self._decode_errors
            if src in errs or len(errs) < MAX_TRACKED_AGENTS:
                errs[src] = errs.get(src, 0) + 1
            return
        p = self._pending.get(msg.pdu.request_id)
        if (
            p is None
            or p.addr != src
            or msg.pdu.type != ber.GET_RESPONSE
            or msg.version != p.version
            or msg.community != p.community
        ):
            # late duplicate, spoof, or another agent's id: never someone else's answer
            c.dropped += 1
            c.dropped_mismatched += 1
            return
        del self._pending[msg.pdu.request_id]
        if p.handle is not None:
            p.handle.cancel()
        self._decode_errors.pop(src, None)
        if not p.fut.done():
            p.fut.set_result(msg)

    def _on_timer(self, rid: int) -> None:
        p = self._pending.get(rid)
        if p is None:
            return
        if p.tries_left > 0:
            p.tries_left -= 1
            self._c.retries += 1
            if not p.transport.is_closing():
                p.transport.sendto(p.data, p.addr)
            assert self._loop is not None
            p.handle = self._loop.call_later(p.timeout_s, self._on_timer, rid)
            return
        del self._pending[rid]
        if not p.fut.done():
            p.fut.set_exception(TimeoutError())

    def decode_errors(self, host: str, port: int) -> int:
        """Malformed datagrams from this agent since its last good answer."""
        hit = self._resolved.get((host, port))
        return self._decode_errors.get(hit[1], 0) if hit else 0

    # -- one PDU -------------------------------------------------------------------

    def _new_id(self) -> int:
        rid = self._next_id
        while rid in self._pending:
            rid = rid % 0x7FFFFFFF + 1
        self._next_id = rid % 0x7FFFFFFF + 1
        return rid

    async def _request(
        self, target: SnmpTarget, pdu_type: int, a: int, b: int, body: bytes
    ) -> ber.Pdu:
        creds = target.credentials
        if creds.version not in ("1", "2c"):
            raise UnsupportedByEngine(f"{target.host}:{target.port}: SNMPv{creds.version}")
        if creds.community is None:
            raise SnmpError(f"credentials {creds.id!r}: no community")
        loop = self._bind_loop()
        family, addr = await self._resolve(target)
        tr = await self._transport(family)
        version = ber.V1 if creds.version == "1" else ber.V2C
        community = creds.community.encode()
        rid = self._new_id()
        data = ber.encode_message_parts(version, community, pdu_type, rid, a, b, body)
        fut: asyncio.Future[ber.Message] = loop.create_future()
        p = _Pending(
            fut, addr, data, version, community, target.timeout_s, target.retries, tr
        )
        self._pending[rid] = p
        self._c.requests += 1
        try:
            tr.sendto(data, addr)
            p.handle = loop.call_later(target.timeout_s, self._on_timer, rid)
            msg = await fut
        except TimeoutError:
            self._c.timeouts += 1
            raise SnmpTimeout(
                f"{target.host}:{target.port}: no SNMP answer in {target.timeout_s:g} s"
                f" x {target.retries + 1} tries"
            ) from None
        finally:
            # cancelled or failed: leave nothing behind
            if self._pending.get(rid) is p:
                del self._pending[rid]
                if p.handle is not None:
                    p.handle.cancel()
        if msg.pdu.error_status == ber.TOO_BIG:
            raise TooBig
        return msg.pdu

    def _status_error(self, target: SnmpTarget, what: str, pdu: ber.Pdu,
                      oids: list[str]) -> SnmpError:
        self._c.errors += 1
        name = _ERROR_NAMES.get(pdu.error_status, str(pdu.error_status))
        i = pdu.error_index
        where = f" at {oids[i - 1]}" if 0 < i <= len(oids) else ""
        return SnmpError(f"{target.host}:{target.port}: {what}{where}: {name}")

    # -- get -------------------------------------------------------------------------

    async def get(self, target: SnmpTarget, oids: list[str]) -> dict[str, SnmpValue]:
        return await get_in_chunks(target, oids, self._get_chunk, self._pdu_size,
                                   self.max_oids_per_pdu, self._count,
                                   max_agents=MAX_TRACKED_AGENTS)

    def _count(self, what: str) -> None:
        setattr(self._c, what, getattr(self._c, what) + 1)

    async def _get_chunk(self, target: SnmpTarget, chunk: list[str]) -> dict[str, SnmpValue]:
        values: dict[str, SnmpValue] = {}
        remaining = list(chunk)
        while remaining:
            tuples = tuple(_oid_tuple(o) for o in remaining)
            pdu = await self._request(target, ber.GET_REQUEST, 0, 0, _get_body(tuples))
            i = pdu.error_index
            if pdu.error_status == ber.NO_SUCH_NAME and 0 < i <= len(remaining):
                # SNMPv1 has no per-varbind "missing": drop the named OID and ask again.
                values[remaining.pop(i - 1)] = None
                continue
            if pdu.error_status:
                raise self._status_error(target, "GET", pdu, remaining)
            vbs = pdu.varbinds
            if len(vbs) != len(remaining):
                self._c.errors += 1
                raise SnmpError(
                    f"{target.host}:{target.port}: GET: {len(vbs)} varbinds"
                    f" for {len(remaining)} OIDs"
                )
            # Answers come in request order (RFC 3416 4.2.1).
            for oid, vb in zip(remaining, vbs, strict=True):
                values[oid] = _py(vb.tag, vb.value)
            break
        return values

    # -- walk ------------------------------------------------------------------------

    async def walk(self, target: SnmpTarget, oid: str) -> list[tuple[str, SnmpValue]]:
        norm = norm_oid(oid)
        root = _oid_tuple(norm)
        v1 = target.credentials.version == "1"
        rows: list[tuple[str, SnmpValue]] = []
        last = root
        reps = self.max_repetitions
        n = len(root)
        while True:
            body = ber.encode_varbind(last, ber.NULL)
            try:
                if v1:
                    pdu = await self._request(target, ber.GET_NEXT_REQUEST, 0, 0, body)
                    if pdu.error_status == ber.NO_SUCH_NAME:  # v1's end of MIB view
                        return rows
                else:
                    pdu = await self._request(target, ber.GET_BULK_REQUEST, 0, reps, body)
            except TooBig:
                self._c.too_big += 1
                if v1 or reps == 1:
                    self._c.errors += 1
                    raise SnmpError(f"{target.host}:{target.port}: walk {norm}: tooBig") from None
                reps = max(1, reps // 2)
                continue
            if pdu.error_status:
                raise self._status_error(target, "walk", pdu, [norm])
            if not pdu.varbinds:
                return rows
            for vb in pdu.varbinds:
                cur = vb.oid
                if vb.tag == ber.END_OF_MIB_VIEW or len(cur) <= n or cur[:n] != root:
                    return rows
                if cur <= last:
                    self._c.errors += 1
                    raise SnmpError(
                        f"{target.host}:{target.port}: walk {norm}: OID not increasing"
                        f" ({ber.oid_to_str(cur)} after {ber.oid_to_str(last)})"
                    )
                rows.append((ber.oid_to_str(cur), _py(vb.tag, vb.value)))
                last = cur

    # -- set -------------------------------------------------------------------------

    async def set(self, target: SnmpTarget, oid: str, type_: str, value: int | str) -> SnmpValue:
        # Reads are the hot path; SETs are rare and verified: pysnmp does them.
        raise UnsupportedByEngine("SET is not implemented by the lean engine")

    # -- bookkeeping -----------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        c = self._c
        return {
            "requests": c.requests, "timeouts": c.timeouts, "errors": c.errors,
            "too_big": c.too_big, "retries": c.retries, "dropped": c.dropped,
            "dropped_malformed": c.dropped_malformed,
            "dropped_mismatched": c.dropped_mismatched,
            "dropped_oversized": c.dropped_oversized,
            "in_flight": len(self._pending),
        }

    async def close(self) -> None:
        """Release the sockets. Call it on the engine's loop, or after that loop closed."""
        loop = self._loop
        alive = loop is not None and not loop.is_closed()
        if alive and asyncio.get_running_loop() is not loop:
            raise RuntimeError("close LeanEngine on its own event loop (one engine, one loop)")
        for rid, p in list(self._pending.items()):
            if p.handle is not None:
                p.handle.cancel()
            if not p.fut.done() and not p.fut.get_loop().is_closed():
                p.fut.set_exception(SnmpError("engine closed"))
            del self._pending[rid]
        for tr in self._transports.values():
            if alive:
                tr.close()
            else:  # its loop is gone and can no longer run the close callback
                with contextlib.suppress(Exception):
                    tr._call_connection_lost(None)  # type: ignore[attr-defined]
        self._transports.clear()
        self._opening.clear()
        self._loop = None
        if alive:
            await asyncio.sleep(0)  # asyncio closes the socket in a call_soon callback


__all__ = ["LeanEngine", "UnsupportedByEngine"]
