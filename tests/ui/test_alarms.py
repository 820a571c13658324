"""The alarm rules (pure core; no Qt needed)."""

from __future__ import annotations

import pytest

from opsconsole.core.alarms import AlarmKind, AlarmThresholds, AlarmTracker, EventKind
from opsconsole.core.readings import Reading, Status
from tests.ui.fakes import make_site


def _miner(dev: str, ts: float, **m) -> Reading:
    base = {"hashrate_ths": 100.0, "hashrate_nominal_ths": 100.0, "temp_c": 70.0,
            "state": "mining"}
    return Reading(dev, ts, Status.OK, {**base, **m})


def test_defaults_and_overrides():
    th = AlarmThresholds.from_mapping({"miner_temp_c": 80, "unreachable_intervals": 3})
    assert (th.miner_temp_c, th.gpu_temp_c, th.hashrate_min_pct, th.unreachable_intervals) == (
        80.0, 83.0, 80.0, 3.0)
    with pytest.raises(ValueError, match="unknown key"):
        AlarmThresholds.from_mapping({"miner_temp": 80})
    with pytest.raises(ValueError, match="expected a number"):
        AlarmThresholds.from_mapping({"gpu_temp_c": "hot"})


def test_temperature_hashrate_and_clear():
    site = make_site(rows=1, miners_per_row=2, gpus=1)
    t = AlarmTracker(site)
    ev = t.update([_miner("a-01", 0, temp_c=86.0),
                   _miner("a-02", 0, hashrate_ths=70.0),
                   Reading("gpu-0", 0, Status.OK, {"temp_c": 84.0})], now=0)
    kinds = {(e.device, e.kind) for e in ev}
    assert kinds == {("a-01", EventKind.ALARM), ("a-02", EventKind.ALARM),
                     ("gpu-0", EventKind.ALARM)}
    assert AlarmKind.TEMP in t.active["a-01"] and AlarmKind.HASHRATE in t.active["a-02"]
    ev = t.update([_miner("a-01", 10, temp_c=70.0)], now=10)
    assert [e.kind for e in ev] == [EventKind.CLEARED] and not t.is_alarmed("a-01")
    # a sleeping miner (or a group not mining) is not short of hashrate
    ev = t.update([_miner("a-02", 20, hashrate_ths=0.0, state="sleeping")], now=20)
    assert not t.is_alarmed("a-02")


def test_unreachable_after_two_intervals():
    site = make_site(rows=1, miners_per_row=1, gpus=0, interval=10)
    t = AlarmTracker(site)
    t.update([_miner("a-01", 0)], now=0)
    ev = t.update([Reading("a-01", 10, Status.UNREACHABLE, {}, "timeout")], now=10)
    assert [e.kind for e in ev] == [EventKind.UNREACHABLE] and not t.is_alarmed("a-01")
    assert t.tick(25) == []  # 15 s: not yet more than two intervals
    ev = t.tick(31)
    assert [e.kind for e in ev] == [EventKind.ALARM]
    assert AlarmKind.UNREACHABLE in t.active["a-01"]
    ev = t.update([_miner("a-01", 40)], now=40)
    assert {e.kind for e in ev} == {EventKind.BACK, EventKind.CLEARED}
    assert t.alarm_count == 0
