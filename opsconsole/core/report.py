"""The `poll` output: the JSON contract and a plain-text table."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsconsole.core.readings import MetricValue, Reading
from opsconsole.core.site import Site
from opsconsole.core.store import SITE, LiveStore
from opsconsole.core.truth import at_least

if TYPE_CHECKING:
    from opsconsole.core.duty.model import GroupState
    from opsconsole.core.dutycheck import Contradiction


def _clean(v: MetricValue) -> MetricValue:
    """JSON-safe and tidy: no NaN (null instead), floats to 3 decimals."""
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else round(v, 3)
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def device_entry(site: Site, r: Reading, devices: Mapping[str, Any] | None = None
                 ) -> dict[str, Any]:
    """`devices`: id -> Device, for callers that build many entries (a scan
    of the site per reading is quadratic at 20,000 devices)."""
    d = devices[r.device] if devices is not None else site.device(r.device)
    assert d is not None
    return {
        "id": d.id,
        "group": d.group,
        "kind": d.kind,
        "address": d.address,
        "profile": d.profile,
        **({"api": d.api} if d.api is not None else {}),
        "status": r.status.value,
        "error": r.error,
        "metrics": {k: _clean(v) for k, v in r.metrics.items()},
        **({"labels": dict(r.labels)} if r.labels else {}),
    }


def scope_entry(store: LiveStore, scope: str) -> dict[str, Any]:
    """Aggregates of a group (or the site, scope SITE) and what they miss:
    `incomplete` is true when a sum or mean leaves out devices that should
    count, `missing` says how many per metric."""
    s = store.summary(scope)
    return {
        "devices_ok": s.devices_ok,
        "devices_total": s.devices_total,
        "hashrate_ths": _clean(s.hashrate_ths),
        "power_w": _clean(s.power_w),
        "temp_c": _clean(s.temp_c),
        "util_pct": _clean(s.util_pct),
        "tokens_per_s": _clean(s.tokens_per_s),
        "efficiency_jth": _clean(s.efficiency_jth),
        "devices_not_answering": s.devices_silent,
        "incomplete": bool(s.missing),
        "missing": dict(s.missing),
    }


def poll_json(site: Site, store: LiveStore, readings: list[Reading], cycle_s: float,
              states: Mapping[str, GroupState] | None = None,
              contradictions: Mapping[str, Contradiction] | None = None) -> dict[str, Any]:
    """`states`: each group's duty from the journal (duty.journal.read_group_states);
    without it, the site file's starting duty. `contradictions`: core.dutycheck."""
    states = states or {}
    contradictions = contradictions or {}
    newest = max((r.ts for r in readings), default=None)
    collected = datetime.fromtimestamp(newest, UTC) if newest else datetime.now(UTC)
    groups = []
    for g in site.groups:
        st = states.get(g.id)
        c = contradictions.get(g.id)
        groups.append({
            "id": g.id,
            "name": g.name,
            "duty": st.duty if st is not None else g.duty,
            "duty_status": st.status if st is not None else "ok",
            **scope_entry(store, g.id),
            "contradiction": c.message if c is not None else None,
        })
    devs = site.devices()
    order = {d.id: i for i, d in enumerate(devs)}
    by_id = {d.id: d for d in devs}
    return {
        "site": site.name,
        "collected_at": collected.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cycle_s": round(cycle_s, 3),
        "devices": [device_entry(site, r, by_id)
                    for r in sorted(readings, key=lambda r: order[r.device])],
        "groups": groups,
        "tokens_per_s": _clean(store.summary().tokens_per_s),
        "totals": {"id": "site", **scope_entry(store, SITE)},
    }


def poll_doc(site: Site, store: LiveStore, readings: list[Reading], cycle_s: float,
             states: Mapping[str, GroupState]) -> dict[str, Any]:
    """The `poll --format json` document with each group's duty from the
    journal and the duty/telemetry contradictions (a group mid-switch or
    not ok is not checked): what `poll` prints and what the service serves."""
    from opsconsole.core.dutycheck import contradictions

    found = contradictions(store, {g: st.duty for g, st in states.items()}, site.alarms,
                           skip={g for g, st in states.items() if st.status != "ok"})
    return poll_json(site, store, readings, cycle_s, states, found)


