"""Alarm rules and the device event trail. Pure Python: no Qt, no I/O.

The thresholds come from the `[alarms]` table of the site file (keys are the
field names of `AlarmThresholds`); anything left out keeps its default.
`AlarmTracker` is fed the readings as they arrive and a clock tick; it keeps
the set of active alarms and returns the events (unreachable / back, faults,
alarm raised / cleared) that an event log shows.

Value alarms (built-in thresholds, `[[alarms.rules]]`, group power over its
expected draw) are raised once their condition held for the hold time and
cleared only past their clear level (hysteresis). An alarm is raised, then
maybe acknowledged (OS user, comment), then cleared; with an `AlarmLog` every
transition is written down and open alarms come back after a restart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from opsconsole.core.alarmrules import Check, threshold_check
from opsconsole.core.alarmthresholds import AlarmThresholds
from opsconsole.core.readings import Reading, Status
from opsconsole.core.site import Device, Site

# Miner `state` values meaning "not hashing on purpose": no hashrate alarm then.
RESTING_STATES = frozenset({"sleep", "sleeping", "idle", "off", "curtailed", "paused"})


class AlarmKind(StrEnum):
    TEMP = "temp"
    HASHRATE = "hashrate"
    UNREACHABLE = "unreachable"
    RULE = "rule"  # a [[alarms.rules]] threshold
    GROUP_POWER = "group_power"  # a group drawing more than its duty's expected_kw
    DUTY_MISMATCH = "duty_mismatch"  # a group's telemetry contradicts its duty (core.dutycheck)


GROUP_KINDS = frozenset({AlarmKind.GROUP_POWER, AlarmKind.DUTY_MISMATCH})


class EventKind(StrEnum):
    UNREACHABLE = "unreachable"
    FAULT = "fault"  # answered, but wrong (auth, decode, lost GPU)
    BACK = "back"
    ALARM = "alarm"
    CLEARED = "cleared"
    ACKNOWLEDGED = "acknowledged"


RAISED, ACKNOWLEDGED = "raised", "acknowledged"


@dataclass(frozen=True, slots=True)
class Alarm:
    device: str  # the device id (the group id for scope "group")
    kind: AlarmKind
    message: str
    since: float
    key: str = ""  # among the subject's alarms: the kind, or rule:NAME
    scope: str = "device"  # device | group
    severity: str = "warning"
    state: str = RAISED  # raised | acknowledged (cleared alarms leave the active set)
    acked_by: str | None = None  # OS user
    acked_at: float | None = None
    comment: str = ""
    log_key: int | None = None  # its key in this process's alarm log (AlarmLog.raised)


@dataclass(frozen=True, slots=True)
class Event:
    ts: float
    device: str
    kind: EventKind
    message: str


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def reading_checks(device: Device, reading: Reading, th: AlarmThresholds,
                   expect_hashing: bool = True) -> dict[str, tuple[AlarmKind, Check]]:
    """Every value condition that applies to one answered reading (alarm key ->
    kind, check). A condition without a value is absent: its alarm clears."""
    out: dict[str, tuple[AlarmKind, Check]] = {}
    if reading.status not in (Status.OK, Status.PARTIAL):
        return out
    m = reading.metrics
    temp = _num(m.get("temp_c"))
    limit = th.gpu_temp_c if device.kind == "gpu" else th.miner_temp_c
    if temp is not None and device.kind in ("miner", "gpu"):
        out[AlarmKind.TEMP] = (AlarmKind.TEMP, threshold_check(
            temp, limit, limit - th.temp_clear_c, True,
            f"temperature {temp:.0f} °C > {limit:.0f} °C", th.hold_s))
    if device.kind == "miner" and expect_hashing:
        rate, nominal = _num(m.get("hashrate_ths")), _num(m.get("hashrate_nominal_ths"))
        state = m.get("state")
        resting = isinstance(state, str) and state.lower() in RESTING_STATES
        if rate is not None and nominal and not resting:
            pct = 100.0 * rate / nominal
            out[AlarmKind.HASHRATE] = (AlarmKind.HASHRATE, threshold_check(
                pct, th.hashrate_min_pct, th.hashrate_min_pct + th.hashrate_clear_pct, False,
                f"hashrate {rate:.1f} TH/s is {pct:.0f} % of nominal "
                f"(< {th.hashrate_min_pct:.0f} %)", th.hold_s))
    for rule in th.rules:
        v = _num(m.get(rule.metric))
        if v is not None and rule.applies(device):
            out[rule.key] = (AlarmKind.RULE, rule.check(v))
    return out


class AlarmTracker:
    """Active alarms per device (and per group), and the events between two
    states. `log` (an AlarmLog) records every transition and gives back the
    alarms still open when the tracker starts."""

    def __init__(self, site: Site, thresholds: AlarmThresholds | None = None,
                 log: Any = None):
        self.site = site
        self.thresholds = thresholds or site.alarms
        self.interval = float(site.poll_interval_s)
        self.devices = {d.id: d for d in site.devices()}
        # The duty of each group: the hashrate alarm only applies while mining,
        # and a group's expected draw depends on it. The duty coordinator keeps it current.
        self.duties: dict[str, str] = {g.id: g.duty for g in site.groups}
        self.suspended: set[str] = set()  # groups mid-switch: no duty/telemetry checks
        self.active: dict[str, dict[str, Alarm]] = {}
        self.group_active: dict[str, dict[str, Alarm]] = {}
        self.log = log
        self._pending: dict[tuple[str, str], tuple[float, AlarmKind, Check]] = {}
        self._status: dict[str, Status] = {}
        self._down_since: dict[str, float] = {}  # no answer with data since
        if log is not None:
            self._restore()

    @property
    def alarm_count(self) -> int:
        return (sum(len(a) for a in self.active.values())
                + sum(len(a) for a in self.group_active.values()))

    def alarms(self) -> list[Alarm]:
        return [a for tab in (self.active, self.group_active)
                for per in tab.values() for a in per.values()]

    def is_alarmed(self, device_id: str) -> bool:
        return bool(self.active.get(device_id))

    def unacknowledged(self) -> int:
        return sum(1 for a in self.alarms() if a.state == RAISED)

    def replace(self, alarms: Iterable[Alarm]) -> set[str]:
        """Take another evaluator's active set as it is (a client of the site
        service keeps this replica and evaluates nothing); the subjects whose
        alarms changed."""
        before = {s: dict(per) for tab in (self.active, self.group_active)
                  for s, per in tab.items()}
        self.active, self.group_active = {}, {}
        for a in alarms:
            self._table(a.scope).setdefault(a.device, {})[a.key or str(a.kind)] = a
        after = {s: per for tab in (self.active, self.group_active) for s, per in tab.items()}
        return {s for s in before.keys() | after.keys() if before.get(s) != after.get(s)}

    # -- transitions (one place, so the log sees every one) -------------------------
    def _table(self, scope: str) -> dict[str, dict[str, Alarm]]:
        return self.group_active if scope == "group" else self.active

    def _raise(self, subject: str, key: str, kind: AlarmKind, c: Check, now: float,
               events: list[Event], scope: str = "device") -> None:
        # `since` is when it was raised (as the log has it), the hold included
        a = Alarm(subject, kind, c.message, now, key, scope, c.severity)
        if self.log is not None:
            a = replace(a, log_key=self.log.raised(subject, scope, key, kind.value,
                                                  c.severity, c.message, now))
        self._table(scope).setdefault(subject, {})[key] = a
        events.append(Event(now, subject, EventKind.ALARM, c.message))

    def _clear(self, subject: str, key: str, now: float, events: list[Event],
               scope: str = "device") -> None:
        tab = self._table(scope)
        per = tab.get(subject, {})
        old = per.pop(key, None)
        if not per:
            tab.pop(subject, None)
        if old is None:
            return
        if self.log is not None and old.log_key is not None:
            self.log.cleared(old.log_key, now)
        events.append(Event(now, subject, EventKind.CLEARED, f"cleared: {old.message}"))

    def _apply(self, subject: str, checks: Mapping[str, tuple[AlarmKind, Check]],
               managed: Iterable[str], now: float, events: list[Event],
               scope: str = "device") -> None:
        """Bring the subject's alarms in `managed` (plus those in `checks`) in
        line with the checks, honouring hold times and clear levels."""
        per = self._table(scope).get(subject, {})
        for key in {*managed, *checks}:
            got = checks.get(key)
            cur = per.get(key)
            pkey = (subject, key)
            if got is None:  # no value (or not applicable): nothing to hold on to
                self._pending.pop(pkey, None)
                if cur is not None:
                    self._clear(subject, key, now, events, scope)
                continue
            kind, c = got
            if cur is not None:
                if c.clears and not c.trips:
                    self._clear(subject, key, now, events, scope)
                elif c.message != cur.message:  # keep `since` and the ack, refresh the numbers
                    self._table(scope)[subject][key] = replace(cur, message=c.message)
            elif c.trips:
                since = self._pending.get(pkey, (now,))[0]
                if now - since >= c.hold_s:
                    self._pending.pop(pkey, None)
                    self._raise(subject, key, kind, c, now, events, scope)
                else:
                    self._pending[pkey] = (since, kind, c)
            else:
                self._pending.pop(pkey, None)

    def _value_keys(self, subject: str) -> set[str]:
        keys = {k for k in self.active.get(subject, {}) if k != AlarmKind.UNREACHABLE}
        return keys | {k for (s, k) in self._pending if s == subject}

    # -- input --------------------------------------------------------------------------
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
                self._clear(r.device, AlarmKind.UNREACHABLE, now, events)
                hashing = self.duties.get(dev.group, "mining") == "mining"
                checks = reading_checks(dev, r, self.thresholds, expect_hashing=hashing)
                self._apply(r.device, checks, self._value_keys(r.device), now, events)
                continue
            self._down_since.setdefault(r.device, r.ts)
            if prev != r.status:
                kind = EventKind.UNREACHABLE if r.status is Status.UNREACHABLE else EventKind.FAULT
                events.append(Event(r.ts, r.device, kind, r.error or r.status.value))
            # Value alarms are moot without values; unreachability is time-based.
            self._apply(r.device, {}, self._value_keys(r.device), now, events)
            self._set_down(r.device, now, events)
        return events

    def _set_down(self, dev_id: str, now: float, events: list[Event]) -> None:
        wanted = self._down_alarm(dev_id, now)
        has = AlarmKind.UNREACHABLE in self.active.get(dev_id, {})
        if wanted and not has:
            self._raise(dev_id, AlarmKind.UNREACHABLE, AlarmKind.UNREACHABLE,
                        Check(True, False, wanted), now, events)
        elif wanted and has:
            cur = self.active[dev_id][AlarmKind.UNREACHABLE]
            self.active[dev_id][AlarmKind.UNREACHABLE] = replace(cur, message=wanted)
        elif has:
            self._clear(dev_id, AlarmKind.UNREACHABLE, now, events)

    def _down_alarm(self, dev_id: str, now: float) -> str | None:
        since = self._down_since.get(dev_id)
        if since is None:
            return None
        limit = self.thresholds.unreachable_intervals * self.interval
        if now - since <= limit:
            return None
        what = "no answer" if self._status.get(dev_id) is Status.UNREACHABLE else "no valid answer"
        return f"{what} for {now - since:.0f} s"

    def update_groups(self, power_w: Mapping[str, float | None], now: float) -> list[Event]:
        """Group power against the expected draw of the group's current duty
        (`expected_kw` in the site file; groups without one are not checked)."""
        events: list[Event] = []
        th = self.thresholds
        for g in self.site.groups:
            duty = self.duties.get(g.id, g.duty)
            expected_kw = g.expected_kw.get(duty)
            watts = power_w.get(g.id)
            checks: dict[str, tuple[AlarmKind, Check]] = {}
            if expected_kw is not None and watts is not None and math.isfinite(watts):
                limit = expected_kw * 1000.0 * (1 + th.group_power_over_pct / 100.0)
                clear_at = expected_kw * 1000.0 * (1 + th.group_power_clear_pct / 100.0)
                msg = (f"group power {watts / 1000:.1f} kW > {limit / 1000:.1f} kW "
                       f"(expected {expected_kw:g} kW for {duty} + {th.group_power_over_pct:g} %)")
                checks[AlarmKind.GROUP_POWER] = (AlarmKind.GROUP_POWER, threshold_check(
                    watts, limit, clear_at, True, msg, th.group_power_hold_s))
            self._apply(g.id, checks, (AlarmKind.GROUP_POWER,), now, events, scope="group")
        return events

    def set_duty(self, group: str, duty: str, status: str = "ok") -> None:
        """The group's duty from the journal; while its status is not "ok"
        (switching, degraded, interrupted) its duty checks wait."""
        self.duties[group] = duty
        if status == "ok":
            self.suspended.discard(group)
        else:
            self.suspended.add(group)

    def update_duty_checks(self, store: Any, now: float) -> list[Event]:
        """Duty against telemetry for every group (core.dutycheck), as group
        alarms held `duty_check_hold_s`; cleared as soon as it no longer holds."""
        from opsconsole.core.dutycheck import contradictions

        found = contradictions(store, self.duties, self.thresholds, self.suspended)
        events: list[Event] = []
        key = AlarmKind.DUTY_MISMATCH.value
        for g in self.site.groups:
            c = found.get(g.id)
            checks = {} if c is None else {key: (AlarmKind.DUTY_MISMATCH, Check(
                True, False, c.message, self.thresholds.duty_check_hold_s))}
            self._apply(g.id, checks, (key,), now, events, scope="group")
        return events

    def tick(self, now: float) -> list[Event]:
        """Raise alarms whose time has come: unreachable ones (devices backing
        off are polled rarely, so this cannot wait for their next reading) and
        held conditions whose hold time has passed."""
        events: list[Event] = []
        for dev_id in list(self._down_since):
            if AlarmKind.UNREACHABLE not in self.active.get(dev_id, {}):
                self._set_down(dev_id, now, events)
        for (subject, key), (since, kind, c) in list(self._pending.items()):
            if now - since >= c.hold_s:
                del self._pending[(subject, key)]
                scope = "group" if kind in GROUP_KINDS else "device"
                self._raise(subject, key, kind, c, now, events, scope)
        return events

    # -- operator -----------------------------------------------------------------------
    def find(self, subject: str, key: str) -> Alarm | None:
        for tab in (self.active, self.group_active):
            a = tab.get(subject, {}).get(key)
            if a is not None:
                return a
        return None

    def acknowledge(self, subject: str, key: str, user: str, comment: str,
                    now: float) -> tuple[Alarm | None, list[Event]]:
        """Mark an active alarm acknowledged by `user` (the OS user) with a
        comment. It stays active until its condition clears."""
        a = self.find(subject, key)
        if a is None:
            return None, []
        a = replace(a, state=ACKNOWLEDGED, acked_by=user, acked_at=now, comment=comment)
        self._table(a.scope)[subject][key] = a
        if self.log is not None and a.log_key is not None:
            self.log.acked(a.log_key, user, comment, now)
        note = f"acknowledged by {user}" + (f": {comment}" if comment else "")
        return a, [Event(now, subject, EventKind.ACKNOWLEDGED, f"{a.message} — {note}")]

    def attach_log(self, log: Any) -> None:
        """Start logging to `log` and take back the alarms it has open."""
        self.log = log
        self._restore()

    def _restore(self) -> None:
        """Open alarms of an earlier run come back as they were (acknowledged
        ones stay acknowledged); the next readings clear what no longer holds.
        Those whose device or group left the site file are closed."""
        groups = {g.id for g in self.site.groups}
        for row in self.log.open_alarms():
            scope, subject = row["scope"], row["subject"]
            known = subject in (groups if scope == "group" else self.devices)
            try:
                kind = AlarmKind(row["kind"])
            except ValueError:
                known = False
            if not known:
                self.log.cleared(row["log_key"], row["raised_at"], "no longer in the site file")
                continue
            a = Alarm(subject, kind, row["message"], row["raised_at"], row["key"], scope,
                      row["severity"], ACKNOWLEDGED if row["acked_at"] else RAISED,
                      row["acked_by"], row["acked_at"], row["ack_comment"] or "", row["log_key"])
            self._table(scope).setdefault(subject, {})[row["key"]] = a
            if kind is AlarmKind.UNREACHABLE:
                self._down_since.setdefault(subject, a.since)
