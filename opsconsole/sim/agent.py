"""SNMP v1/v2c agents on loopback UDP, serving simulated devices.

One `SnmpAgentProtocol` per device. The device supplies a `Mib`: a sorted
OID -> MibEntry table whose getters are evaluated at request time against one
`sample()` of the device (so a response is self-consistent and the model is
computed once per request, not once per OID). Getters returning None mean
"this row does not exist right now" (a dropped hash board): GET says
noSuchInstance, GETNEXT skips it.

Built on our BER codec rather than pysnmp: serving thousands of agents from one
Python process needs ~tens of microseconds per request, and pysnmp's pyasn1
costs milliseconds.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from opsconsole.collectors.snmp import ber
from opsconsole.collectors.snmp.ber import Oid, Value

log = logging.getLogger(__name__)

DEFAULT_MAX_SIZE = 1472  # Ethernet MTU minus IP/UDP headers
MAX_BULK_VARBINDS = 1024  # bounds the work one GETBULK can ask of us


@dataclass(slots=True)
class MibEntry:
    tag: int  # ber tag of the value (also the type a SET must carry)
    get: Callable[[Any], Value]  # sample -> value, None = absent now
    set: Callable[[Value], None] | None = None  # None = read-only
    accepts: Callable[[Value], bool] | None = None  # range check for SET (wrongValue)


def column(attr: str, i: int) -> Callable[[Any], Value]:
    """A MibEntry getter: sample -> sample.<attr>[i] (one row of a column)."""
    return lambda s: getattr(s, attr)[i]


def constant(value: Value) -> Callable[[Any], Value]:
    """A MibEntry getter for a value that never changes."""
    return lambda _s: value


class Mib:
    """Sorted OID table; tuple order is OID order, so bisect does GETNEXT."""

    __slots__ = ("_entries", "_oids")

    def __init__(self, entries: dict[Oid, MibEntry]):
        self._entries = dict(entries)
        self._oids = sorted(self._entries)

    def __len__(self) -> int:
        return len(self._oids)

    def entry(self, oid: Oid) -> MibEntry | None:
        return self._entries.get(oid)

    def position_after(self, oid: Oid) -> int:
        return bisect.bisect_right(self._oids, oid)

    def next_present(self, pos: int, sample: Any, v1: bool) -> tuple[int, Oid, int, Value] | None:
        """First present object at index >= pos: (index, oid, tag, value)."""
        oids, entries = self._oids, self._entries
        while pos < len(oids):
            oid = oids[pos]
            e = entries[oid]
            if not (v1 and e.tag == ber.COUNTER64):  # v1 cannot carry Counter64 (RFC 2576)
                v = e.get(sample)
                if v is not None:
                    return pos, oid, e.tag, v
            pos += 1
        return None


class AgentDevice(Protocol):
    """What an agent needs from a simulated device."""

    name: str
    read_community: bytes
    write_community: bytes
    max_size: int
    mib: Mib

    def answering(self) -> bool:
        """False: the device is off / booting / offline; drop every packet."""
        ...

    def sample(self) -> Any:
        """The state getters read, computed once per request."""
        ...


@dataclass(slots=True)
class AgentStats:
    received: int = 0
    answered: int = 0
    malformed: int = 0  # undecodable or not a request: dropped
    bad_community: int = 0  # unknown community: dropped (RFC 1157 authentication failure)
    silent: int = 0  # dropped because the device is not answering (off / offline)
    too_big: int = 0
    sets: int = 0  # SETs applied
    set_errors: int = 0  # SETs refused (type, range, access)
    errors: int = 0  # bugs in a device model: answered genErr

    def add(self, other: AgentStats) -> None:
        for k in self.__slots__:
            setattr(self, k, getattr(self, k) + getattr(other, k))


# v2c error -> v1 error (RFC 2576 section 4.3)
_V1_ERROR = {
    ber.NO_ACCESS: ber.NO_SUCH_NAME,
    ber.NO_CREATION: ber.NO_SUCH_NAME,
    ber.NOT_WRITABLE: ber.NO_SUCH_NAME,
    ber.WRONG_TYPE: ber.BAD_VALUE,
    ber.WRONG_VALUE: ber.BAD_VALUE,
    ber.COMMIT_FAILED: ber.GEN_ERR,
}


class SnmpAgentProtocol(asyncio.DatagramProtocol):
    def __init__(self, device: AgentDevice, stats: AgentStats | None = None):
        self.device = device
        self.stats = stats if stats is not None else AgentStats()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.handle(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP noise on loopback: ignore
        log.debug("agent %s: %s", self.device.name, exc)

    # -- request handling (pure: bytes in, bytes or None out; testable without sockets)

    def handle(self, data: bytes) -> bytes | None:
        st = self.stats
        st.received += 1
        dev = self.device
        if not dev.answering():
            st.silent += 1
            return None
        try:
            msg = ber.decode(data)
        except ber.BerError:
            st.malformed += 1
            return None
        pdu = msg.pdu
        if pdu.type == ber.GET_RESPONSE or (
            pdu.type == ber.GET_BULK_REQUEST and msg.version == ber.V1
        ):
            st.malformed += 1
            return None
        if msg.community == dev.write_community:
            can_write = True
        elif msg.community == dev.read_community:
            can_write = False
        else:
            st.bad_community += 1
            return None
        try:
            reply = self._dispatch(msg, can_write)
        except Exception:  # a model bug must not kill the loop: answer genErr
            log.exception("agent %s: request failed", dev.name)
            st.errors += 1
            reply = self._error(msg, ber.GEN_ERR, 0)
        st.answered += 1
        return reply

    def _dispatch(self, msg: ber.Message, can_write: bool) -> bytes:
        pdu = msg.pdu
        v1 = msg.version == ber.V1
        mib = self.device.mib
        if pdu.type == ber.SET_REQUEST:
            return self._set(msg, can_write)
        sample = self.device.sample()
        out: list[bytes] = []
        if pdu.type == ber.GET_REQUEST:
            for i, vb in enumerate(pdu.varbinds):
                e = mib.entry(vb.oid)
                v = None if e is None or (v1 and e.tag == ber.COUNTER64) else e.get(sample)
                if v is None:
                    if v1:
                        return self._error(msg, ber.NO_SUCH_NAME, i + 1)
                    tag = ber.NO_SUCH_OBJECT if e is None else ber.NO_SUCH_INSTANCE
                    out.append(ber.encode_varbind(vb.oid, tag))
                else:
                    out.append(ber.encode_varbind(vb.oid, e.tag, v))  # type: ignore[union-attr]
        elif pdu.type == ber.GET_NEXT_REQUEST:
            for i, vb in enumerate(pdu.varbinds):
                hit = mib.next_present(mib.position_after(vb.oid), sample, v1)
                if hit is None:
                    if v1:
                        return self._error(msg, ber.NO_SUCH_NAME, i + 1)
                    out.append(ber.encode_varbind(vb.oid, ber.END_OF_MIB_VIEW))
                else:
                    out.append(ber.encode_varbind(hit[1], hit[2], hit[3]))
        else:  # GETBULK
            out = self._bulk(pdu, sample)
            return self._respond(msg, out, bulk=True)
        return self._respond(msg, out, bulk=False)

    def _bulk(self, pdu: ber.Pdu, sample: Any) -> list[bytes]:
        mib = self.device.mib
        vbs = pdu.varbinds
        n = min(max(0, pdu.non_repeaters), len(vbs))
        m = max(0, pdu.max_repetitions)
        out: list[bytes] = []
        for vb in vbs[:n]:
            hit = mib.next_present(mib.position_after(vb.oid), sample, False)
            out.append(ber.encode_varbind(vb.oid, ber.END_OF_MIB_VIEW) if hit is None
                       else ber.encode_varbind(hit[1], hit[2], hit[3]))
        # each repeater walks on from where its last row was found (index, not bisect)
        cursors: list[tuple[int, Oid] | None] = [
            (mib.position_after(vb.oid), vb.oid) for vb in vbs[n:]
        ]
        for _ in range(m):
            if not cursors or all(c is None for c in cursors) or len(out) >= MAX_BULK_VARBINDS:
                break
            for j, cur in enumerate(cursors):
                if cur is None:
                    out.append(ber.encode_varbind(vbs[n + j].oid, ber.END_OF_MIB_VIEW))
                    continue
                hit = mib.next_present(cur[0], sample, False)
                if hit is None:
                    out.append(ber.encode_varbind(cur[1], ber.END_OF_MIB_VIEW))
                    cursors[j] = None
                else:
                    out.append(ber.encode_varbind(hit[1], hit[2], hit[3]))
                    cursors[j] = (hit[0] + 1, hit[1])
        return out

    def _set(self, msg: ber.Message, can_write: bool) -> bytes:
        st = self.stats
        pdu = msg.pdu
        if not can_write:
            st.set_errors += 1
            return self._error(msg, ber.NO_ACCESS, 1 if pdu.varbinds else 0)
        mib = self.device.mib
        plan: list[tuple[MibEntry, Value]] = []
        # validate every varbind before applying any: SET is all-or-nothing
        for i, vb in enumerate(pdu.varbinds):
            e = mib.entry(vb.oid)
            status = ber.NO_ERROR
            if e is None:
                status = ber.NO_CREATION
            elif e.set is None:
                status = ber.NOT_WRITABLE
            elif vb.tag != e.tag:
                status = ber.WRONG_TYPE
            elif e.accepts is not None and not e.accepts(vb.value):
                status = ber.WRONG_VALUE
            if status != ber.NO_ERROR:
                st.set_errors += 1
                return self._error(msg, status, i + 1)
            plan.append((e, vb.value))  # type: ignore[arg-type]
        for i, (e, value) in enumerate(plan):
            try:
                e.set(value)  # type: ignore[misc]
            except Exception:
                log.exception("agent %s: SET apply failed", self.device.name)
                st.set_errors += 1
                return self._error(msg, ber.COMMIT_FAILED, i + 1)
        st.sets += 1
        return self._respond(msg, [ber.encode_varbind(*vb) for vb in pdu.varbinds], bulk=False)

    # -- response building

    def _error(self, msg: ber.Message, status: int, index: int) -> bytes:
        if msg.version == ber.V1:
            status = _V1_ERROR.get(status, status)
        body = b"".join([ber.encode_varbind(*vb) for vb in msg.pdu.varbinds])
        return ber.encode_message_parts(msg.version, msg.community, ber.GET_RESPONSE,
                                        msg.pdu.request_id, status, index, body)

    def _respond(self, msg: ber.Message, out: list[bytes], bulk: bool) -> bytes:
        max_size = self.device.max_size
        rid = msg.pdu.request_id
        reply = ber.encode_message_parts(msg.version, msg.community, ber.GET_RESPONSE, rid, 0, 0,
                                         b"".join(out))
        if len(reply) <= max_size:
            return reply
        if bulk:
            # RFC 3416 4.2.3: a GETBULK answer is cut short to fit, not refused
            empty = len(ber.encode_message_parts(msg.version, msg.community, ber.GET_RESPONSE,
                                                 rid, 0, 0, b""))
            budget = max_size - empty - 12  # the three outer length fields may grow
            keep, used = 0, 0
            for chunk in out:
                if used + len(chunk) > budget:
                    break
                used += len(chunk)
                keep += 1
            if keep:
                return ber.encode_message_parts(msg.version, msg.community, ber.GET_RESPONSE,
                                                rid, 0, 0, b"".join(out[:keep]))
        self.stats.too_big += 1
        # v2c: tooBig with an empty varbind list (RFC 3416 4.2.1); v1 echoes the request
        body = b"" if msg.version == ber.V2C else b"".join(
            [ber.encode_varbind(*vb) for vb in msg.pdu.varbinds])
        return ber.encode_message_parts(msg.version, msg.community, ber.GET_RESPONSE, rid,
                                        ber.TOO_BIG, 0, body)


@dataclass(slots=True)
class RunningAgent:
    device: AgentDevice
    port: int
    transport: asyncio.DatagramTransport
    protocol: SnmpAgentProtocol = field(repr=False)

    @property
    def stats(self) -> AgentStats:
        return self.protocol.stats

    def close(self) -> None:
        self.transport.close()


async def start_agents(devices: Iterable[AgentDevice], host: str = "127.0.0.1",
                       base_port: int = 0) -> list[RunningAgent]:
    """One UDP endpoint per device on the running loop. base_port 0: the OS
    picks each port; otherwise ports base_port, base_port+1, ... are used.
    Returns the agents in device order with their actual ports."""
    loop = asyncio.get_running_loop()
    agents: list[RunningAgent] = []
    try:
        for i, dev in enumerate(devices):
            port = 0 if base_port == 0 else base_port + i
            transport, proto = await loop.create_datagram_endpoint(
                lambda d=dev: SnmpAgentProtocol(d), local_addr=(host, port))  # type: ignore[misc]
            actual = transport.get_extra_info("sockname")[1]
            agents.append(RunningAgent(dev, actual, transport, proto))
    except BaseException:
        for a in agents:
            a.close()
        raise
    return agents


def system_entries(descr: str, object_id: Oid, uptime_ticks: Callable[[Any], int | None],
                   name: str) -> dict[Oid, MibEntry]:
    """SNMPv2-MIB system group, so generic tools (snmpwalk, pysnmp) recognise the device."""
    d, o, n = descr.encode(), object_id, name.encode()
    return {
        (1, 3, 6, 1, 2, 1, 1, 1, 0): MibEntry(ber.OCTET_STRING, lambda s: d),
        (1, 3, 6, 1, 2, 1, 1, 2, 0): MibEntry(ber.OBJECT_IDENTIFIER, lambda s: o),
        (1, 3, 6, 1, 2, 1, 1, 3, 0): MibEntry(ber.TIMETICKS, uptime_ticks),
        (1, 3, 6, 1, 2, 1, 1, 5, 0): MibEntry(ber.OCTET_STRING, lambda s: n),
    }
