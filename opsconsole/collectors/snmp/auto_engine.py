"""AutoEngine: the lean engine for the read hot path, pysnmp for the rest.

Routing (per call):
- SET, and every SNMPv3 target -> pysnmp (the lean engine does neither);
- an agent that keeps sending datagrams our strict codec rejects (at least
  `decode_error_limit` since its last good answer, ending in a timeout) ->
  pysnmp from then on, and the failed call is retried there once: pyasn1 is
  lenient about encodings (non-minimal integers, odd tags) that real firmware
  sends. The move lasts for this engine's life: an agent that is odd once is
  odd again, and flapping would cost a timeout each way;
- everything else -> lean.
Stats are the sum of both engines' counters plus the routing counters.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from opsconsole.collectors.snmp.engine import SnmpTarget, SnmpTimeout, SnmpValue
from opsconsole.collectors.snmp.lean_engine import LeanEngine, UnsupportedByEngine

if TYPE_CHECKING:
    from opsconsole.collectors.snmp.pysnmp_engine import PysnmpEngine

log = logging.getLogger(__name__)

MAX_FALLBACK_AGENTS = 50_000
T = TypeVar("T")


class AutoEngine:
    name = "auto"

    def __init__(
        self,
        lean: LeanEngine | None = None,
        slow: PysnmpEngine | None = None,
        *,
        decode_error_limit: int = 3,
    ) -> None:
        self.lean = lean or LeanEngine()
        # made on first use: importing pysnmp costs ~0.4 s of CPU, and a v1/v2c
        # site that only reads never needs it (`poll --once` pays it per run)
        self._slow = slow
        self.decode_error_limit = decode_error_limit
        self._odd: set[tuple[str, int]] = set()  # agents handed to pysnmp
        self._routed = {"lean_calls": 0, "pysnmp_calls": 0, "fallbacks": 0}

    @property
    def slow(self) -> PysnmpEngine:
        if self._slow is None:
            from opsconsole.collectors.snmp.pysnmp_engine import PysnmpEngine

            self._slow = PysnmpEngine()  # cheap once imported: binds on first use
        return self._slow

    def uses_pysnmp(self, target: SnmpTarget) -> bool:
        return target.credentials.version == "3" or (target.host, target.port) in self._odd

    def _odd_agent(self, target: SnmpTarget) -> bool:
        """After a lean-engine timeout: was it our codec, not the network?"""
        if self.lean.decode_errors(target.host, target.port) < self.decode_error_limit:
            return False
        if len(self._odd) < MAX_FALLBACK_AGENTS:
            self._odd.add((target.host, target.port))
        self._routed["fallbacks"] += 1
        log.warning("%s:%s sends answers the lean engine's codec rejects: using pysnmp for it",
                    target.host, target.port)
        return True

    async def _read(self, target: SnmpTarget, call: Callable[[Any], Awaitable[T]]) -> T:
        """Route one read: lean unless the target needs pysnmp; on a lean
        timeout caused by our strict codec, move the agent and retry there."""
        if not self.uses_pysnmp(target):
            self._routed["lean_calls"] += 1
            try:
                return await call(self.lean)
            except UnsupportedByEngine:
                pass
            except SnmpTimeout:
                if not self._odd_agent(target):
                    raise
        self._routed["pysnmp_calls"] += 1
        return await call(self.slow)

    async def get(self, target: SnmpTarget, oids: list[str]) -> dict[str, SnmpValue]:
        return await self._read(target, lambda engine: engine.get(target, oids))

    async def walk(self, target: SnmpTarget, oid: str) -> list[tuple[str, SnmpValue]]:
        return await self._read(target, lambda engine: engine.walk(target, oid))

    async def set(self, target: SnmpTarget, oid: str, type_: str, value: int | str) -> SnmpValue:
        self._routed["pysnmp_calls"] += 1
        return await self.slow.set(target, oid, type_, value)

    def stats(self) -> dict[str, int]:
        out = dict(self.lean.stats())  # pysnmp's counters are a subset of these
        for k, v in (self._slow.stats() if self._slow is not None else {}).items():
            out[k] = out.get(k, 0) + v
        out.update(self._routed)
        out["pysnmp_agents"] = len(self._odd)
        return out

    async def close(self) -> None:
        try:
            await self.lean.close()
        finally:
            if self._slow is not None:
                await self._slow.close()


__all__ = ["AutoEngine"]
