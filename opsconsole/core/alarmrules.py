"""Threshold rules from `[[alarms.rules]]` and the check one value gets.

A rule trips when `value <op> threshold` holds for `hold_s` seconds and clears
only once the value is back past its clear level (`clear_below` for the
rising ops `>`/`>=`, `clear_above` for `<`/`<=`): between the two the alarm
keeps its state, so a value hovering at the threshold does not flap.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the site model imports the alarm thresholds, which hold rules
    from opsconsole.core.site import Device

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
RISING = (">", ">=")
SEVERITIES = ("warning", "critical")
RULE_KEYS = ("name", "metric", "op", "value", "kind", "group", "devices", "hold_s",
             "clear_below", "clear_above", "severity")


@dataclass(frozen=True, slots=True)
class Check:
    """One condition evaluated on one value."""
    trips: bool  # the alarm condition holds
    clears: bool  # past the clear level (with hysteresis: not merely "not tripping")
    message: str
    hold_s: float = 0.0
    severity: str = "warning"
    rule: str = ""


@dataclass(frozen=True, slots=True)
class AlarmRule:
    metric: str
    op: str  # one of OPS
    value: float
    name: str = ""
    kind: str | None = None  # only devices of this kind
    group: str | None = None  # only devices of this group
    devices: tuple[str, ...] = ()  # only these devices
    hold_s: float = 0.0
    clear: float | None = None  # clear_below / clear_above; None: clears when not tripping
    severity: str = "warning"
    # `devices` as a set: applies() runs per reading and rule, and a rule may
    # list thousands of devices (a scan each time is quadratic per cycle)
    _device_set: frozenset[str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_device_set", frozenset(self.devices))

    @property
    def label(self) -> str:
        return self.name or f"{self.metric} {self.op} {self.value:g}"

    @property
    def key(self) -> str:
        """The alarm's key among a device's alarms."""
        return f"rule:{self.label}"

    def applies(self, device: Device) -> bool:
        return ((self.kind is None or device.kind == self.kind)
                and (self.group is None or device.group == self.group)
                and (not self.devices or device.id in self._device_set))

    def check(self, v: float) -> Check:
        trips = OPS[self.op](v, self.value)
        if self.clear is None:
            clears = not trips
        else:
            clears = v <= self.clear if self.op in RISING else v >= self.clear
        return Check(trips, clears, f"{self.label}: {self.metric} {v:g} {self.op} {self.value:g}",
                     self.hold_s, self.severity, self.label)


def threshold_check(v: float, limit: float, clear_at: float, rising: bool, message: str,
                    hold_s: float) -> Check:
    """A built-in threshold: trips past `limit`, clears back past `clear_at`."""
    if rising:
        return Check(v > limit, v <= clear_at, message, hold_s)
    return Check(v < limit, v >= clear_at, message, hold_s)
