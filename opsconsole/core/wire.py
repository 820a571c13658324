"""The site service's JSON back into core objects, for a client that keeps a
replica (the GUI connected to a service): the site model without its
secrets, readings from the push stream's device entries, alarms, events,
duty states, plans and progress events. No I/O here.

`site_to_doc` / `site_from_doc` carry the whole Site (groups, devices,
profiles, alarm thresholds, wall and economics settings) as tagged JSON.
Nothing secret crosses: credentials are dropped, device credential names
too, and a duty keeps its name but not its steps (their parameters may hold
tokens, passwords or environment secrets; plans come from the service).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

from opsconsole.core.alarmrules import AlarmRule
from opsconsole.core.alarms import Alarm, AlarmKind, Event, EventKind
from opsconsole.core.alarmthresholds import AlarmThresholds
from opsconsole.core.duty.model import (
    DeviceResult,
    GroupState,
    Plan,
    PlannedStep,
    ProgressEvent,
)
from opsconsole.core.profiles import ControlSpec, MetricSpec, Profile
from opsconsole.core.readings import Reading, Status
from opsconsole.core.site import Device, Group, Site
from opsconsole.core.wallconfig import WallConfig

SITE_MODEL_VERSION = 1
_CLASSES: dict[str, type] = {c.__name__: c for c in (
    Site, Group, Device, Profile, MetricSpec, ControlSpec, AlarmThresholds, AlarmRule,
    WallConfig)}


class WireError(ValueError):
    """A document that is not what the service sends (one line)."""


# -- the site model ----------------------------------------------------------------------
def _encode(v: Any) -> Any:
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        name = type(v).__name__
        if name not in _CLASSES:
            raise WireError(f"site model: cannot encode {name}")
        return {"__c__": name, "f": {f.name: _encode(getattr(v, f.name))
                                     for f in dataclasses.fields(v) if f.init}}
    if isinstance(v, tuple):
        return {"__t__": [_encode(x) for x in v]}
    if isinstance(v, frozenset | set):
        return {"__s__": sorted((_encode(x) for x in v), key=repr)}
    if isinstance(v, Path):
        return {"__p__": str(v)}
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v):
            return {k: _encode(x) for k, x in v.items()}
        return {"__d__": [[_encode(k), _encode(x)] for k, x in v.items()]}
    if isinstance(v, list):
        return [_encode(x) for x in v]
    if v is None or isinstance(v, bool | int | float | str):
        return v
    raise WireError(f"site model: cannot encode {type(v).__name__}")


def _decode(v: Any) -> Any:
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if not isinstance(v, dict):
        return v
    if "__c__" in v:
        cls = _CLASSES.get(v["__c__"])
        if cls is None:
            raise WireError(f"site model: unknown type {v['__c__']!r}")
        names = {f.name for f in dataclasses.fields(cls) if f.init}  # not derived ones
        return cls(**{k: _decode(x) for k, x in v["f"].items() if k in names})
    if "__t__" in v:
        return tuple(_decode(x) for x in v["__t__"])
    if "__s__" in v:
        return frozenset(_decode(x) for x in v["__s__"])
    if "__p__" in v:
        return Path(v["__p__"])
    if "__d__" in v:
        return {_decode(k): _decode(x) for k, x in v["__d__"]}
    return {k: _decode(x) for k, x in v.items()}


def site_to_doc(site: Site) -> dict[str, Any]:
    """The site for a client: everything but secrets (see the module doc)."""
    groups = tuple(dataclasses.replace(
        g, devices=tuple(dataclasses.replace(d, credentials=None) for d in g.devices),
        duties={name: () for name in g.duties}) for g in site.groups)
    bare = dataclasses.replace(site, credentials={}, groups=groups, data_dir=None)
    return {"version": SITE_MODEL_VERSION, "site": _encode(bare)}


def site_from_doc(doc: dict[str, Any]) -> Site:
    if not isinstance(doc, dict) or doc.get("version") != SITE_MODEL_VERSION:
        raise WireError("site model: not a version-1 document from the site service")
    try:
        site = _decode(doc["site"])
    except (KeyError, TypeError) as exc:
        raise WireError(f"site model: malformed ({type(exc).__name__}: {exc})") from None
    if not isinstance(site, Site):
        raise WireError("site model: not a site")
    return site


# -- readings, alarms, events ---------------------------------------------------------------
def iso_ts(text: Any) -> float | None:
    """A time the service sends (UTC, ISO 8601, or Unix seconds) as Unix time."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def collected_ts(doc: dict[str, Any]) -> float | None:
    """The poll document's `collected_at` as Unix time."""
    return iso_ts(doc.get("collected_at"))


def reading_from_entry(e: dict[str, Any], ts: float) -> Reading:
    """A device entry of the poll document or a `readings` message; `ts`
    when the entry carries none (a snapshot's entries)."""
    return Reading(device=e["id"], ts=float(e.get("ts") or ts), status=Status(e["status"]),
                   metrics=dict(e.get("metrics") or {}), error=e.get("error"),
                   labels=dict(e.get("labels") or {}))


def alarm_from_dict(d: dict[str, Any]) -> Alarm:
    names = {f.name for f in dataclasses.fields(Alarm)}
    return Alarm(**{k: v for k, v in d.items() if k in names} | {"kind": AlarmKind(d["kind"])})


def event_from_dict(d: dict[str, Any]) -> Event:
    return Event(float(d["ts"]), d["device"], EventKind(d["kind"]), d.get("message", ""))


# -- duty ---------------------------------------------------------------------------------
def _pick(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in d.items() if k in names}


def group_state_from_dict(d: dict[str, Any]) -> GroupState:
    return GroupState(**_pick(GroupState, d))


def progress_from_dict(d: dict[str, Any]) -> ProgressEvent:
    return ProgressEvent(**_pick(ProgressEvent, d))


def plan_from_public(d: dict[str, Any]) -> Plan:
    """A plan as the service shows it (Plan.public): enough to preview and
    to ask the service to run it; step parameters are the public ones."""
    fields = _pick(Plan, d)
    fields["steps"] = [PlannedStep(index=s["index"], action=s["action"],
                                   params=dict(s.get("params") or {}),
                                   devices=tuple(s.get("devices") or ()),
                                   timeout_s=float(s.get("timeout_s") or 0), note=s.get("note", ""))
                       for s in d.get("steps") or []]
    fields["carried"] = [DeviceResult(**_pick(DeviceResult, c)) for c in d.get("carried") or []]
    return Plan(**fields)
