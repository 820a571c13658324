"""Each firmware family's replies -> the metric catalogue, field by field.

One explicit map per family (docs/miner-api.md "Firmware in practice"): units
(GH/s or MH/s), the hottest board or chip temperature, fans, power only
where the firmware reports it, rated hashrate, uptime, state and per-board
lists. A reading the firmware does not give is absent, never estimated; a
board that reads 0 on a running miner is a missing reading, not 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from opsconsole.collectors.minerapi.replies import ApiError
from opsconsole.core.readings import MetricValue

MINING, SLEEPING, IDLE = "mining", "sleeping", "idle"

Replies = dict[str, "dict[str, Any] | ApiError"]


@dataclass
class Parsed:
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # expected of this family, not served
    errors: list[str] = field(default_factory=list)  # sections that failed

    def put(self, name: str, value: MetricValue) -> None:
        if value is None or value == []:
            self.missing.append(name)
        else:
            self.metrics[name] = value

    def put_extra(self, name: str, value: MetricValue) -> None:
        """A reading only some firmware of a family gives: absent is not missing."""
        if value is not None:
            self.metrics[name] = value


# ---- small readers ---------------------------------------------------------------


def num(value: Any) -> float | None:
    """A number as firmware sends it: int, float or a numeric string ("37603.30")."""
    kind = type(value)  # exact types first: the parsers call this for every field
    if kind is float:
        return value
    if kind is int:
        return float(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def temp(value: Any) -> float | None:
    """A temperature: 0 and below (-273, unset sensors) is no reading."""
    t = num(value)
    return t if t is not None and 0 < t < 200 else None


def first(row: dict[str, Any], keys: Iterable[str]) -> float | None:
    for k in keys:
        v = num(row.get(k))
        if v is not None:
            return v
    return None


def rows(replies: Replies, command: str, section: str, out: Parsed) -> list[dict[str, Any]]:
    """The list under `section` of `command`'s reply ([] and an error noted if absent)."""
    reply = replies.get(command)
    if isinstance(reply, ApiError):
        out.errors.append(str(reply))
        return []
    if reply is None:
        return []
    got = reply.get(section)
    if isinstance(got, dict):
        got = [got]
    return [r for r in got if isinstance(r, dict)] if isinstance(got, list) else []


def row0(replies: Replies, command: str, section: str, out: Parsed) -> dict[str, Any]:
    r = rows(replies, command, section, out)
    return r[0] if r else {}


def ths(value: float | None, unit: str) -> float | None:
    if value is None:
        return None
    scale = {"GH": 1e-3, "MH": 1e-6, "TH": 1.0, "KH": 1e-9}[unit]
    return round(value * scale, 6)


def fans_rpm(values: Iterable[float | None]) -> float | None:
    """The slowest turning fan (a failing fan shows as the slowest); slots
    reading 0 are empty unless every fan reads 0 (fans stopped)."""
    got = [v for v in values if v is not None]
    if not got:
        return None
    turning = [v for v in got if v > 0]
    return min(turning) if turning else 0.0


