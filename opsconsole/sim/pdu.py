"""A simulated APC switched rack PDU (PowerNet-MIB rPDU2 layout).

Served objects (base 1.3.6.1.4.1.318.1.1.26, see docs/architecture.md "Reality notes"):
  .4.3.1.5.1       device power, hundredths of kW (INTEGER)
  .9.2.3.1.3.<n>   outlet name (OCTET STRING)
  .9.2.3.1.5.<n>   outlet state 1 off, 2 on (INTEGER)
  .9.2.4.1.5.<n>   outlet control, read-write: 1 on, 2 off, 3 reboot; reads 1/2
  .9.4.3.1.7.<n>   outlet active power W (INTEGER)
Each outlet feeds at most one SimMiner through the miner's PowerFeed, so an
outlet switched off really cuts the miner: it stops answering and draws 0 W.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opsconsole.collectors.snmp import ber
from opsconsole.collectors.snmp.ber import Oid, Value
from opsconsole.sim.agent import (
    DEFAULT_MAX_SIZE,
    Mib,
    MibEntry,
    column,
    constant,
    system_entries,
)
from opsconsole.sim.miner import Clock, PowerFeed, SimMiner

APC_BASE: Oid = (1, 3, 6, 1, 4, 1, 318, 1, 1, 26)
OID_DEVICE_POWER = (*APC_BASE, 4, 3, 1, 5, 1)
OID_OUTLET_NAME = (*APC_BASE, 9, 2, 3, 1, 3)
OID_OUTLET_STATE = (*APC_BASE, 9, 2, 3, 1, 5)
OID_OUTLET_CONTROL = (*APC_BASE, 9, 2, 4, 1, 5)
OID_OUTLET_POWER = (*APC_BASE, 9, 4, 3, 1, 7)
SYS_OBJECT_ID: Oid = (1, 3, 6, 1, 4, 1, 318, 1, 3, 4, 6)  # masterSwitchrPDU2

OUTLET_OFF, OUTLET_ON = 1, 2  # rPDU2OutletSwitchedStatusState
CMD_ON, CMD_OFF, CMD_REBOOT = 1, 2, 3  # rPDU2OutletSwitchedControlCommand
SELF_POWER_W = 12.0  # the PDU's own electronics


@dataclass(frozen=True, slots=True)
class PduSample:
    t: float
    on: tuple[bool, ...]
    power_w: tuple[int, ...]


class SimPdu:
    def __init__(
        self,
        name: str,
        miners: Sequence[SimMiner | None],
        *,
        outlets: int | None = None,  # default: one per wired miner
        clock: Clock = time.monotonic,
        reboot_s: float = 5.0,  # reboot: off, then on again after this
        read_community: bytes = b"public",
        write_community: bytes = b"private",
        max_size: int = DEFAULT_MAX_SIZE,
    ):
        n = max(len(miners), outlets or 0)
        self.name = name
        self.read_community = read_community
        self.write_community = write_community
        self.max_size = max_size
        self.reboot_s = reboot_s
        self._clock = clock
        self._t0 = clock()
        self.miners: list[SimMiner | None] = [*miners, *([None] * (n - len(miners)))]
        # a wired outlet shares the miner's feed: one truth for "is it powered"
        self.feeds = [m.feed if m is not None else PowerFeed(True) for m in self.miners]
        self.mib = self._build_mib()

    @property
    def outlets(self) -> int:
        return len(self.feeds)

    def answering(self) -> bool:
        return True

    def sample(self) -> PduSample:
        t = self._clock()
        on = tuple(f.advance(t) for f in self.feeds)
        power = tuple(
            m.power_w() if m is not None and o else 0 for m, o in zip(self.miners, on, strict=True)
        )
        return PduSample(t, on, power)

    def switch(self, outlet: int, command: int) -> None:
        """Outlet control (1-based outlet): 1 on, 2 off, 3 reboot."""
        feed = self.feeds[outlet - 1]
        t = self._clock()
        feed.advance(t)
        if command == CMD_ON:
            feed.set(t, True)
        elif command == CMD_OFF:
            feed.set(t, False)
        elif command == CMD_REBOOT:
            feed.set(t, False)
            feed.schedule(t + self.reboot_s, True)
        else:
            raise ValueError(f"bad outlet command {command}")

    @staticmethod
    def _outlet_value(i: int, on: int, off: int) -> Callable[[Any], Value]:
        return lambda s: on if s.on[i] else off

    def _switcher(self, n: int) -> Callable[[Value], None]:
        """SET on outlet n's control: the agent checked the type (an INTEGER)."""
        return lambda v: self.switch(n, int(v))  # type: ignore[arg-type]

    def _build_mib(self) -> Mib:
        e: dict[Oid, MibEntry] = system_entries(
            "APC Web/SNMP Management Card (MB:v4.1.0 PF:v6.9.6 AN1:apc_hw05_rpdu2g_696.bin "
            "MN:AP8941 HR:02) [opsconsole simulated]",
            SYS_OBJECT_ID,
            lambda s: int((s.t - self._t0) * 100) & 0xFFFFFFFF,
            self.name,
        )
        e[OID_DEVICE_POWER] = MibEntry(
            ber.INTEGER, lambda s: round((SELF_POWER_W + sum(s.power_w)) / 10.0))
        for i in range(self.outlets):
            n = i + 1
            miner = self.miners[i]
            label = (miner.name if miner is not None else f"Outlet {n}").encode()
            e[(*OID_OUTLET_NAME, n)] = MibEntry(ber.OCTET_STRING, constant(label))
            e[(*OID_OUTLET_STATE, n)] = MibEntry(ber.INTEGER, self._outlet_value(i, OUTLET_ON,
                                                                                 OUTLET_OFF))
            e[(*OID_OUTLET_CONTROL, n)] = MibEntry(
                ber.INTEGER, self._outlet_value(i, CMD_ON, CMD_OFF), set=self._switcher(n),
                accepts=lambda v: v in (CMD_ON, CMD_OFF, CMD_REBOOT))
            e[(*OID_OUTLET_POWER, n)] = MibEntry(ber.INTEGER, column("power_w", i))
        return Mib(e)
