"""SnmpEngine on pysnmp 7 (`pysnmp.hlapi.v3arch.asyncio`).

One pysnmp `SnmpEngine` per `PysnmpEngine`, created lazily on the first call
and bound to that running loop: pysnmp's transport dispatcher captures the
loop when its socket opens, so a second loop would silently never see
answers. Every target shares that engine's one UDP socket; answers are
matched by request id.

Dropped packets: pysnmp discards bad datagrams silently inside its message
dispatcher. We count them from two sources (see `_dropped_in`):
- the engine's own MIB counters for what fails before message processing
  (snmpInASNParseErrs, snmpInBadVersions) and for answers with no pending
  request (snmpUnknownPDUHandlers);
- a wrapper around each message-processing model's `prepare_data_elements`
  that counts every `StatusInformation` it raises without a `sendPduHandle`:
  an answer whose request id / msgID matches nothing pending (late duplicate,
  spoof), an unknown community, a USM failure on an incoming message, an
  unsupported security model. (A `StatusInformation` *with* a handle is a v3
  report routed to its request, e.g. engine discovery: not a drop.)

Wrong SNMPv3 privacy key: net-snmp cannot tell a wrong privacy key from
garbage (CFB decryption "succeeds", the plaintext fails to parse) and drops the
request silently, so it looks like a timeout. When an authPriv request times
out although that agent has sent us a v3 report (engine discovery) and these
credentials never got an answer from it, we raise SnmpAuthError instead.

Known pysnmp limits: USM users are keyed by user name in the engine, so two
targets that share a v3 user name but use different keys make pysnmp swap
the user's keys on each switch; keep one key set per user name per engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from collections.abc import Callable, Sequence
from typing import Any

from pyasn1.type import univ
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    next_cmd,
    set_cmd,
)
from pysnmp.hlapi.v3arch.asyncio import (
    SnmpEngine as _PySnmpEngine,
)
from pysnmp.hlapi.v3arch.asyncio import auth as _auth
from pysnmp.hlapi.varbinds import CommandGeneratorVarBinds
from pysnmp.proto import errind, rfc1902, rfc1905
from pysnmp.proto.error import StatusInformation

from opsconsole.collectors.snmp.engine import (
    PduLimits,
    SnmpAuthError,
    SnmpError,
    SnmpTarget,
    SnmpTimeout,
    SnmpValue,
    TooBig,
    get_in_chunks,
    norm_oid,
)
from opsconsole.core.site import Credentials

RECV_BUFFER_BYTES = 4 << 20

AUTH_PROTOCOLS: dict[str, tuple[int, ...]] = {
    "MD5": _auth.USM_AUTH_HMAC96_MD5,
    "SHA": _auth.USM_AUTH_HMAC96_SHA,
    "SHA1": _auth.USM_AUTH_HMAC96_SHA,
    "SHA224": _auth.USM_AUTH_HMAC128_SHA224,
    "SHA256": _auth.USM_AUTH_HMAC192_SHA256,
    "SHA384": _auth.USM_AUTH_HMAC256_SHA384,
    "SHA512": _auth.USM_AUTH_HMAC384_SHA512,
}
# AES192/AES256 use the Blumenthal key extension (draft-blumenthal-aes-usm),
# which is what net-snmp calls AES-192/AES-256; the Reeder ("Cisco") variant
# is reachable as AES192C/AES256C.
PRIV_PROTOCOLS: dict[str, tuple[int, ...]] = {
    "DES": _auth.USM_PRIV_CBC56_DES,
    "3DES": _auth.USM_PRIV_CBC168_3DES,
    "AES": _auth.USM_PRIV_CFB128_AES,
    "AES128": _auth.USM_PRIV_CFB128_AES,
    "AES192": _auth.USM_PRIV_CFB192_AES_BLUMENTHAL,
    "AES256": _auth.USM_PRIV_CFB256_AES_BLUMENTHAL,
    "AES192C": _auth.USM_PRIV_CFB192_AES,
    "AES256C": _auth.USM_PRIV_CFB256_AES,
}

# v3 failures that mean "credentials or security level wrong", not "no answer".
_AUTH_INDICATIONS: tuple[type[errind.ErrorIndication], ...] = (
    errind.UnknownUserName,
    errind.WrongDigest,
    errind.DecryptionError,
    errind.UnsupportedSecurityLevel,
    errind.NotInTimeWindow,
    errind.UnknownEngineID,
    errind.AuthenticationError,
    errind.AuthenticationFailure,
    errind.UnknownSecurityName,
    errind.NoAuthentication,
    errind.NoEncryption,
    errind.UnsupportedAuthProtocol,
    errind.UnsupportedPrivProtocol,
)
_MISSING = (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView)
_TOO_BIG = 1
_NO_SUCH_NAME = 2
_SET_TYPES: dict[str, Callable[[Any], Any]] = {
    "integer": rfc1902.Integer32,
    "unsigned": rfc1902.Unsigned32,
    "gauge": rfc1902.Gauge32,
    "string": rfc1902.OctetString,
}
_DROP_COUNTERS = (
    ("__SNMPv2-MIB", "snmpInASNParseErrs"),
    ("__SNMPv2-MIB", "snmpInBadVersions"),
    ("__SNMP-MPD-MIB", "snmpUnknownPDUHandlers"),
)


def to_python(value: Any) -> SnmpValue:
    """pyasn1 value -> int | bytes | str | None (missing)."""
    if value is None or isinstance(value, (*_MISSING, univ.Null)):
        return None
    if isinstance(value, rfc1902.IpAddress):  # an OctetString subclass: test first
        return ".".join(str(b) for b in value.asOctets())
    if isinstance(value, univ.Integer):  # Integer32, Gauge32, Counter32/64, TimeTicks...
        return int(value)
    if isinstance(value, univ.OctetString):  # incl. Opaque and Bits
        return value.asOctets()
    if isinstance(value, univ.ObjectIdentifier):
        return str(value)
    raise SnmpError(f"unsupported SNMP value type {type(value).__name__}")


def _scrub(text: str, creds: Credentials) -> str:
    """Foreign error text (pysnmp, pyasn1) must not carry a secret into a message."""
    for secret in (creds.community, creds.auth_key, creds.priv_key):
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())  # one line


def _protocol(creds: Credentials, name: str | None, known: dict[str, tuple[int, ...]],
              what: str) -> tuple[int, ...] | None:
    """The pysnmp protocol OID for an auth or privacy protocol name (None when unset)."""
    if not name:
        return None
    proto = known.get(name.upper().replace("-", ""))
    if proto is None:
        raise SnmpError(f"credentials {creds.id!r}: unknown {what} protocol {name!r}")
    return proto


def _is_under(oid: tuple[int, ...], root: tuple[int, ...]) -> bool:
    return len(oid) > len(root) and oid[: len(root)] == root


class PysnmpEngine(PduLimits):
    """The SnmpEngine interface on pysnmp 7; see the module docstring."""

    name = "pysnmp"

    def __init__(self, **limits: int) -> None:
        super().__init__(**limits)
        self._engine: _PySnmpEngine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context = ContextData()
        self._auth: dict[Credentials, CommunityData | UsmUserData] = {}
        self._community_ids: dict[tuple[str, int], str] = {}
        self._transports: dict[tuple[str, int, float, int], UdpTransportTarget] = {}
        self._pdu_size: dict[tuple[str, int], int] = {}  # learned from tooBig, per agent
        self._counts = {"requests": 0, "timeouts": 0, "errors": 0, "too_big": 0}
        self._dropped_mp = 0  # counted by the prepare_data_elements wrappers
        self._dropped_base = 0  # MIB counters of engines already closed
        self._reported: set[tuple[str, int]] = set()  # agents that sent us a v3 report
        self._v3_ok: set[tuple[str, int, Credentials]] = set()  # answered at least once
        self._socket_tuned = False
        self._warmup = asyncio.Lock()
        self._varbinds: dict[str, ObjectType] = {}  # resolved GET varbinds, per engine

    # -- engine and per-target objects -------------------------------------------

    def _bind(self) -> _PySnmpEngine:
        loop = asyncio.get_running_loop()
        if self._engine is None:
            self._engine = _PySnmpEngine(maxMessageSize=self.max_message_size)
            self._loop = loop
            for mp in self._engine.message_processing_subsystems.values():
                self._wrap_prepare(mp)
            self._engine.observer.register_observer(
                self._on_report, "rfc3412.prepareDataElements:internal"
            )
        elif self._loop is not loop:
            raise RuntimeError("PysnmpEngine is bound to another event loop (one engine, one loop)")
        return self._engine

    def _tune_socket(self, engine: _PySnmpEngine) -> None:
        """Every answer lands on the engine's one UDP socket: with hundreds of
        polls in flight, the kernel's default receive buffer (about 200 KB,
        ~1 KB of accounting per datagram) overflows and answers are lost as
        "timeouts". Ask for a few MB (capped by net.core.rmem_max)."""
        with contextlib.suppress(Exception):
            carrier = engine.transport_dispatcher.get_transport(udp.DOMAIN_NAME)
            sock = carrier.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER_BYTES)
                self._socket_tuned = True

    def _wrap_prepare(self, mp: Any) -> None:
        original = mp.prepare_data_elements

        def prepare_data_elements(*args: Any, **kwargs: Any) -> Any:
            try:
                return original(*args, **kwargs)
            except StatusInformation as info:
                if "sendPduHandle" not in info:  # not routed to any request: discarded
                    self._dropped_mp += 1
                raise

        mp.prepare_data_elements = prepare_data_elements

    def _on_report(self, _engine: Any, _point: str, variables: dict[str, Any], _ctx: Any) -> None:
        addr = variables.get("transportAddress")
        if addr is None:
            return
        with contextlib.suppress(Exception):
            self._reported.add((str(addr[0]), int(addr[1])))

    def _auth_data(self, creds: Credentials) -> CommunityData | UsmUserData:
        auth = self._auth.get(creds)
        if auth is not None:
            return auth
        if creds.version in ("1", "2c"):
            if creds.community is None:
                raise SnmpError(f"credentials {creds.id!r}: no community")
            mp_model = 0 if creds.version == "1" else 1
            # A secret-free, stable index per (community, model): pysnmp derives the
            # security name from it and matches answers against it.
            key = (creds.community, mp_model)
            index = self._community_ids.setdefault(key, f"c{len(self._community_ids) + 1}")
            auth = CommunityData(index, creds.community, mpModel=mp_model)
        elif creds.version == "3":
            if not creds.user:
                raise SnmpError(f"credentials {creds.id!r}: no SNMPv3 user")
            auth_proto = _protocol(creds, creds.auth_protocol, AUTH_PROTOCOLS, "auth")
            priv_proto = _protocol(creds, creds.priv_protocol, PRIV_PROTOCOLS, "privacy")
            if priv_proto is not None and auth_proto is None:
                raise SnmpError(f"credentials {creds.id!r}: privacy needs authentication")
            auth = UsmUserData(
                creds.user,
                authKey=creds.auth_key if auth_proto else None,
                privKey=creds.priv_key if priv_proto else None,
                authProtocol=auth_proto,
                privProtocol=priv_proto,
            )
        else:
            raise SnmpError(f"credentials {creds.id!r}: unknown SNMP version {creds.version!r}")
        self._auth[creds] = auth
        return auth

    async def _transport(self, target: SnmpTarget) -> UdpTransportTarget:
        key = (target.host, target.port, target.timeout_s, target.retries)
        transport = self._transports.get(key)
        if transport is None:
            try:
                transport = await UdpTransportTarget.create(
                    (target.host, target.port), timeout=target.timeout_s, retries=target.retries
                )
            except Exception as exc:  # resolution failures come as PySnmpError
                raise SnmpError(f"{target.host}:{target.port}: cannot resolve address") from exc
            self._transports[key] = transport
        return transport

    # -- one PDU -------------------------------------------------------------------

    async def _request(
        self, target: SnmpTarget, what: str, send: Callable[..., Any], *args: Any
    ) -> tuple[Any, Any, Any, Sequence[Any]]:
        """Send one PDU; map engine-level failures to our exceptions."""
        engine = self._bind()
        auth = self._auth_data(target.credentials)
        transport = await self._transport(target)
        self._counts["requests"] += 1
        # pysnmp times out by itself; this bound only guards against a callback
        # that never comes.
        bound = target.timeout_s * (target.retries + 1) + 5.0
        try:
            pending = send(engine, auth, transport, self._context, *args, lookupMib=False)
            if not self._socket_tuned:
                # pysnmp opens its socket with the first request: let that one
                # go alone, then enlarge the buffer before the crowd arrives.
                async with self._warmup:
                    if not self._socket_tuned:
                        try:
                            result = await asyncio.wait_for(pending, bound)
                        finally:
                            self._tune_socket(engine)
                            self._socket_tuned = True  # tried: never serialise again
                        pending = None
            if pending is not None:
                result = await asyncio.wait_for(pending, bound)
            ind, status, index, var_binds = result
        except TimeoutError:
            ind, status, index, var_binds = errind.requestTimedOut, 0, 0, ()
        except Exception as exc:  # pysnmp raises PySnmpError/PyAsn1Error for odd input
            self._counts["errors"] += 1
            text = _scrub(f"{type(exc).__name__}: {exc}", target.credentials)
            raise SnmpError(f"{target.host}:{target.port}: {what}: {text}") from None
        v3_key = (*transport.transport_address[:2], target.credentials)
        if ind:
            if isinstance(ind, errind.RequestTimedOut):
                if (
                    target.credentials.security_level == "authPriv"
                    and v3_key[:2] in self._reported
                    and v3_key not in self._v3_ok
                ):
                    self._counts["errors"] += 1
                    raise SnmpAuthError(
                        f"{target.host}:{target.port}: SNMPv3 privacy failed: the agent answers"
                        " discovery but not requests (wrong privacy key or protocol?)"
                    )
                self._counts["timeouts"] += 1
                raise SnmpTimeout(
                    f"{target.host}:{target.port}: no SNMP answer in {target.timeout_s:g} s"
                    f" x {target.retries + 1} tries"
                )
            if isinstance(ind, errind.TooBig):
                raise TooBig
            self._counts["errors"] += 1
            if isinstance(ind, _AUTH_INDICATIONS):
                raise SnmpAuthError(
                    f"{target.host}:{target.port}: SNMPv3 authentication failed"
                    f" (wrong key or user?): {type(ind).__name__}"
                )
            text = _scrub(str(ind), target.credentials)
            raise SnmpError(f"{target.host}:{target.port}: {what}: {text}")
        if target.credentials.version == "3":
            self._v3_ok.add(v3_key)
        if int(status) == _TOO_BIG:
            raise TooBig
        return ind, status, index, var_binds

    def _count(self, what: str) -> None:
        self._counts[what] += 1

    def _status_error(
        self, target: SnmpTarget, what: str, status: Any, index: Any, oids: Sequence[str]
    ) -> SnmpError:
        self._counts["errors"] += 1
        name = status.prettyPrint() if hasattr(status, "prettyPrint") else str(status)
        i = int(index)
        where = f" at {oids[i - 1]}" if 0 < i <= len(oids) else ""
        return SnmpError(f"{target.host}:{target.port}: {what}{where}: {name}")

    # -- get -------------------------------------------------------------------------

    async def get(self, target: SnmpTarget, oids: list[str]) -> dict[str, SnmpValue]:
        return await get_in_chunks(target, oids, self._get_chunk, self._pdu_size,
                                   self.max_oids_per_pdu, self._count)

    def _get_varbind(self, oid: str) -> ObjectType:
        """A GET varbind resolved once per OID and reused: pysnmp re-resolves
        every ObjectType through its MIB view on each request (a quarter of
        a millisecond each), but skips one already marked resolved."""
        vb = self._varbinds.get(oid)
        if vb is None:
            engine = self._bind()
            view = CommandGeneratorVarBinds.get_mib_view_controller(engine.cache)
            vb = ObjectType(ObjectIdentity(oid)).resolve_with_mib(view, ignoreErrors=False)
            if len(self._varbinds) < 100_000:  # profiles name few OIDs; bound it anyway
                self._varbinds[oid] = vb
        return vb

    async def _get_chunk(self, target: SnmpTarget, chunk: list[str]) -> dict[str, SnmpValue]:
        values: dict[str, SnmpValue] = {}
        remaining = list(chunk)
        while remaining:
            var_binds = [self._get_varbind(o) for o in remaining]
            _, status, index, answer = await self._request(target, "GET", get_cmd, *var_binds)
            i = int(index)
            if int(status) == _NO_SUCH_NAME and 0 < i <= len(remaining):
                # SNMPv1 has no per-varbind "missing": drop the named OID and ask again.
                values[remaining.pop(i - 1)] = None
                continue
            if int(status):
                raise self._status_error(target, "GET", status, index, remaining)
            if len(answer) != len(remaining):
                self._counts["errors"] += 1
                raise SnmpError(
                    f"{target.host}:{target.port}: GET: {len(answer)} varbinds"
                    f" for {len(remaining)} OIDs"
                )
            # Answers come in request order (RFC 3416 4.2.1).
            for oid, (_, value) in zip(remaining, answer, strict=True):
                values[oid] = to_python(value)
            break
        return values

    # -- walk ------------------------------------------------------------------------

    async def walk(self, target: SnmpTarget, oid: str) -> list[tuple[str, SnmpValue]]:
        root = tuple(int(x) for x in norm_oid(oid).split("."))
        v1 = target.credentials.version == "1"
        rows: list[tuple[str, SnmpValue]] = []
        last = root
        reps = self.max_repetitions
        while True:
            start = ObjectType(ObjectIdentity(".".join(map(str, last))))
            try:
                if v1:
                    _, status, index, answer = await self._request(
                        target, "GETNEXT", next_cmd, start
                    )
                    if int(status) == _NO_SUCH_NAME:  # v1's end of MIB view
                        return rows
                else:
                    _, status, index, answer = await self._request(
                        target, "GETBULK", bulk_cmd, 0, reps, start
                    )
            except TooBig:
                # Agents should trim GETBULK answers themselves; some say tooBig.
                self._counts["too_big"] += 1
                if v1 or reps == 1:
                    self._counts["errors"] += 1
                    raise SnmpError(
                        f"{target.host}:{target.port}: walk {norm_oid(oid)}: tooBig"
                    ) from None
                reps = max(1, reps // 2)
                continue
            if int(status):
                raise self._status_error(target, "walk", status, index, [oid])
            if not answer:
                return rows
            for name, value in answer:
                cur = tuple(name)
                if isinstance(value, rfc1905.EndOfMibView) or not _is_under(cur, root):
                    return rows
                if cur <= last:
                    self._counts["errors"] += 1
                    raise SnmpError(
                        f"{target.host}:{target.port}: walk {norm_oid(oid)}: OID not"
                        f" increasing ({name} after {'.'.join(map(str, last))})"
                    )
                rows.append((str(name), to_python(value)))
                last = cur

    # -- set -------------------------------------------------------------------------

    async def set(self, target: SnmpTarget, oid: str, type_: str, value: int | str) -> SnmpValue:
        make = _SET_TYPES.get(type_)
        if make is None:
            raise SnmpError(f"SET {oid}: unknown type {type_!r} (integer | unsigned | string)")
        oid = norm_oid(oid)
        try:
            typed = make(value.encode() if isinstance(value, str) and type_ == "string" else value)
        except Exception as exc:  # pyasn1 range / type errors
            raise SnmpError(f"SET {oid}: bad {type_} value") from exc
        creds = target.credentials
        if creds.version in ("1", "2c") and creds.write_community:
            # v1/v2c sites often keep a separate write community
            target = dataclasses.replace(
                target, credentials=dataclasses.replace(creds, community=creds.write_community)
            )
        try:
            _, status, _index, answer = await self._request(
                target, "SET", set_cmd, ObjectType(ObjectIdentity(oid), typed)
            )
        except TooBig:
            self._counts["errors"] += 1
            raise SnmpError(f"{target.host}:{target.port}: SET {oid}: tooBig") from None
        if int(status):
            self._counts["errors"] += 1
            name = status.prettyPrint()
            raise SnmpError(f"{target.host}:{target.port}: SET {oid} failed: {name}")
        return to_python(answer[0][1]) if answer else None

    # -- bookkeeping -----------------------------------------------------------------

    @staticmethod
    def _dropped_in(engine: _PySnmpEngine | None) -> int:
        """Sum of the engine's MIB counters of discarded incoming messages."""
        if engine is None:
            return 0
        builder = engine.get_mib_builder()
        total = 0
        for module, symbol in _DROP_COUNTERS:
            with contextlib.suppress(Exception):  # a counter pysnmp does not define
                (node,) = builder.import_symbols(module, symbol)
                total += int(node.syntax)
        return total

    def stats(self) -> dict[str, int]:
        dropped = self._dropped_base + self._dropped_mp + self._dropped_in(self._engine)
        return {**self._counts, "dropped": dropped}

    async def close(self) -> None:
        """Release the socket. Call it on the engine's loop, or after that loop closed."""
        engine, loop = self._engine, self._loop
        if engine is None:
            return
        if loop is not asyncio.get_running_loop() and loop is not None and not loop.is_closed():
            raise RuntimeError("close PysnmpEngine on its own event loop (one engine, one loop)")
        self._dropped_base += self._dropped_in(engine)
        self._engine = self._loop = None
        self._socket_tuned = False
        self._varbinds.clear()
        self._auth.clear()
        self._transports.clear()
        self._reported.clear()
        self._v3_ok.clear()
        if loop is not None and not loop.is_closed():
            engine.close_dispatcher()
            await asyncio.sleep(0)  # asyncio closes the socket in a call_soon callback
        else:
            _close_orphaned_socket(engine)


def _close_orphaned_socket(engine: _PySnmpEngine) -> None:
    """The loop that owned the socket is closed and can no longer close it."""
    with contextlib.suppress(Exception):
        carrier = engine.transport_dispatcher.get_transport(udp.DOMAIN_NAME)
        # What transport.close() would have scheduled on the loop: close the
        # socket and drop it (private asyncio API, but the only handle left).
        carrier.transport._call_connection_lost(None)


__all__ = ["AUTH_PROTOCOLS", "PRIV_PROTOCOLS", "PysnmpEngine", "to_python"]
