"""Turn a device profile plus an SNMP engine into a Reading.

Profile-driven: the profile says which OIDs give which catalogue metric; this
module does the GETs and walks, converts raw values and judges the status.
"""

from __future__ import annotations

import asyncio
import time

from opsconsole.collectors.snmp.engine import (
    SnmpEngine,
    SnmpError,
    SnmpTarget,
    SnmpTimeout,
    SnmpValue,
)
from opsconsole.core.metrics import CATALOGUE
from opsconsole.core.profiles import ControlSpec, MetricSpec, Profile
from opsconsole.core.readings import MetricValue, Reading, Status


def _number(raw: SnmpValue) -> float | int | None:
    """Integer-like SNMP values are numbers; an OctetString counts only when it
    holds a number ("23.5"), as some agents (UCD laLoad) report them."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, bytes):
        try:
            text = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            return None
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            return None
    return None


def convert(spec: MetricSpec, raw: SnmpValue) -> MetricValue:
    """Raw agent value -> metric value (scaled, offset, or mapped to a state)."""
    n = _number(raw)
    if n is None:
        if spec.map is None and isinstance(raw, bytes | str) and raw:
            return raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        return None
    if spec.is_sentinel(n):  # the device says "not available": no reading, not a number
        return None
    value = spec.convert(n)
    if isinstance(value, float) and value.is_integer() and spec.scale == 1 and spec.offset == 0:
        return int(value)
    return value


def wants_number(name: str) -> bool:
    """A catalogue metric with a unit (or a numeric one) is a number: text from
    the agent for it (a wrong-typed or spoiled answer, "N/A") is not a reading."""
    info = CATALOGUE.get(name)
    return info is not None and (info.numeric or info.unit != "")


def reduce_column(spec: MetricSpec, values: list[MetricValue]) -> MetricValue:
    if not values or all(v is None for v in values):
        return None
    if spec.reduce == "list":
        return values
    nums = [v for v in values if isinstance(v, int | float)]
    if not nums:
        return None
    if spec.reduce == "max":
        return max(nums)
    if spec.reduce == "min":
        return min(nums)
    if spec.reduce == "sum":
        return sum(nums)
    return sum(nums) / len(nums)  # mean


async def collect(engine: SnmpEngine, device_id: str, target: SnmpTarget,
                  profile: Profile) -> Reading:
    """Poll one SNMP device once. Never raises for device trouble: the status
    and error of the Reading say what happened."""
    t0 = time.monotonic()
    metrics: dict[str, MetricValue] = {}
    missing = 0
    not_numbers: list[str] = []
    try:
        scalars = profile.scalar_specs()
        walks = profile.walk_specs()

        async def get_scalars() -> dict[str, SnmpValue]:
            return await engine.get(target, [s.oid for s in scalars]) if scalars else {}

        got, walked = await asyncio.gather(
            get_scalars(), asyncio.gather(*(engine.walk(target, w.oid) for w in walks)))
        for spec in scalars:
            value = convert(spec, got.get(spec.oid))
            if isinstance(value, str) and wants_number(spec.name):
                not_numbers.append(spec.name)
                value = None
            if value is None:
                missing += 1
            else:
                metrics[spec.name] = value
        for spec, rows in zip(walks, walked, strict=True):
            column = [convert(spec, raw) for _, raw in rows]
            if wants_number(spec.name) and any(isinstance(v, str) for v in column):
                not_numbers.append(spec.name)  # a spoiled column: none of it is trusted
                column = []
            # a list keeps its positions (outlet k stays outlet k); None = no reading there
            value = reduce_column(spec, column if spec.reduce == "list"
                                  else [v for v in column if v is not None])
            if value is None:
                missing += 1
            else:
                metrics[spec.name] = value
    except SnmpTimeout as exc:
        return Reading(device_id, time.time(), Status.UNREACHABLE, {}, str(exc) or "no answer",
                       time.monotonic() - t0)
    except SnmpError as exc:
        return Reading(device_id, time.time(), Status.ERROR, {}, str(exc) or type(exc).__name__,
                       time.monotonic() - t0)
    status = Status.OK if missing == 0 else Status.PARTIAL
    error = None
    if missing:
        error = f"{missing} of {len(profile.metrics)} metrics not served by the agent"
        if not_numbers:
            error += f" (not a number: {', '.join(not_numbers)})"
    return Reading(device_id, time.time(), status, metrics, error, time.monotonic() - t0)


class ControlVerifyError(SnmpError):
    """A SET was accepted but the read-back disagrees."""


async def set_control(engine: SnmpEngine, target: SnmpTarget, control: ControlSpec,
                      outlet: int | None = None) -> SnmpValue:
    """SET a profile control and read it back: many devices report success for
    a control that did nothing, so success means the agent now holds the value.
    (Controls whose object reads back a different state, like APC's outlet
    command column, are verified by the caller through telemetry instead.)"""
    oid = control.oid_for(outlet)
    await engine.set(target, oid, control.type, control.value)
    back = (await engine.get(target, [oid])).get(oid)
    want = control.value.encode() if isinstance(control.value, str) else control.value
    if back != want:
        raise ControlVerifyError(
            f"{oid}: set to {control.value!r} but the agent reads back {back!r}"
        )
    return back