def _fmt(v: MetricValue, width: int) -> str:
    if v is None:
        s = "-"
    elif isinstance(v, float):
        s = f"{v:.1f}"
    elif isinstance(v, list):
        s = f"[{len(v)}]"
    else:
        s = str(v)
    return s.rjust(width)


NOT_REPORTED = "n/r"
TABLE_COLUMNS = [("hashrate_ths", "TH/s"), ("power_w", "W"), ("temp_c", "°C"),
                 ("fan_rpm", "fan"), ("util_pct", "util%"), ("tokens_per_s", "tok/s"),
                 ("state", "state")]


def _kw(w: float | None) -> str:
    return "-" if w is None else f"{w / 1000:,.1f} kW"


def _scope_line(e: dict[str, Any]) -> str:
    """Power, hashrate and efficiency of a scope, each a lower bound when
    devices that should count are silent (core.truth)."""
    miss = e["missing"]
    rate = at_least(f"{_fmt(e['hashrate_ths'], 0)} TH/s", miss.get("hashrate_ths", 0))
    power = at_least(_kw(e["power_w"]), miss.get("power_w", 0))
    text = (f"{e['devices_ok']}/{e['devices_total']} ok  hashrate {rate}  power {power}"
            f"  max temp {_fmt(e['temp_c'], 0)} °C")
    if e.get("tokens_per_s") is not None:
        text += f"  tokens {_fmt(e['tokens_per_s'], 0)}/s"
    if e["efficiency_jth"] is not None:
        eff = f"{e['efficiency_jth']:.1f} J/TH"
        left = miss.get("efficiency_jth", 0)
        text += f"  efficiency {eff}" + (
            f" (without {left:,} miner{'' if left == 1 else 's'} lacking power or hashrate)"
            if left else "")
    return text


def poll_table(site: Site, store: LiveStore, readings: list[Reading], cycle_s: float,
               states: Mapping[str, GroupState] | None = None,
               contradictions: Mapping[str, Contradiction] | None = None) -> str:
    return format_table(poll_json(site, store, readings, cycle_s, states, contradictions))


def format_table(doc: dict[str, Any]) -> str:
    """The `poll --format table` text of a `poll --format json` document (also
    what a client prints from the site service's snapshot)."""
    idw = max([len(d["id"]) for d in doc["devices"]] + [6])
    kw = max([len(d["kind"]) for d in doc["devices"]] + [5])
    head = f"{'device':<{idw}} {'group':<10} {'kind':<{kw}} {'status':<11}" + "".join(
        f"{h:>9}" for _, h in TABLE_COLUMNS) + "  error"
    lines = [f"{doc['site']}  {doc['collected_at']}  cycle {doc['cycle_s']:.2f} s", head]
    silent = False
    for d in doc["devices"]:
        m = d["metrics"]
        cells = [_fmt(m.get(k), 9) for k, _ in TABLE_COLUMNS]
        if d.get("api") and d["status"] in ("ok", "partial") and "power_w" not in m:
            cells[1] = NOT_REPORTED.rjust(9)  # the firmware gives none: never estimated
            silent = True
        lines.append(
            f"{d['id']:<{idw}} {d['group']:<10} {d['kind']:<{kw}} {d['status']:<11}"
            + "".join(cells) + (f"  {d['error']}" if d["error"] else "")
        )
    if silent:
        lines.append(f"({NOT_REPORTED.strip()}: power not reported by the miner's firmware; "
                     "its PDU's reading counts in the group power)")
    lines.append("")
    for g in doc["groups"]:
        duty = g["duty"] if g["duty_status"] == "ok" else f"{g['duty']} ({g['duty_status']})"
        lines.append(f"group {g['id']:<10} {duty:<9} {_scope_line(g)}")
        if g["contradiction"]:
            lines.append(f"  ! {g['id']}: {g['contradiction']}")
    lines.append(f"site  {'':<10} {'':<9} {_scope_line(doc['totals'])}")
    return "\n".join(lines)
