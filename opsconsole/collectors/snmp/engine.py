"""The one small interface every SNMP engine implements: get, walk, set.

Engines live on the collector's asyncio loop (one engine, one loop). Values
come back as plain Python: int for INTEGER/Gauge/Counter/TimeTicks/Unsigned,
bytes for OCTET STRING, str for OBJECT IDENTIFIER / IpAddress. A missing
object (noSuchObject, noSuchInstance, endOfMibView) is None, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from opsconsole.core.site import Credentials

SnmpValue = int | bytes | str | None


@dataclass(frozen=True, slots=True)
class SnmpTarget:
    host: str
    port: int
    credentials: Credentials
    timeout_s: float = 2.0
    retries: int = 1

    def __repr__(self) -> str:
        return f"SnmpTarget({self.host}:{self.port}, v{self.credentials.version})"


class SnmpError(Exception):
    """The agent answered, but wrongly (auth, decode, error-status).
    Messages are one line and never carry a secret."""


class SnmpTimeout(SnmpError):
    """No (valid) answer in time, retries included."""


class SnmpAuthError(SnmpError):
    """SNMPv3 authentication / privacy failure, unknown user, wrong community
    where the agent reports it."""


class SnmpEngine(Protocol):
    name: str

    async def get(self, target: SnmpTarget, oids: list[str]) -> dict[str, SnmpValue]:
        """GET every OID; split across PDUs as the agent requires (tooBig).
        Returns a value (or None if missing) for each requested OID."""
        ...

    async def walk(self, target: SnmpTarget, oid: str) -> list[tuple[str, SnmpValue]]:
        """GETBULK (GETNEXT on v1) walk of the subtree under `oid`, in order."""
        ...

    async def set(self, target: SnmpTarget, oid: str, type_: str, value: int | str) -> SnmpValue:
        """SET one object (type_: integer | unsigned | string); returns the value
        the agent echoed. Callers read back separately to verify."""
        ...

    def stats(self) -> dict[str, int]:
        """Counters: requests, timeouts, dropped (malformed / mismatched) packets."""
        ...

    async def close(self) -> None: ...


# -- helpers the engines share ------------------------------------------------


class PduLimits:
    """The request-size limits both engines take: OIDs per GET PDU (halved per
    agent on tooBig), GETBULK max-repetitions, and the largest message (the lean
    engine drops larger answers; pysnmp announces it as msgMaxSize on v3)."""

    def __init__(
        self,
        *,
        max_oids_per_pdu: int = 32,
        max_repetitions: int = 25,
        max_message_size: int = 65507,
    ) -> None:
        if max_oids_per_pdu < 1 or max_repetitions < 1:
            raise ValueError("max_oids_per_pdu and max_repetitions must be >= 1")
        self.max_oids_per_pdu = max_oids_per_pdu
        self.max_repetitions = max_repetitions
        self.max_message_size = max_message_size


_OID_RE = re.compile(r"\d+(?:\.\d+)+")


@lru_cache(maxsize=65536)
def norm_oid(oid: str) -> str:
    """A dotted numeric OID without a leading dot; names are refused (they
    would send pysnmp looking for MIB files, and profiles hold numbers).
    Cached: a profile's OIDs (already normal, core/profileload.py checks them
    when the profile loads) are asked every cycle; bad ones raise, uncached."""
    norm = oid.strip().lstrip(".")
    if not _OID_RE.fullmatch(norm):
        raise SnmpError(f"not a numeric OID: {oid!r}")
    return norm


class TooBig(Exception):
    """The agent answered tooBig: the request must shrink (engine-internal)."""


async def get_in_chunks(
    target: SnmpTarget,
    oids: list[str],
    get_chunk: Callable[[SnmpTarget, list[str]], Awaitable[dict[str, SnmpValue]]],
    pdu_sizes: dict[tuple[str, int], int],
    default_size: int,
    count: Callable[[str], None],
    max_agents: int = 50_000,
) -> dict[str, SnmpValue]:
    """GET many OIDs in as few PDUs as the agent accepts: start at
    `default_size` OIDs per PDU, halve on tooBig and remember the accepted size
    per agent (the dict is bounded so memory stays flat at any fleet size)."""
    norms = [norm_oid(o) for o in oids]  # once per OID per GET
    wanted = list(dict.fromkeys(norms))
    found: dict[str, SnmpValue] = {}
    agent = (target.host, target.port)
    pos = 0
    while pos < len(wanted):
        chunk = wanted[pos : pos + pdu_sizes.get(agent, default_size)]
        try:
            found.update(await get_chunk(target, chunk))
        except TooBig:
            count("too_big")
            if len(chunk) == 1:
                count("errors")
                raise SnmpError(
                    f"{target.host}:{target.port}: GET {chunk[0]}: tooBig for a single OID"
                ) from None
            if len(pdu_sizes) >= max_agents:
                pdu_sizes.clear()
            pdu_sizes[agent] = max(1, len(chunk) // 2)
            continue
        pos += len(chunk)
    return {o: found.get(n) for o, n in zip(oids, norms, strict=True)}
