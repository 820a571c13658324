"""Issue 13, core: aggregates that say what they miss, duty/telemetry
contradictions as alarms, one data dir per site, journal states read without
writing, and storage faults as one line naming the file (real files, real
SQLite)."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from pathlib import Path

import pytest

from opsconsole.core.alarmlog import AlarmLog
from opsconsole.core.alarms import AlarmKind, AlarmThresholds, AlarmTracker
from opsconsole.core.datadir import DEFAULT, OVERRIDE, SITE_FILE, resolve_data_dir
from opsconsole.core.duty import Journal, Plan
from opsconsole.core.duty.journal import group_duty, read_group_states
from opsconsole.core.dutycheck import (
    IDLE_HASHING,
    INFERENCE_NO_LOAD,
    MINING_ZERO,
    contradictions,
)
from opsconsole.core.history import HistoryWriter
from opsconsole.core.readings import Status
from opsconsole.core.report import poll_json, poll_table
from opsconsole.core.storage import StorageError, StorageFaults
from opsconsole.core.store import SITE, LiveStore
from opsconsole.core.truth import at_least, not_answering
from tests.test_store import make_site, r

NOW = 1_000_000.0


def fed_site_store() -> tuple[LiveStore, object]:
    site = make_site()
    return LiveStore(site), site


# ---------------------------------------------------------------- incomplete aggregates

def test_silent_devices_make_sums_lower_bounds() -> None:
    store, _site = fed_site_store()
    store.ingest([
        r("pdu-a", NOW, power_w=None),  # the PDU answers without power: its miners count
        r("a-01", NOW, hashrate_ths=100.0, power_w=3000.0),
        r("a-02", NOW, Status.UNREACHABLE),
        r("b-01", NOW, hashrate_ths=50.0, power_w=1500.0),
        r("gpu-0", NOW, util_pct=40.0, power_w=300.0),
    ])
    a = store.summary("row-a")
    assert a.devices_silent == 1 and a.devices_ok == 2
    assert a.hashrate_ths == 100.0 and a.missing["hashrate_ths"] == 1
    # power: the PDU (no value) and a-02 (silent) are missing, a-01 counts
    assert a.power_w == 3000.0 and a.missing["power_w"] == 2
    assert a.incomplete("power_w") and not store.summary("row-b").incomplete("power_w")
    site_sum = store.summary(SITE)
    assert site_sum.missing["hashrate_ths"] == 1 and site_sum.devices_silent == 1
    # efficiency over miners with both values, and the miner left out
    assert site_sum.efficiency_jth == pytest.approx(4500.0 / 150.0)
    assert site_sum.missing["efficiency_jth"] == 1
    # the same counts, vectorised per scope, and kept in the slot's ring
    vec = store.missing_latest()
    assert vec["power_w"].tolist() == [2, 2, 0]
    col = store.newest_col()
    assert store.agg_missing["hashrate_ths"][:, col].tolist() == [1, 1, 0]


def test_a_pdu_reading_covers_its_outlets() -> None:
    store, _ = fed_site_store()
    store.ingest([r("pdu-a", NOW, power_w=6500.0), r("a-01", NOW, Status.UNREACHABLE),
                  r("a-02", NOW, Status.UNREACHABLE)])
    a = store.summary("row-a")
    assert a.power_w == 6500.0 and "power_w" not in a.missing  # the PDU measured them
    assert a.missing["hashrate_ths"] == 2


def test_incomplete_words_and_poll_output() -> None:
    assert not_answering(1) == "1 device not answering"
    assert at_least("2.3 kW", 210) == ">= 2.3 kW, 210 devices not answering"
    assert at_least("2.3 kW", 0) == "2.3 kW"
    store, site = fed_site_store()
    readings = [r("pdu-a", NOW, Status.UNREACHABLE), r("a-01", NOW, hashrate_ths=100.0,
                                                           power_w=2300.0),
                r("a-02", NOW, Status.UNREACHABLE), r("b-01", NOW, hashrate_ths=0.0),
                r("gpu-0", NOW, util_pct=0.0)]
    store.ingest(readings)
    doc = poll_json(site, store, readings, 0.5)
    a = doc["groups"][0]
    assert a["incomplete"] is True and a["devices_not_answering"] == 2
    assert a["missing"]["power_w"] == 2 and a["power_w"] == 2300.0
    assert doc["totals"]["devices_not_answering"] == 2 and doc["totals"]["incomplete"]
    text = poll_table(site, store, readings, 0.5)
    assert ">= 2.3 kW, 2 devices not answering" in text
    assert ">= 100.0 TH/s, 1 device not answering" in text
    assert "efficiency 23.0 J/TH (without 2 miners lacking power or hashrate)" in text


# ---------------------------------------------------------------- contradictions

def test_contradictions_of_each_kind() -> None:
    store, _site = fed_site_store()
    store.ingest([r("a-01", NOW, hashrate_ths=0.0), r("a-02", NOW, hashrate_ths=0.0),
                  r("b-01", NOW, hashrate_ths=95.0), r("gpu-0", NOW, util_pct=1.0)])
    found = contradictions(store, {"row-a": "mining", "row-b": "idle"})
    assert found["row-a"].kind == MINING_ZERO and "0 TH/s" in found["row-a"].message
    assert found["row-b"].kind == IDLE_HASHING and "95.0 TH/s" in found["row-b"].message
    found = contradictions(store, {"row-a": "idle", "row-b": "inference"})
    assert "row-a" not in found  # idle at 0 TH/s is what idle means
    assert found["row-b"].kind == INFERENCE_NO_LOAD
    assert contradictions(store, {"row-b": "idle"}, skip={"row-b"}) == {}


def test_silent_group_is_no_contradiction() -> None:
    store, _ = fed_site_store()
    store.ingest([r("a-01", NOW, Status.UNREACHABLE), r("a-02", NOW, Status.UNREACHABLE)])
    assert contradictions(store, {"row-a": "mining"}) == {}


def test_contradiction_alarm_is_held_logged_and_cleared(tmp_path: Path) -> None:
    store, site = fed_site_store()
    log = AlarmLog.in_dir(tmp_path)
    th = AlarmThresholds(duty_check_hold_s=60.0)
    tr = AlarmTracker(site, th, log=log)
    tr.set_duty("row-b", "idle")
    store.ingest([r("b-01", NOW, hashrate_ths=95.0)])
    assert tr.update_duty_checks(store, NOW) == []  # held, not yet raised
    assert [e.kind.value for e in tr.tick(NOW + 61)] == ["alarm"]
    alarm = tr.group_active["row-b"]["duty_mismatch"]
    assert alarm.kind is AlarmKind.DUTY_MISMATCH and alarm.scope == "group"
    assert "idle but hashing" in alarm.message
    assert log.flush()
    assert [row["key"] for row in log.open_alarms()] == ["duty_mismatch"]
    # a switch in flight suspends the check: the alarm clears
    tr.set_duty("row-b", "mining", "switching")
    events = tr.update_duty_checks(store, NOW + 62)
    assert [e.kind.value for e in events] == ["cleared"] and not tr.group_active
    log.close()


# ---------------------------------------------------------------- data dir

def test_default_data_dir_is_keyed_by_site_name_not_path(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSCONSOLE_DATA_ROOT", str(tmp_path / "root"))
    a = dataclasses.replace(make_site(), path=tmp_path / "one" / "site.toml")
    b = dataclasses.replace(make_site(), path=tmp_path / "two" / "copy.toml")
    da, db = resolve_data_dir(a), resolve_data_dir(b)
    assert da.path == db.path and da.source == DEFAULT
    assert da.path.parent == (tmp_path / "root").resolve()
    # another OS user's data dir setting does not move it
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "other-user"))
    assert resolve_data_dir(a).path == da.path
    assert resolve_data_dir(a, tmp_path / "x").source == OVERRIDE


def test_two_data_dirs_for_one_site_are_named(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSCONSOLE_DATA_ROOT", str(tmp_path / "root"))
    site = make_site()
    default = resolve_data_dir(site)
    Journal.in_dir(default.path).close()  # the default holds a journal
    mine = dataclasses.replace(site, data_dir=tmp_path / "copy" / "data")
    choice = resolve_data_dir(mine)
    assert choice.source == SITE_FILE and choice.others == (default.path,)
    assert str(default.path) in choice.warning and str(mine.data_dir) in choice.warning
    Journal.in_dir(choice.path).close()
    # the default now learns of the copy's folder through the registry
    back = resolve_data_dir(site)
    assert back.others == (choice.path,) and str(choice.path) in back.warning
    assert resolve_data_dir(dataclasses.replace(site, name="Other")).warning is None


# ---------------------------------------------------------------- journal read without writing

def test_read_group_states_writes_nothing(tmp_path: Path) -> None:
    site = make_site()
    assert read_group_states(site, tmp_path / "none")["row-a"].duty == "mining"
    assert not (tmp_path / "none").exists()
    j = Journal.in_dir(tmp_path)
    sid = j.begin(Plan("row-a", "mining", "idle", "switch", []), "mining")
    j.finish(sid, "done", "ok")
    j.close()
    before = (tmp_path / "duty.sqlite").read_bytes()
    states = read_group_states(site, tmp_path)
    assert states["row-a"].duty == "idle" and states["row-a"].status == "ok"
    assert states["row-b"].duty == "idle" and states["row-b"].switch_id is None
    assert group_duty(site, tmp_path, "row-a").switch_id == sid
    assert (tmp_path / "duty.sqlite").read_bytes() == before  # (SQLite may add its -shm)


def test_a_switch_whose_process_died_reads_as_interrupted(tmp_path: Path) -> None:
    j = Journal.in_dir(tmp_path)
    j.begin(Plan("row-a", "mining", "idle", "switch", []), "mining")
    with sqlite3.connect(tmp_path / "duty.sqlite") as db:  # as if another, dead process ran it
        db.execute("UPDATE switches SET pid = 999999999")
    assert read_group_states(make_site(), tmp_path)["row-a"].status == "interrupted"
    j.close()


# ---------------------------------------------------------------- storage faults

def corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not an SQLite database\n" * 200)
    return path


@pytest.mark.parametrize("opener, name, area", [
    (Journal.in_dir, "duty.sqlite", "switching"),
    (AlarmLog.in_dir, "alarms.sqlite", "alarm log"),
    (HistoryWriter.in_dir, "history.sqlite", "history"),
])
def test_corrupt_files_are_one_line_naming_the_file(tmp_path: Path, opener, name: str,
                                                    area: str) -> None:
    path = corrupt(tmp_path / name)
    with pytest.raises(StorageError) as err:
        opener(tmp_path)
    assert err.value.path == path and err.value.area == area
    assert str(err.value) == f"{path}: not a valid SQLite database (corrupt?) ({area} is off)"


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "dd").write_text("a file")
    with pytest.raises(StorageError) as err:
        Journal.in_dir(tmp_path / "dd")
    assert "is a file, not a folder" in str(err.value) and str(tmp_path / "dd") in str(err.value)


def test_corrupt_journal_read(tmp_path: Path) -> None:
    corrupt(tmp_path / "duty.sqlite")
    with pytest.raises(StorageError, match="corrupt"):
        read_group_states(make_site(), tmp_path)


def test_alarm_log_write_failure_is_a_fault_not_a_crash(tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    faults = StorageFaults()
    seen: list[int] = []
    faults.add_listener(lambda fs: seen.append(len(fs)))
    log = AlarmLog.in_dir(tmp_path, faults)
    log._db.close()  # the file goes away under it (disk gone, closed): writes fail
    key = log.raised("a-01", "device", "temp", "temp", "warning", "hot", NOW)  # queued
    log.cleared(key, NOW)
    assert log.flush()
    assert log.lost(key) and log.row_id(key) is None  # its record is lost, and said so
    log.cleared(key, NOW + 1)  # a later change of a lost alarm is no new fault
    assert log.flush()
    [fault] = faults.current()
    assert fault.area == "alarm log" and fault.path == tmp_path / "alarms.sqlite"
    assert seen == [1]  # reported once, not per write
    assert len([r for r in caplog.records if "alarm log is off" in r.getMessage()]) == 1
    assert all(r.exc_info is None for r in caplog.records)
    log.close()


def test_history_writer_failure_is_a_fault(tmp_path: Path) -> None:
    faults = StorageFaults()
    w = HistoryWriter.in_dir(tmp_path, faults=faults)
    w._db.close()  # every later write fails on the writer thread
    w.ingest([r("a-01", NOW, hashrate_ths=1.0)], None)
    w._thread.join(10)
    assert not w._thread.is_alive()
    [fault] = faults.current()
    assert fault.area == "history" and fault.path == tmp_path / "history.sqlite"
    assert "history is off" in fault.text


def test_the_system_root_is_shared_by_its_group(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The .deb's /var/lib/opsconsole (set-group-id, group-writable): without
    OPSCONSOLE_DATA_ROOT it is the default root, and the site folder and its
    databases come out group-writable, so the wall's kiosk user shares them."""
    import stat

    from opsconsole.core import datadir

    root = tmp_path / "var-lib-opsconsole"
    root.mkdir()
    root.chmod(0o2775)
    monkeypatch.delenv("OPSCONSOLE_DATA_ROOT")
    monkeypatch.setattr(datadir, "SYSTEM_ROOT", root)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user"))
    old = os.umask(0o022)  # a login's usual umask: files would be 0644
    try:
        choice = resolve_data_dir(make_site())
        assert choice.path.parent == root
        Journal.in_dir(choice.path).close()
        AlarmLog.in_dir(choice.path).close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(choice.path.stat().st_mode) == 0o2775
    for name in ("duty.sqlite", "alarms.sqlite"):
        assert (choice.path / name).stat().st_mode & 0o060 == 0o060, name
    monkeypatch.setattr(datadir, "SYSTEM_ROOT", tmp_path / "absent")
    assert resolve_data_dir(make_site()).path.parent == tmp_path / "user" / "opsconsole" / "sites"


def test_an_empty_journal_file_has_no_switches_yet(tmp_path: Path) -> None:
    (tmp_path / "duty.sqlite").write_bytes(b"")  # created, schema not written yet
    assert read_group_states(make_site(), tmp_path)["row-a"].duty == "mining"
