"""Alarms you can act on: hold times, hysteresis, acknowledgement, group power,
the alarm log across a restart, and `[[alarms.rules]]` in the site file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from opsconsole.core.alarmlog import AlarmLog
from opsconsole.core.alarmrules import AlarmRule
from opsconsole.core.alarms import (
    ACKNOWLEDGED,
    AlarmKind,
    AlarmThresholds,
    AlarmTracker,
    EventKind,
)
from opsconsole.core.errors import ConfigError
from opsconsole.core.readings import Reading, Status
from opsconsole.core.siteload import load_site
from tests.fixtures.sqlite_lock import LockHolder
from tests.ui.fakes import make_site

HOT = AlarmRule("temp_c", ">", 85.0, name="hot", kind="miner", hold_s=30, clear=80.0,
                severity="critical")


def miner(ts: float, temp: float, dev: str = "a-01") -> Reading:
    return Reading(dev, ts, Status.OK, {"temp_c": temp, "hashrate_ths": 100.0,
                                        "hashrate_nominal_ths": 100.0, "state": "mining"})


def kinds(events) -> list[EventKind]:
    return [e.kind for e in events]


def tracker(log: AlarmLog | None = None, **th) -> AlarmTracker:
    site = make_site(rows=1, miners_per_row=2, gpus=0)
    return AlarmTracker(site, AlarmThresholds(miner_temp_c=150, rules=(HOT,), **th), log=log)


def test_rule_holds_then_raises_and_clears_past_hysteresis() -> None:
    t = tracker()
    key = HOT.key
    assert t.update([miner(0, 90)], now=0) == []  # tripped, holding
    assert t.update([miner(10, 84)], now=10) == []  # dipped: the hold starts over
    assert t.update([miner(20, 90)], now=20) == []
    assert t.tick(49) == []
    ev = t.tick(50)  # held 30 s: raised without waiting for the next reading
    assert kinds(ev) == [EventKind.ALARM]
    a = t.active["a-01"][key]
    assert (a.kind, a.severity, a.since, a.state) == (AlarmKind.RULE, "critical", 50, "raised")
    assert t.update([miner(60, 82)], now=60) == []  # in the band: stays raised
    assert t.is_alarmed("a-01")
    acked, ev = t.acknowledge("a-01", key, "alice", "fan swapped, watching", now=65)
    assert acked is not None and kinds(ev) == [EventKind.ACKNOWLEDGED]
    a = t.active["a-01"][key]
    assert (a.state, a.acked_by, a.acked_at, a.comment) == (
        ACKNOWLEDGED, "alice", 65, "fan swapped, watching")
    assert t.update([miner(70, 81)], now=70) == []  # still in the band, still acknowledged
    assert t.active["a-01"][key].state == ACKNOWLEDGED
    ev = t.update([miner(80, 79.5)], now=80)  # past the clear level
    assert kinds(ev) == [EventKind.CLEARED] and not t.is_alarmed("a-01")
    # a device not answering holds no value alarm (and drops a pending one)
    t.update([miner(90, 95)], now=90)
    t.update([Reading("a-01", 100, Status.UNREACHABLE, {}, "timeout")], now=100)
    assert t.tick(200) and HOT.key not in t.active.get("a-01", {})


def test_builtin_thresholds_keep_working_with_hysteresis_and_hold() -> None:
    site = make_site(rows=1, miners_per_row=1, gpus=0)
    t = AlarmTracker(site, AlarmThresholds(hold_s=20))
    assert t.update([miner(0, 90)], now=0) == []
    assert kinds(t.update([miner(20, 90)], now=20)) == [EventKind.ALARM]
    assert t.update([miner(30, 83)], now=30) == []  # 85 - 3: not yet clear
    assert kinds(t.update([miner(40, 82)], now=40)) == [EventKind.CLEARED]


def grouped_site(kw: float = 10.0):
    site = make_site(rows=1, miners_per_row=2, gpus=0)
    g = dataclasses.replace(site.groups[0], expected_kw={"mining": kw, "idle": 0.5})
    return dataclasses.replace(site, groups=(g,))


def test_group_power_above_its_expected_draw() -> None:
    site = grouped_site(kw=10.0)
    t = AlarmTracker(site, AlarmThresholds(group_power_hold_s=60))
    assert t.update_groups({"row-a": 10_900.0}, now=0) == []  # within 10 %
    assert t.update_groups({"row-a": 11_500.0}, now=10) == []  # over, holding
    ev = t.update_groups({"row-a": 11_600.0}, now=70)
    assert kinds(ev) == [EventKind.ALARM] and t.alarm_count == 1
    a = t.group_active["row-a"][AlarmKind.GROUP_POWER]
    assert a.scope == "group" and "expected 10 kW for mining" in a.message
    assert not t.is_alarmed("row-a")  # a group alarm does not mark a device
    assert t.update_groups({"row-a": 10_700.0}, now=80) == []  # under +10 %, over +5 %
    assert kinds(t.update_groups({"row-a": 10_400.0}, now=90)) == [EventKind.CLEARED]
    # the expected draw follows the group's duty
    t.duties["row-a"] = "idle"
    t.update_groups({"row-a": 3000.0}, now=100)
    assert kinds(t.tick(161)) == [EventKind.ALARM]
    # no reading of the group's power: nothing to judge, the alarm clears
    assert kinds(t.update_groups({"row-a": None}, now=170)) == [EventKind.CLEARED]


def test_alarm_log_survives_a_restart(tmp_path: Path) -> None:
    log = AlarmLog.in_dir(tmp_path)
    t = tracker(log, hold_s=0)
    t.update([miner(0, 90), miner(0, 90, "a-02")], now=0)
    t.tick(30)
    t.acknowledge("a-01", HOT.key, "bob", "known", now=40)
    log.close()

    log = AlarmLog.in_dir(tmp_path)  # a new process
    t = tracker(log)
    a = t.find("a-01", HOT.key)
    assert a is not None and (a.state, a.acked_by, a.comment, a.since) == (
        ACKNOWLEDGED, "bob", "known", 30)
    assert t.find("a-02", HOT.key).state == "raised"
    ev = t.update([miner(100, 70)], now=100)
    assert kinds(ev) == [EventKind.CLEARED]
    assert log.flush()
    rows = {r["subject"]: r for r in log.entries()}
    assert rows["a-01"]["cleared_at"] == 100 and rows["a-01"]["acked_by"] == "bob"
    assert rows["a-02"]["cleared_at"] is None
    log.close()


def test_rules_in_the_site_file(tmp_path: Path) -> None:
    f = tmp_path / "site.toml"
    f.write_text('[site]\nname = "x"\n[alarms]\nhold_s = 15\n'
                 '[[alarms.rules]]\nname = "hot inlet"\nmetric = "temp_inlet_c"\nop = ">"\n'
                 'value = 40\nclear_below = 37\nhold_s = 30\nkind = "miner"\n')
    th = load_site(f).alarms
    assert th.hold_s == 15 and th.miner_temp_c == 85.0
    assert th.rules == (AlarmRule("temp_inlet_c", ">", 40.0, "hot inlet", "miner", None, (),
                                  30.0, 37.0, "warning"),)
    f.write_text('[site]\nname = "x"\n[[alarms.rules]]\nmetric = "temp_c"\nop = ">"\n'
                 'value = 40\ngroup = "row-z"\nseverity = "fatal"\n')
    with pytest.raises(ConfigError) as exc:
        load_site(f)
    assert any('alarms.rules[0].severity: unknown severity "fatal"' in x
               for x in exc.value.errors)


def test_alarm_log_queues_behind_another_process_and_writes_in_order(tmp_path: Path) -> None:
    """raised / acked / cleared return at once while another process holds
    the file's write lock; the writer thread commits them in order after."""
    log = AlarmLog.in_dir(tmp_path)
    holder = LockHolder(log.path)
    try:
        a = log.raised("a-01", "device", "temp", "temp", "warning", "hot", 1.0)
        b = log.raised("a-02", "device", "temp", "temp", "warning", "hot", 1.0)
        log.acked(a, "bob", "known", 2.0)
        log.cleared(b, 3.0, "cooled")
        assert log.written == 0 and log.row_id(a) is None  # nothing through the lock
        holder.release()
        assert log.flush()
    finally:
        holder.kill()
    rows = {r["subject"]: r for r in log.entries()}
    assert (rows["a-01"]["acked_by"], rows["a-01"]["cleared_at"]) == ("bob", None)
    assert (rows["a-02"]["cleared_at"], rows["a-02"]["clear_message"]) == (3.0, "cooled")
    assert log.row_id(a) == rows["a-01"]["id"]
    assert log.written == 4 and not log.faults.current()
    log.close()
