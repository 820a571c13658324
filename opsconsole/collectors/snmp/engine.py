"""The one small interface every SNMP engine implements: get, walk, set.

Engines live on the collector's asyncio loop (one engine, one loop). Values
come back as plain Python: int for INTEGER/Gauge/Counter/TimeTicks/Unsigned,
bytes for OCTET STRING, str for OBJECT IDENTIFIER / IpAddress. A missing
object (noSuchObject, noSuchInstance, endOfMibView) is None, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
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