def hottest(values: Iterable[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return max(got) if got else None


def board_rates(rates: list[float | None], rate: float | None) -> list[float | None]:
    """A board reading 0 on a running miner (`rate` > 0) is missing, not 0."""
    running = bool(rate and rate > 0)
    return [None if (r is not None and r <= 0 and running) else r for r in rates]


_DEV_MHS = ("MHS 5s", "MHS 1m", "MHS av")


def dev_rates(devs: list[dict[str, Any]], rate: float | None) -> list[float | None]:
    """Per-board hashrates of a `devs` reply in MH/s (cgminer's own layout)."""
    return board_rates([ths(first(d, _DEV_MHS), "MH") for d in devs], rate)


def nominal_ths(devs: list[dict[str, Any]]) -> float | None:
    """The rated hashrate: the sum of the boards' `Nominal MHS` where any is given."""
    nominal = [num(d.get("Nominal MHS")) for d in devs]
    return ths(sum(n for n in nominal if n), "MH") if any(nominal) else None


def state_from_rate(rate: float | None) -> str | None:
    if rate is None:
        return None
    return MINING if rate > 0 else IDLE


def uptime(summary: dict[str, Any]) -> int | None:
    v = first(summary, ("Elapsed", "Uptime"))
    return int(v) if v is not None else None


def _int(v: float | None) -> int | None:
    return int(v) if v is not None else None


def text(value: Any) -> str | None:
    """A non-empty string, or None (a model name the firmware may leave out)."""
    return value if isinstance(value, str) and value else None


def details_model(replies: Replies) -> str | None:
    """The first board's `Model` in a `devdetails` reply (not asked: no error)."""
    details = rows(replies, "devdetails", "DEVDETAILS", Parsed())
    return text(next((d.get("Model") for d in details if d.get("Model")), None))


# ---- Antminer (stock bmminer) and VNish: GH/s, dash-joined temperatures ---------

_DASH = re.compile(r"(?:^|-)(-?\d+(?:\.\d+)?)")


def dash_values(text: Any) -> list[float]:
    """`"78-50-69-70"` -> [78, 50, 69, 70]; a negative reading (`2--1-20`) is
    the minus after a separator; readings of 0 and below are dropped."""
    if not isinstance(text, str):
        return []
    vals = [float(m) for m in _DASH.findall(text)]
    return [v for v in vals if 0 < v < 200]


def _bm_stats(stats: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    head = next((r for r in stats if "Type" in r), {})
    body = next((r for r in stats if "ID" in r or "fan_num" in r or "chain_rate1" in r), {})
    return head, body


def parse_bmminer(replies: Replies) -> Parsed:
    out = Parsed()
    summ = row0(replies, "summary", "SUMMARY", out)
    head, st = _bm_stats(rows(replies, "stats", "STATS", out))
    unit = str(st.get("rate_unit") or "GH").upper().rstrip("/S")[:2] or "GH"
    unit = unit if unit in ("GH", "MH", "TH", "KH") else "GH"
    rate = ths(first(summ, ("GHS 5s", "GHS av")), "GH")
    if rate is None:
        rate = ths(first(st, ("GHS 5s", "GHS av")), "GH")
    out.put("hashrate_ths", rate)
    out.put("hashrate_nominal_ths", ths(num(st.get("total_rateideal")), unit))
    # a board slot exists when it has chips or a rate; empty slots read 0 / ""
    boards = [i for i in range(1, 17)
              if num(st.get(f"chain_acn{i}")) or num(st.get(f"chain_rate{i}"))]
    b_rate = board_rates([ths(num(st.get(f"chain_rate{i}")), unit) for i in boards], rate)
    b_temp = [hottest([*dash_values(st.get(f"temp_chip{i}")), temp(st.get(f"temp2_{i}"))])
              for i in boards]
    b_chips = [_int(num(st.get(f"chain_acn{i}"))) for i in boards]
    out.put("temp_c", hottest(b_temp) if boards else hottest(
        temp(st.get(k)) for k in ("temp1", "temp2", "temp3", "temp_max")))
    n_fans = _int(num(st.get("fan_num"))) or 0
    fan_keys = [f"fan{i}" for i in range(1, 9)]
    fan_vals = [num(st.get(k)) for k in (fan_keys[:n_fans] if n_fans else fan_keys)]
    out.put("fan_rpm", fans_rpm(fan_vals))
    out.put("uptime_s", uptime(summ) or _int(num(st.get("Elapsed"))))
    out.put("state", state_from_rate(rate))
    out.put("board_hashrate_ths", b_rate)
    out.put("board_temp_c", b_temp)
    out.put("board_chips", b_chips)
    out.put_extra("model", text(head.get("Type")))
    return out


# ---- Whatsminer: MH/s, power in summary, btmineroff in `status` -----------------


def parse_whatsminer(replies: Replies) -> Parsed:
    out = Parsed()
    summ = row0(replies, "summary", "SUMMARY", out)
    devs = rows(replies, "devs", "DEVS", out)
    rate = ths(first(summ, ("MHS 5s", "HS RT", "MHS 1m", "MHS av")), "MH")
    out.put("hashrate_ths", rate)
    out.put("hashrate_nominal_ths", ths(num(summ.get("Factory GHS")), "GH"))
    out.put("power_w", first(summ, ("Power_RT", "Power")))
    b_rate = dev_rates(devs, rate)
    b_temp = [hottest([temp(d.get("Chip Temp Max")), temp(d.get("Temperature"))]) for d in devs]
    out.put("temp_c", hottest([temp(summ.get("Chip Temp Max")), temp(summ.get("Temperature")),
                               *b_temp]))
    out.put_extra("temp_inlet_c", temp(summ.get("Env Temp")))
    out.put("fan_rpm", fans_rpm([num(summ.get("Fan Speed In")), num(summ.get("Fan Speed Out"))]))
    out.put("uptime_s", _int(first(summ, ("Uptime", "Elapsed"))))
    status = replies.get("status")
    off = None
    if isinstance(status, dict) and isinstance(status.get("Msg"), dict):
        msg = status["Msg"]
        off = msg.get("btmineroff", msg.get("mineroff"))
    if isinstance(status, ApiError):
        out.errors.append(str(status))
    out.put("state", SLEEPING if str(off).lower() == "true" else state_from_rate(rate))
    out.put("board_hashrate_ths", b_rate)
    out.put("board_temp_c", b_temp)
    out.put("board_chips", [_int(num(d.get("Effective Chips"))) for d in devs])
    out.put_extra("model", details_model(replies))
    return out


# ---- Braiins OS (BOSminer): MH/s; temps, fans, tunerstatus commands -------------


def parse_braiins(replies: Replies) -> Parsed:
    out = Parsed()
    summ = row0(replies, "summary", "SUMMARY", out)
    devs = rows(replies, "devs", "DEVS", out)
    temps = rows(replies, "temps", "TEMPS", out)
    fans = rows(replies, "fans", "FANS", out)
    tuner = row0(replies, "tunerstatus", "TUNERSTATUS", out)
    rate = ths(first(summ, ("MHS 5s", "MHS 1m", "MHS av")), "MH")
    out.put("hashrate_ths", rate)
    out.put("hashrate_nominal_ths", nominal_ths(devs))
    out.put("power_w", num(tuner.get("ApproximateMinerPowerConsumption")))
    by_id = {t.get("ID"): t for t in temps}
    b_rate = dev_rates(devs, rate)
    b_temp = [hottest([temp(by_id.get(d.get("ID"), {}).get("Chip")),
                       temp(by_id.get(d.get("ID"), {}).get("Board"))]) for d in devs]
    if not devs:
        b_temp = [hottest([temp(t.get("Chip")), temp(t.get("Board"))]) for t in temps]
    out.put("temp_c", hottest(b_temp))
    out.put("fan_rpm", fans_rpm(num(f.get("RPM")) for f in fans))
    out.put("uptime_s", uptime(summ))
    out.put("state", state_from_rate(rate))
    out.put("board_hashrate_ths", b_rate)
    out.put("board_temp_c", b_temp)
    details = rows(replies, "devdetails", "DEVDETAILS", Parsed())
    chips = [_int(num(d.get("Chips"))) for d in details]
    if any(c for c in chips):
        out.metrics["board_chips"] = chips
    out.put_extra("model", details_model(replies))
    return out


# ---- LuxOS: GHS in summary, MHS in devs; power, temps, fans, config --------------

_LUX_TEMP_KEYS = ("TopLeft", "TopRight", "BottomLeft", "BottomRight", "Board", "Chip")


def parse_luxos(replies: Replies) -> Parsed:
    out = Parsed()
    summ = row0(replies, "summary", "SUMMARY", out)
    devs = sorted(rows(replies, "devs", "DEVS", out), key=lambda d: num(d.get("ID")) or 0)
    temps = sorted(rows(replies, "temps", "TEMPS", out), key=lambda t: num(t.get("ID")) or 0)
    fans = rows(replies, "fans", "FANS", out)
    power = row0(replies, "power", "POWER", out)
    config = row0(replies, "config", "CONFIG", out)
    rate = ths(first(summ, ("GHS 5s", "GHS 1m", "GHS av")), "GH")
    out.put("hashrate_ths", rate)
    out.put("hashrate_nominal_ths", nominal_ths(devs))
    out.put("power_w", num(power.get("Watts")))
    b_rate = dev_rates(devs, rate)
    b_temp = [hottest(temp(t.get(k)) for k in _LUX_TEMP_KEYS) for t in temps]
    if not temps:
        b_temp = [temp(d.get("Temperature")) for d in devs]
    out.put("temp_c", hottest(b_temp))
    out.put("fan_rpm", fans_rpm(num(f.get("RPM")) for f in fans))
    out.put("uptime_s", uptime(summ))
    curtail = str(config.get("CurtailMode", "")).lower()
    out.put("state", SLEEPING if curtail in ("sleep", "curtailed") else state_from_rate(rate))
    out.put("board_hashrate_ths", b_rate)
    out.put("board_temp_c", b_temp)
    out.put_extra("model", text(config.get("Model")))
    return out


# ---- Avalon: MH/s; the real values sit in the `MM ID0` string of `stats` ---------

_BRACKET = re.compile(r"(\w[\w ]*?)\[([^\]]*)\]")
_FAN_KEY = re.compile(r"Fan\d+")


def mm_fields(text: str) -> dict[str, str]:
    """`"Ver[Q-2505] TMax[78] Fan1[3000]"` -> {"Ver": "Q-2505", "TMax": "78", ...}."""
    return {k.strip(): v for k, v in _BRACKET.findall(text)}


def parse_avalon(replies: Replies) -> Parsed:
    out = Parsed()
    summ = row0(replies, "summary", "SUMMARY", out)
    stats = rows(replies, "stats", "STATS", out)
    mm: dict[str, str] = {}
    for r in stats:
        for k, v in r.items():
            if k.startswith("MM ID") and isinstance(v, str):
                mm.update(mm_fields(v))
    rate = ths(first(summ, ("MHS 5s", "MHS 30s", "MHS 1m", "MHS av")), "MH")
    out.put("hashrate_ths", rate)
    out.put("temp_c", hottest([temp(mm.get("TMax")), temp(mm.get("HBOTemp")),
                               temp(mm.get("HBITemp"))]))
    out.put_extra("temp_inlet_c", temp(mm.get("ITemp")))
    fan_keys = sorted(k for k in mm if _FAN_KEY.fullmatch(k))
    out.put("fan_rpm", fans_rpm(num(mm[k]) for k in fan_keys))
    watts = num(mm.get("WALLPOWER"))
    if watts is None and mm.get("PS"):
        parts = mm["PS"].split()
        watts = num(parts[-1]) if parts else None
    out.put("power_w", watts)
    out.put("uptime_s", uptime(summ) or _int(num(mm.get("Elapsed"))))
    status = mm.get("SYSTEMSTATU", "")
    state: str | None
    if "In Idle" in status:
        state = SLEEPING
    elif "In Work" in status:
        state = MINING
    else:
        state = state_from_rate(rate)
    out.put("state", state)
    version = row0(replies, "version", "VERSION", Parsed())
    out.put_extra("model", text(version.get("PROD") or version.get("MODEL")))
    return out


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    commands: tuple[str, ...]  # asked every poll (joined where the firmware allows)
    parse: Callable[[Replies], Parsed]


FAMILY: dict[str, Family] = {
    "antminer": Family("antminer", ("summary", "stats"), parse_bmminer),
    "vnish": Family("vnish", ("summary", "stats"), parse_bmminer),
    "whatsminer": Family("whatsminer", ("summary", "devs", "status", "devdetails"),
                         parse_whatsminer),
    "braiins": Family("braiins", ("summary", "devs", "temps", "fans", "tunerstatus",
                                  "devdetails"), parse_braiins),
    "luxos": Family("luxos", ("summary", "devs", "temps", "fans", "power", "config"),
                    parse_luxos),
    "avalon": Family("avalon", ("summary", "stats", "version"), parse_avalon),
}
