"""A simulated SNMP-speaking ASIC miner.

Everything is a function of (seed, clock time, commands received), never of
when or how often someone polls: noise comes from seeded sines and a hashed
per-second jitter, faults from a schedule drawn from the seed up front. So two
miners with the same seed and the same fake clock agree exactly, and a test
can step time instead of sleeping.

MIB (enterprise 32473, RFC 5612 documentation number) under 1.3.6.1.4.1.32473.1:
  .1.0 hashrate GH/s (Gauge32)      .2.0 nominal GH/s (Gauge32)
  .3.1.<b> board temp °C (INTEGER)  .4.0 power W (Gauge32)
  .5.0 inlet °C (INTEGER)           .6.1.<f> fan rpm (Gauge32)
  .7.0 uptime (TimeTicks)           .8.0 state 1 mining 2 sleeping 3 starting 4 fault
  .9.0 control (INTEGER rw: 0 sleep, 1 wake)
"""

from __future__ import annotations

import bisect
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from opsconsole.collectors.snmp import ber
from opsconsole.collectors.snmp.ber import Oid
from opsconsole.sim.agent import DEFAULT_MAX_SIZE, Mib, MibEntry, column, system_entries

Clock = Callable[[], float]

ENTERPRISE: Oid = (1, 3, 6, 1, 4, 1, 32473)
BASE: Oid = (*ENTERPRISE, 1)
OID_HASHRATE = (*BASE, 1, 0)
OID_NOMINAL = (*BASE, 2, 0)
OID_BOARD_TEMP = (*BASE, 3, 1)  # column: .<board>
OID_POWER = (*BASE, 4, 0)
OID_INLET = (*BASE, 5, 0)
OID_FAN_RPM = (*BASE, 6, 1)  # column: .<fan>
OID_UPTIME = (*BASE, 7, 0)
OID_STATE = (*BASE, 8, 0)
OID_CONTROL = (*BASE, 9, 0)

MINING, SLEEPING, STARTING, FAULT = 1, 2, 3, 4
CONTROL_SLEEP, CONTROL_WAKE = 0, 1
BOARDS = 3


class ManualClock:
    """A fake clock for tests: time moves only when told to."""

    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> float:
        self.t += dt
        return self.t


@dataclass(frozen=True, slots=True)
class MinerModel:
    name: str
    nominal_ths: float
    j_per_th: float
    fans: int
    weight: float  # share in the fleet mix


MODELS = (
    MinerModel("SX-100", 100.0, 21.5, 2, 0.3),
    MinerModel("SX-140", 140.0, 19.5, 4, 0.45),
    MinerModel("SX-200", 200.0, 17.5, 4, 0.25),
)


@dataclass(frozen=True, slots=True)
class MinerTiming:
    boot_s: float = 5.0  # after power-on: no answer at all
    ramp_s: float = 40.0  # starting -> full hashrate (after boot or wake)
    sleep_s: float = 3.0  # hashrate falls to 0 after a sleep command


@dataclass(frozen=True, slots=True)
class Fault:
    start: float
    end: float
    kind: str  # board | fan | offline
    index: int  # board or fan number (1-based); 0 for offline


class PowerFeed:
    """An outlet's on/off timeline. Scheduled switches take effect at their own
    time, whoever looks first (the PDU or the miner), and the listener hears
    each switch with its exact time so a boot starts when the power came back."""

    def __init__(self, on: bool = True):
        self.on = on
        self._pending: list[tuple[float, bool]] = []
        self.listener: Callable[[float, bool], None] | None = None

    def set(self, t: float, on: bool) -> None:
        """An explicit command: cancels anything still scheduled (a reboot's 'on')."""
        self._pending.clear()
        self._switch(t, on)

    def schedule(self, t: float, on: bool) -> None:
        bisect.insort(self._pending, (t, on))

    def advance(self, t: float) -> bool:
        while self._pending and self._pending[0][0] <= t:
            te, on = self._pending.pop(0)
            self._switch(te, on)
        return self.on

    def _switch(self, t: float, on: bool) -> None:
        if on != self.on:
            self.on = on
            if self.listener is not None:
                self.listener(t, on)


