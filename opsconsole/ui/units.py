"""Number formatting for display: auto-scaled units and metric values.
Missing values show as an en dash, never as a made-up number."""

from __future__ import annotations

import math
import time

from opsconsole.core.metrics import CATALOGUE
from opsconsole.core.truth import not_answering

NA = "–"
NOT_REPORTED = "not reported"  # the device's firmware gives no such reading (never estimated)


def _ok(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def answering(ok: int, down: int, total: int) -> str:
    """The detail under "ok / total": who is silent and how, never "all
    answering" while some have not answered yet."""
    waiting = total - ok - down
    parts = [not_answering(down)] if down else []
    if waiting > 0:
        parts.append(f"{waiting:,} not answered yet")
    return ", ".join(parts) or "all answering"


def lower_bound(text: str, missing: int) -> str:
    """A sum or mean over devices of which `missing` say nothing is a lower
    bound (the words of core.truth.at_least); a dash stays a dash."""
    return f">= {text}" if missing > 0 and text != NA else text


Scale = tuple[tuple[float, str, int], ...]  # (divisor, unit, decimals), largest first


def _scaled(value: float | None, scale: Scale) -> str:
    """`value` in the largest unit it reaches (the last one below that)."""
    if not _ok(value):
        return NA
    assert value is not None
    *larger, last = scale
    div, unit, places = next((s for s in larger if abs(value) >= s[0]), last)
    return f"{value / div:.{places}f} {unit}"


def hashrate(ths: float | None) -> str:
    """TH/s scaled to PH/s, EH/s."""
    return _scaled(ths, ((1e6, "EH/s", 2), (1e3, "PH/s", 2), (1, "TH/s", 1)))


def power(w: float | None) -> str:
    return _scaled(w, ((1e6, "MW", 2), (1e3, "kW", 1), (1, "W", 0)))


def tokens(tps: float | None) -> str:
    """Generated tokens per second, scaled to k and M."""
    return _scaled(tps, ((1e6, "M tok/s", 1), (1e3, "k tok/s", 1), (1, "tok/s", 0)))


def temp(c: float | None) -> str:
    return f"{c:.0f} °C" if _ok(c) else NA


def pct(p: float | None) -> str:
    return f"{p:.0f} %" if _ok(p) else NA


def duration(s: float | None) -> str:
    if not _ok(s):
        return NA
    assert s is not None
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def clock(ts: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts)) if _ok(ts) else NA


def metric(name: str, value: object, with_unit: bool = True) -> str:
    """A catalogue metric with its unit (lists joined, states as text);
    without the unit for a column whose header names it."""
    if value is None:
        return NA
    if isinstance(value, list):
        return ", ".join(metric(name, v, with_unit) for v in value) or NA
    if isinstance(value, str):
        return value
    if not _ok(value):
        return NA
    assert isinstance(value, int | float)
    if not with_unit and name.startswith("hashrate"):
        return f"{value:.1f}"
    if name == "hashrate_ths" or name == "hashrate_nominal_ths":
        return hashrate(value)
    if name == "uptime_s":
        return duration(value)
    info = CATALOGUE.get(name)
    unit = info.unit if info and with_unit else ""
    text = f"{value:.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:.1f}"
    return f"{text} {unit}".rstrip()
