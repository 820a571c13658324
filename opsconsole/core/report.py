"""The `poll` output: the JSON contract and a plain-text table."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from opsconsole.core.readings import MetricValue, Reading
from opsconsole.core.site import Site
from opsconsole.core.store import LiveStore


def _clean(v: MetricValue) -> MetricValue:
    """JSON-safe and tidy: no NaN (null instead), floats to 3 decimals."""
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else round(v, 3)
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def device_entry(site: Site, r: Reading) -> dict[str, Any]:
    d = site.device(r.device)
    assert d is not None
    return {
        "id": d.id,
        "group": d.group,
        "kind": d.kind,
        "address": d.address,
        "profile": d.profile,
        "status": r.status.value,
        "error": r.error,
        "metrics": {k: _clean(v) for k, v in r.metrics.items()},
        **({"labels": dict(r.labels)} if r.labels else {}),
    }


def poll_json(site: Site, store: LiveStore, readings: list[Reading], cycle_s: float,
              duties: dict[str, str] | None = None) -> dict[str, Any]:
    duties = duties or {}
    newest = max((r.ts for r in readings), default=None)
    collected = datetime.fromtimestamp(newest, UTC) if newest else datetime.now(UTC)
    groups = []
    for g in site.groups:
        s = store.summary(g.id)
        groups.append({
            "id": g.id,
            "name": g.name,
            "duty": duties.get(g.id, g.duty),
            "devices_ok": s.devices_ok,
            "devices_total": s.devices_total,
            "hashrate_ths": _clean(s.hashrate_ths),
            "power_w": _clean(s.power_w),
            "temp_c": _clean(s.temp_c),
            "util_pct": _clean(s.util_pct),
            "tokens_per_s": _clean(s.tokens_per_s),
        })
    order = {d.id: i for i, d in enumerate(site.devices())}
    return {
        "site": site.name,
        "collected_at": collected.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cycle_s": round(cycle_s, 3),
        "devices": [device_entry(site, r) for r in sorted(readings, key=lambda r: order[r.device])],
        "groups": groups,
        "tokens_per_s": _clean(store.summary().tokens_per_s),
    }


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


TABLE_COLUMNS = [("hashrate_ths", "TH/s"), ("power_w", "W"), ("temp_c", "°C"),
                 ("fan_rpm", "fan"), ("util_pct", "util%"), ("state", "state")]


def poll_table(site: Site, store: LiveStore, readings: list[Reading], cycle_s: float) -> str:
    doc = poll_json(site, store, readings, cycle_s)
    idw = max([len(d["id"]) for d in doc["devices"]] + [6])
    head = f"{'device':<{idw}} {'group':<10} {'kind':<5} {'status':<11}" + "".join(
        f"{h:>9}" for _, h in TABLE_COLUMNS) + "  error"
    lines = [f"{doc['site']}  {doc['collected_at']}  cycle {doc['cycle_s']:.2f} s", head]
    for d in doc["devices"]:
        m = d["metrics"]
        lines.append(
            f"{d['id']:<{idw}} {d['group']:<10} {d['kind']:<5} {d['status']:<11}"
            + "".join(_fmt(m.get(k), 9) for k, _ in TABLE_COLUMNS)
            + (f"  {d['error']}" if d["error"] else "")
        )
    lines.append("")
    for g in doc["groups"]:
        lines.append(
            f"group {g['id']:<10} {g['duty']:<9} {g['devices_ok']}/{g['devices_total']} ok"
            f"  hashrate {_fmt(g['hashrate_ths'], 0)} TH/s  power {_fmt(g['power_w'], 0)} W"
            f"  max temp {_fmt(g['temp_c'], 0)} °C"
        )
    return "\n".join(lines)
