"""Another process holds the write locks of the alarm log, the duty journal
and the approvals (a `duty set` from a terminal, a backup tool, a stuck
console) while the site engine polls real loopback agents and raises alarms.
No SQLite call may block the loop: poll cycles go on (counted, not clocked),
alarms are raised and shown, and their rows are written once the lock is
gone, or, when it is held past the busy timeout, the loss is a storage fault.
Real SQLite files, a real second process, the simulator's real agents."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from opsconsole.core import alarmlog
from opsconsole.core.alarmlog import AlarmLog
from opsconsole.core.alarmrules import AlarmRule
from opsconsole.core.duty import Journal
from opsconsole.core.duty.approvals import Approvals
from opsconsole.core.site import Site
from opsconsole.core.siteload import load_site
from opsconsole.core.storage import ALARM_LOG
from opsconsole.service.engine import SiteEngine
from opsconsole.sim.site import SimSite
from tests.fixtures.sqlite_lock import LockHolder
from tests.service.support import interval
from tests.test_duty_support import popen_cli
from tests.test_poller import fast_site

WARM = AlarmRule("temp_c", ">", -1000.0, name="any-temp", kind="miner")  # every miner, at once
HANG_GUARD_S = 120.0  # only against a hang: a blocked loop would run no cycle at all


def alarmed_site(sim: SimSite) -> Site:
    site = fast_site(sim)
    return dataclasses.replace(site, alarms=dataclasses.replace(site.alarms, rules=(WARM,)))


def existing_files(data: Path) -> None:
    """The files of an earlier run: opening them again takes no write lock."""
    AlarmLog.in_dir(data).close()
    Journal.in_dir(data).close()
    Approvals.in_dir(data).close()


def run_locked(engine: SiteEngine, holders: list[LockHolder],
               body: Callable[[], Awaitable[dict[str, object]]]) -> dict[str, object]:
    """body() while the engine runs; the lock holders are killed after, whatever happens."""
    async def main() -> dict[str, object]:
        await engine.start()
        try:
            return await body()
        finally:
            await engine.stop()

    try:
        return asyncio.run(main())
    finally:
        for h in holders:
            h.kill()


async def until(cond: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(HANG_GUARD_S):
        while not cond():
            await asyncio.sleep(0.05)
    assert cond(), what


def test_engine_polls_and_raises_alarms_while_the_files_are_locked(
        sim_site_factory: Callable[..., SimSite], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alarmlog, "BUSY_TIMEOUT_S", 600.0)  # the rows wait for the lock
    site = alarmed_site(sim_site_factory(miners=3, gpus=0))
    miners = {d.id for d in site.devices() if d.kind == "miner"}
    data = tmp_path / "data"
    existing_files(data)
    holders = [LockHolder(data / name)
               for name in ("alarms.sqlite", "duty.sqlite", "approvals.sqlite")]
    engine = SiteEngine(site, data)

    async def body() -> dict[str, object]:
        log = engine.state.alarm_log
        assert isinstance(log, AlarmLog)
        await until(lambda: engine.state.alarms.alarm_count >= len(miners), "alarms")
        start = engine.cycles
        planning = asyncio.create_task(engine.desk.plan("switch", site.groups[0].id, "idle"))
        await until(lambda: engine.cycles >= start + 3, "cycles while locked")
        seen = {"cycles": engine.cycles - start, "planning_waited": not planning.done(),
                "written_while_locked": log.written,
                "alarmed": {a.device for a in engine.state.alarms.alarms()}}
        for h in holders:
            await asyncio.to_thread(h.release)
        assert await asyncio.to_thread(log.flush, HANG_GUARD_S)
        plan = await planning
        seen["plan"] = (plan.group, plan.to_duty)
        seen["rows"] = await asyncio.to_thread(log.entries)
        seen["faults"] = engine.state.storage_faults.current()
        return seen

    seen = run_locked(engine, holders, body)
    assert seen["cycles"] >= 3
    assert seen["planning_waited"], "planning did not wait for the journal's lock"
    assert seen["written_while_locked"] == 0, "the alarm log wrote through another's lock?"
    assert seen["alarmed"] >= miners  # raised and shown while the log was locked
    rows = seen["rows"]
    assert isinstance(rows, list)
    assert {r["subject"] for r in rows if r["key"] == WARM.key} == miners
    assert seen["plan"] == (site.groups[0].id, "idle")
    assert seen["faults"] == []


def test_a_lock_held_past_the_busy_timeout_is_a_fault_and_polling_goes_on(
        sim_site_factory: Callable[..., SimSite], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alarmlog, "BUSY_TIMEOUT_S", 0.2)
    site = alarmed_site(sim_site_factory(miners=2, gpus=0))
    data = tmp_path / "data"
    existing_files(data)
    holder = LockHolder(data / "alarms.sqlite")
    engine = SiteEngine(site, data)

    async def body() -> dict[str, object]:
        log = engine.state.alarm_log
        faults = engine.state.storage_faults
        assert isinstance(log, AlarmLog)
        await until(lambda: bool(faults.current()), "the fault")
        start = engine.cycles
        await until(lambda: engine.cycles >= start + 3, "cycles after the fault")
        assert await asyncio.to_thread(log.flush, HANG_GUARD_S)  # each try gave up
        warm = [a for a in engine.state.alarms.alarms() if a.key == WARM.key]
        seen: dict[str, object] = {
            "fault": [(f.area, f.problem) for f in faults.current()],
            "shown": len(warm),
            "lost": [a.log_key is not None and log.lost(a.log_key) for a in warm]}
        await asyncio.to_thread(holder.release)
        # a new alarm after the lock is gone is written, and the banner goes
        engine.state.acknowledge("a-01", WARM.key, "ops", "seen")
        key = engine.state.alarms.find("a-01", WARM.key).log_key  # type: ignore[union-attr]
        extra = log.raised("a-01", "device", "extra", "rule", "warning", "after", 1.0)
        assert await asyncio.to_thread(log.flush, HANG_GUARD_S)
        seen["extra_row"] = log.row_id(extra)
        seen["ack_lost"] = log.lost(key)
        seen["faults_after"] = faults.current()
        return seen

    seen = run_locked(engine, [holder], body)
    assert seen["fault"] == [(ALARM_LOG, "locked by another process for too long")]
    assert seen["shown"] == 2  # the alarms are still shown; only their records are lost
    assert seen["lost"] == [True, True]
    assert seen["ack_lost"] is True  # its raise was lost: nothing to update
    assert isinstance(seen["extra_row"], int)
    assert seen["faults_after"] == []


def test_poll_prints_every_cycle_while_another_process_holds_the_journal(
        sim_site: SimSite, tmp_path: Path) -> None:
    """`opsconsole poll` (continuous) reads each group's duty from the journal
    every cycle, in a worker thread: with the journal write-locked by another
    process it goes on printing one document per cycle, duties included."""
    assert sim_site.config_path is not None
    cfg = interval(sim_site.config_path, tmp_path / "site.toml", 1)
    data = tmp_path / "data"
    Journal.in_dir(data).close()
    holder = LockHolder(data / "duty.sqlite")
    proc = popen_cli("poll", "--config", cfg, "--data-dir", data, "--format", "json")
    docs: list[dict] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # ends only if poll exits: it must not, while we read
            if line.startswith("{"):
                docs.append(json.loads(line))
                if len(docs) == 3:
                    break
    finally:
        proc.kill()
        proc.wait()
        holder.kill()
    assert len(docs) == 3, "poll stopped printing"
    for doc in docs:
        assert {g["id"]: g["duty"] for g in doc["groups"]} == {
            g.id: g.duty for g in load_site(cfg, env={}).groups}