@dataclass(frozen=True, slots=True)
class MinerSample:
    """One consistent look at the miner (what one SNMP response shows)."""

    t: float
    powered: bool
    answering: bool
    state: int
    hashrate_ghs: int
    power_w: int
    board_temps: tuple[int | None, ...]  # None: the board dropped out
    inlet_c: int
    fans_rpm: tuple[int, ...]
    uptime_ticks: int
    control: int
    faults: tuple[Fault, ...]


def _jitter(n: int, salt: int) -> float:
    """Deterministic pseudo-random in [-1, 1) for integer n (splitmix64 finaliser)."""
    x = (n * 0x9E3779B97F4A7C15 + salt) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return ((x ^ (x >> 31)) >> 11) / float(1 << 52) - 1.0


class SimMiner:
    def __init__(
        self,
        name: str,
        seed: int,
        *,
        clock: Clock = time.monotonic,
        fault_rate: float = 0.0,  # faults per miner per hour
        timing: MinerTiming | None = None,
        model: MinerModel | None = None,
        read_community: bytes = b"public",
        write_community: bytes = b"private",
        max_size: int = DEFAULT_MAX_SIZE,
    ):
        self.name = name
        self.seed = seed
        self.read_community = read_community
        self.write_community = write_community
        self.max_size = max_size
        self.timing = timing or MinerTiming()
        self.fault_rate = fault_rate
        self._clock = clock
        rng = random.Random(seed)
        self.model = model or rng.choices(MODELS, weights=[m.weight for m in MODELS])[0]
        self.nominal_ghs = round(self.model.nominal_ths * 1000 * rng.uniform(0.98, 1.02))
        self.full_power_w = self.model.nominal_ths * self.model.j_per_th * rng.uniform(0.97, 1.03)
        self.standby_w = rng.uniform(20.0, 40.0)
        self.ambient_c = rng.uniform(23.0, 28.0)
        self.temp_rise_c = rng.uniform(36.0, 44.0)
        self.board_offset = [rng.uniform(-2.5, 2.5) for _ in range(BOARDS)]
        self.fan_full_rpm = [rng.uniform(5300.0, 6100.0) for _ in range(self.model.fans)]
        self._phases = [rng.uniform(0, 2 * math.pi) for _ in range(4)]
        self._salt = rng.getrandbits(64)
        t0 = clock()
        self._t0 = t0
        self._boot_t = t0 - rng.uniform(1, 30) * 86400  # up for days when the site starts
        # phase machine: off | boot | ramp (incl. steady mining) | sleep
        self._phase = "ramp"
        self._phase_t = t0 - self.timing.ramp_s  # fully ramped at start
        self._from_frac = 1.0
        self.feed = PowerFeed(True)
        self.feed.listener = self._on_power
        # faults: drawn from their own stream so the model mix never shifts them
        self._fault_rng = random.Random(seed ^ 0x5EED_FA17)
        self._faults: list[Fault] = []
        self._planned: list[Fault] = []  # faults placed by hand (demo, tests)
        self._fault_horizon = t0
        self._cache: MinerSample | None = None
        self.mib = self._build_mib()

    # -- power and commands

    def _on_power(self, t: float, on: bool) -> None:
        self._cache = None
        if on:
            self._phase, self._phase_t, self._boot_t = "boot", t, t
        else:
            self._phase, self._phase_t = "off", t

    def _frac(self, t: float) -> tuple[float, int, bool]:
        """(hashing fraction of nominal, base state, answering) from the phase machine."""
        tm = self.timing
        ph, pt = self._phase, self._phase_t
        if ph == "off":
            return 0.0, STARTING, False
        if ph == "boot":
            if t < pt + tm.boot_s:
                return 0.0, STARTING, False
            pt += tm.boot_s
            ph = "ramp"
        if ph == "ramp":
            f = 1.0 if tm.ramp_s <= 0 else min(1.0, max(0.0, (t - pt) / tm.ramp_s))
            return f, (MINING if f >= 1.0 else STARTING), True
        # sleep: the boards wind down over sleep_s
        left = 0.0 if tm.sleep_s <= 0 else max(0.0, 1.0 - (t - pt) / tm.sleep_s)
        return self._from_frac * left, SLEEPING, True

    def command(self, value: int) -> None:
        """The control OID: 0 sleep, 1 wake (idempotent)."""
        t = self._clock()
        self.feed.advance(t)
        self._cache = None
        frac, _, _ = self._frac(t)
        if value == CONTROL_SLEEP and self._phase in ("ramp", "boot"):
            self._phase, self._phase_t, self._from_frac = "sleep", t, frac
        elif value == CONTROL_WAKE and self._phase == "sleep":
            # resume the ramp from wherever the wind-down got to
            self._phase, self._phase_t = "ramp", t - frac * self.timing.ramp_s

    # -- faults

    def add_fault(self, kind: str, start: float, duration_s: float, which: int = 1) -> Fault:
        """Place a fault ("board", "fan" or "offline") at clock time `start`,
        besides the random schedule: the demo shows alarms within a minute."""
        if kind not in ("board", "fan", "offline"):
            raise ValueError(f"unknown fault kind {kind!r}")
        f = Fault(start, start + duration_s, kind, which)
        self._planned.append(f)
        return f

    def _faults_at(self, t: float) -> tuple[Fault, ...]:
        planned = tuple(f for f in self._planned if f.start <= t < f.end)
        return self._random_faults_at(t) + planned

    def _random_faults_at(self, t: float) -> tuple[Fault, ...]:
        if self.fault_rate <= 0:
            return ()
        while self._fault_horizon <= t + 3600:
            rng = self._fault_rng
            start = self._fault_horizon + rng.expovariate(self.fault_rate / 3600.0)
            kind = rng.choices(("board", "fan", "offline"), weights=(0.4, 0.35, 0.25))[0]
            if kind == "board":
                f = Fault(start, start + rng.uniform(300, 1200), kind, rng.randint(1, BOARDS))
            elif kind == "fan":
                fan = rng.randint(1, self.model.fans)
                f = Fault(start, start + rng.uniform(180, 900), kind, fan)
            else:
                f = Fault(start, start + rng.uniform(30, 180), kind, 0)
            self._faults.append(f)
            self._fault_horizon = start
        if self._faults and self._faults[0].end < t - 3600:  # forget the distant past
            self._faults = [f for f in self._faults if f.end >= t - 3600]
        return tuple(f for f in self._faults if f.start <= t < f.end)

    def fault_schedule(self, until: float) -> list[Fault]:
        """Faults starting before clock time `until` (tests, demo scripts)."""
        self._faults_at(until)
        return [f for f in self._faults if f.start < until]

    # -- the model

    def sample(self) -> MinerSample:
        t = self._clock()
        c = self._cache
        if c is not None and 0.0 <= t - c.t < 0.005:  # one request asks answering() then sample()
            return c
        powered = self.feed.advance(t)
        frac, state, answering = self._frac(t)
        faults = self._faults_at(t) if powered else ()
        dead_board = {f.index for f in faults if f.kind == "board"}
        dead_fan = {f.index for f in faults if f.kind == "fan"}
        if any(f.kind == "offline" for f in faults):
            answering = False
        if (dead_board or dead_fan) and state != SLEEPING:
            state = FAULT  # hardware trouble shows while the miner works
        p = self._phases
        sec = int(t)
        noise = (0.012 * math.sin(t / 37.0 + p[0]) + 0.008 * math.sin(t / 11.3 + p[1])
                 + 0.006 * _jitter(sec, self._salt))
        board_share = (BOARDS - len(dead_board)) / BOARDS
        hashing = frac * board_share
        hashrate = round(self.nominal_ghs * hashing * (1.0 + noise)) if hashing > 0 else 0
        if not powered:
            power = 0
        elif not answering and self._phase == "boot":
            power = round(self.standby_w * 2)  # control board booting
        else:
            power = round(self.standby_w + self.full_power_w * hashing * (1.0 + noise * 0.5))
        inlet = self.ambient_c + 0.8 * math.sin(t / 900.0 + p[2])
        hot = 0.0
        for f in faults:
            if f.kind == "fan":  # one fan gone: the boards heat up over two minutes
                hot = max(hot, 15.0 * min(1.0, (t - f.start) / 120.0) * frac)
        temps: list[int | None] = []
        for b in range(BOARDS):
            if b + 1 in dead_board:
                temps.append(None)
                continue
            j = _jitter(sec * 8 + b, self._salt)
            temps.append(round(inlet + 3.0 + frac * self.temp_rise_c + self.board_offset[b]
                               + hot + 0.8 * j))
        fans: list[int] = []
        for i, full in enumerate(self.fan_full_rpm):
            if i + 1 in dead_fan:
                fans.append(0)
                continue
            load = max(frac, 0.25 if powered else 0.0)  # fans idle at a quarter when sleeping
            fans.append(round(full * load * (1.0 + 0.01 * _jitter(sec * 8 + 4 + i, self._salt))))
        s = MinerSample(
            t=t, powered=powered, answering=answering, state=state, hashrate_ghs=hashrate,
            power_w=power, board_temps=tuple(temps), inlet_c=round(inlet), fans_rpm=tuple(fans),
            uptime_ticks=int((t - self._boot_t) * 100) & 0xFFFFFFFF,
            control=CONTROL_SLEEP if self._phase == "sleep" else CONTROL_WAKE, faults=faults,
        )
        self._cache = s
        return s

    def answering(self) -> bool:
        return self.sample().answering

    def power_w(self) -> int:
        return self.sample().power_w

    # -- MIB

    def _build_mib(self) -> Mib:
        e: dict[Oid, MibEntry] = system_entries(
            f"opsconsole simulated miner {self.model.name} (fw sim-1.0)",
            (*ENTERPRISE, 2, MODELS.index(self.model) + 1 if self.model in MODELS else 0),
            lambda s: s.uptime_ticks, self.name)
        e[OID_HASHRATE] = MibEntry(ber.GAUGE32, lambda s: s.hashrate_ghs)
        e[OID_NOMINAL] = MibEntry(ber.GAUGE32, lambda s: self.nominal_ghs)
        for b in range(BOARDS):
            e[(*OID_BOARD_TEMP, b + 1)] = MibEntry(ber.INTEGER, column("board_temps", b))
        e[OID_POWER] = MibEntry(ber.GAUGE32, lambda s: s.power_w)
        e[OID_INLET] = MibEntry(ber.INTEGER, lambda s: s.inlet_c)
        for i in range(self.model.fans):
            e[(*OID_FAN_RPM, i + 1)] = MibEntry(ber.GAUGE32, column("fans_rpm", i))
        e[OID_UPTIME] = MibEntry(ber.TIMETICKS, lambda s: s.uptime_ticks)
        e[OID_STATE] = MibEntry(ber.INTEGER, lambda s: s.state)
        e[OID_CONTROL] = MibEntry(ber.INTEGER, lambda s: s.control, set=self._set_control,
                                  accepts=lambda v: v in (CONTROL_SLEEP, CONTROL_WAKE))
        return Mib(e)

    def _set_control(self, value: object) -> None:
        assert isinstance(value, int)
        self.command(value)
