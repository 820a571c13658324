"""Alarm rules and the device event trail. Pure Python: no Qt, no I/O.

The thresholds come from the `[alarms]` table of the site file (keys are the
field names of `AlarmThresholds`); anything left out keeps its default.
`AlarmTracker` is fed the readings as they arrive and a clock tick; it keeps
the set of active alarms and returns the events (unreachable / back, faults,
alarm raised / cleared) that an event log shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from opsconsole.core.readings import Reading, Status
from opsconsole.core.site import Device, Site

# Miner `state` values meaning "not hashing on purpose": no hashrate alarm then.
RESTING_STATES = frozenset({"sleep", "sleeping", "idle", "off", "curtailed", "paused"})


@dataclass(frozen=True, slots=True)
class AlarmThresholds:
    miner_temp_c: float = 85.0  # hottest board/chip above this
    gpu_temp_c: float = 83.0
    hashrate_min_pct: float = 80.0  # hashrate below this % of the nominal
    unreachable_intervals: float = 2.0  # no answer for more than N poll intervals

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any] | None) -> AlarmThresholds:
        """From an `[alarms]` table; raises ValueError naming the bad key."""
        if not table:
            return cls()
        known = set(cls.keys())
        values: dict[str, float] = {}
        for key, value in table.items():
            if key not in known:
                raise ValueError(f"unknown key {key!r} (known: {', '.join(sorted(known))})")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{key}: expected a number, got {value!r}")
            if value < 0:
                raise ValueError(f"{key}: must be >= 0, got {value!r}")
            values[key] = float(value)
        return cls(**values)

    @classmethod
    def for_site(cls, site: Site) -> AlarmThresholds:
        """The site's thresholds: `site.alarms` if the loader set one (a
        mapping or an AlarmThresholds), else the defaults."""
        raw = getattr(site, "alarms", None)
        if isinstance(raw, AlarmThresholds):
            return raw
        if isinstance(raw, Mapping):
            return cls.from_mapping(raw)
        return cls()


class AlarmKind(StrEnum):
    TEMP = "temp"
    HASHRATE = "hashrate"
    UNREACHABLE = "unreachable"


class EventKind(StrEnum):
    UNREACHABLE = "unreachable"
    FAULT = "fault"  # answered, but wrong (auth, decode, lost GPU)
    BACK = "back"
    ALARM = "alarm"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class Alarm:
    device: str
    kind: AlarmKind
    message: str
    since: float


@dataclass(frozen=True, slots=True)
class Event:
    ts: float
    device: str
    kind: EventKind
    message: str


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def reading_alarms(device: Device, reading: Reading, th: AlarmThresholds,
                   expect_hashing: bool = True) -> dict[AlarmKind, str]:
    """The value alarms one reading raises (kind -> message). Unreachability
    depends on time, so `AlarmTracker` decides that one."""
    out: dict[AlarmKind, str] = {}
    if reading.status not in (Status.OK, Status.PARTIAL):
        return out
    m = reading.metrics
    temp = _num(m.get("temp_c"))
    limit = th.gpu_temp_c if device.kind == "gpu" else th.miner_temp_c
    if temp is not None and device.kind in ("miner", "gpu") and temp > limit:
        out[AlarmKind.TEMP] = f"temperature {temp:.0f} °C > {limit:.0f} °C"
    if device.kind == "miner" and expect_hashing:
        rate, nominal = _num(m.get("hashrate_ths")), _num(m.get("hashrate_nominal_ths"))
        state = m.get("state")
        resting = isinstance(state, str) and state.lower() in RESTING_STATES
        if rate is not None and nominal and not resting:
            pct = 100.0 * rate / nominal
            if pct < th.hashrate_min_pct:
                out[AlarmKind.HASHRATE] = (
                    f"hashrate {rate:.1f} TH/s is {pct:.0f} % of nominal "
                    f"(< {th.hashrate_min_pct:.0f} %)")
    return out


class AlarmTracker:
    """Active alarms per device, and the events between two states."""

    def __init__(self, site: Site, thresholds: AlarmThresholds | None = None):
        self.site = site
        self.thresholds = thresholds or AlarmThresholds.for_site(site)
        self.interval = float(site.poll_interval_s)
        self.devices = {d.id: d for d in site.devices()}
        # The duty of each group: the hashrate alarm only applies while mining.
        # The duty controller (later) keeps this current.
        self.duties: dict[str, str] = {g.id: g.duty for g in site.groups}
        self.active: dict[str, dict[AlarmKind, Alarm]] = {}
        self._status: dict[str, Status] = {}
        self._down_since: dict[str, float] = {}  # no answer with data since

    @property
    def alarm_count(self) -> int:
        return sum(len(a) for a in self.active.values())

    def alarms(self) -> list[Alarm]:
        return [a for per in self.active.values() for a in per.values()]

    def is_alarmed(self, device_id: str) -> bool:
        return bool(self.active.get(device_id))

    def _set(self, dev_id: str, wanted: dict[AlarmKind, str], keep: Iterable[AlarmKind],
             now: float, events: list[Event]) -> None:
        """Make the device's alarms `wanted` (plus those in `keep` untouched)."""
        per = self.active.setdefault(dev_id, {})
        keep = set(keep)
        for kind in [k for k in per if k not in wanted and k not in keep]:
            old = per.pop(kind)
            events.append(Event(now, dev_id, EventKind.CLEARED, f"cleared: {old.message}"))
        for kind, msg in wanted.items():
            old = per.get(kind)
            if old is None:
                per[kind] = Alarm(dev_id, kind, msg, now)
                events.append(Event(now, dev_id, EventKind.ALARM, msg))
            elif old.message != msg:  # keep `since`, refresh the numbers
                per[kind] = Alarm(dev_id, kind, msg, old.since)
        if not per:
            del self.active[dev_id]

    def update(self, readings: Iterable[Reading], now: float) -> list[Event]:
        events: list[Event] = []
        for r in readings:
            dev = self.devices.get(r.device)
            if dev is None:
                continue
            prev = self._status.get(r.device)
            self._status[r.device] = r.status
            answered = r.status in (Status.OK, Status.PARTIAL)
            if answered:
                self._down_since.pop(r.device, None)
                if prev in (Status.UNREACHABLE, Status.ERROR):
                    events.append(Event(r.ts, r.device, EventKind.BACK, "answering again"))
                hashing = self.duties.get(dev.group, "mining") == "mining"
                wanted = reading_alarms(dev, r, self.thresholds, expect_hashing=hashing)
                self._set(r.device, wanted, (), now, events)
                continue
            self._down_since.setdefault(r.device, r.ts)
            if prev != r.status:
                kind = EventKind.UNREACHABLE if r.status is Status.UNREACHABLE else EventKind.FAULT
                events.append(Event(r.ts, r.device, kind, r.error or r.status.value))
            # Value alarms are moot without values; unreachability is time-based.
            self._set(r.device, self._down_alarm(r.device, now), (), now, events)
        return events

    def _down_alarm(self, dev_id: str, now: float) -> dict[AlarmKind, str]:
        since = self._down_since.get(dev_id)
        if since is None:
            return {}
        limit = self.thresholds.unreachable_intervals * self.interval
        if now - since <= limit:
            return {}
        what = "no answer" if self._status.get(dev_id) is Status.UNREACHABLE else "no valid answer"
        return {AlarmKind.UNREACHABLE: f"{what} for {now - since:.0f} s"}

    def tick(self, now: float) -> list[Event]:
        """Raise unreachable alarms whose time has come (devices backing off
        are polled rarely, so this cannot wait for their next reading)."""
        events: list[Event] = []
        for dev_id in list(self._down_since):
            per = self.active.get(dev_id, {})
            if AlarmKind.UNREACHABLE in per:
                continue
            wanted = self._down_alarm(dev_id, now)
            if wanted:
                self._set(dev_id, wanted, per.keys(), now, events)
        return events
