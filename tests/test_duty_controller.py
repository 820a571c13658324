"""DutyController against the simulated site (real SNMP over loopback UDP)."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import threading
from pathlib import Path

import pytest

from opsconsole.collectors.duty_actions import EXECUTORS
from opsconsole.core.duty import (
    DEGRADED,
    DONE,
    READ_ONLY,
    REFUSED,
    DutyController,
    Journal,
    ProgressEvent,
)
from opsconsole.core.duty.executors import Executors
from opsconsole.core.duty.steps import ACTIONS
from opsconsole.core.site import DutyStep
from opsconsole.core.siteload import load_site
from opsconsole.sim import miner as mm
from opsconsole.sim.inference import _Handler, _Server
from opsconsole.sim.site import SimSite
from tests.test_duty_support import cli, gate_argv, with_controller, with_steps

ROW_A = [f"a-{i:02d}" for i in range(1, 7)]


def states(sim: SimSite, ids: list[str] = ROW_A) -> list[int]:
    return [sim.miner(i).sample().state for i in ids]


def test_switch_idle_and_back_with_progress(sim_site: SimSite, tmp_path: Path) -> None:
    site = load_site(sim_site.config_path)
    events: list[ProgressEvent] = []

    async def go(ctl: DutyController):
        idle = await ctl.switch("row-a", "idle", events.append)
        assert states(sim_site) == [mm.SLEEPING] * 6
        back = await ctl.switch("row-a", "mining")
        return idle, back, ctl.state("row-a")

    idle, back, st = asyncio.run(with_controller(site, tmp_path, go))
    assert (idle.outcome, back.outcome, idle.exit_code) == (DONE, DONE, 0)
    assert [s.status for s in idle.steps] == ["ok", "ok"]
    assert all(s != mm.SLEEPING for s in states(sim_site))
    assert (st.duty, st.status) == ("mining", "ok")
    kinds = [e.kind for e in events]
    assert kinds[0] == "plan-start" and kinds[-1] == "done" and kinds.count("device") == 12
    assert events[-1].outcome == DONE


def test_plan_over_budget_is_refused_with_numbers(sim_site: SimSite, tmp_path: Path) -> None:
    site = dataclasses.replace(load_site(sim_site.config_path), power_budget_kw=5.0)
    row = site.group("row-a")
    gpu = site.group("gpu-a")
    assert row is not None and gpu is not None

    async def go(ctl: DutyController):
        down = await ctl.switch("row-a", "idle")  # shedding load: allowed
        plan = await ctl.plan("row-a", "mining")
        return down, plan, await ctl.execute(plan)

    down, plan, res = asyncio.run(with_controller(site, tmp_path, go))
    assert down.outcome == DONE
    after, others = row.expected_kw["mining"], gpu.expected_kw["inference"]
    assert (plan.power_now_kw, plan.power_after_kw, plan.others_kw) == (
        row.expected_kw["idle"], after, others)
    want = (f"site power after the switch {after + others:.1f} kW (row-a {after:.1f} kW + "
            f"other groups {others:.1f} kW) exceeds the budget of 5 kW by "
            f"{after + others - 5:.1f} kW")
    assert plan.refusals == ["power: " + want]
    assert (res.outcome, res.exit_code) == (REFUSED, 4) and want in res.message
    assert states(sim_site) == [mm.SLEEPING] * 6  # nothing was woken
    journal = Journal.in_dir(tmp_path)
    assert journal.audit()[-1]["outcome"] == "refused"


def test_one_device_without_write_access_leaves_group_degraded(
        sim_site: SimSite, tmp_path: Path) -> None:
    bad = sim_site.miner("a-03")
    bad.read_community, bad.write_community = b"private", b"nobody"  # our SETs: read-only
    site = load_site(sim_site.config_path)

    async def go(ctl: DutyController):
        res = await ctl.switch("row-a", "idle")
        st = ctl.state("row-a")
        bad.read_community, bad.write_community = b"public", b"private"
        retry = await ctl.retry("row-a")
        return res, st, retry, ctl.state("row-a")

    res, st, retry, st2 = asyncio.run(with_controller(site, tmp_path, go))
    assert (res.outcome, res.exit_code) == (DEGRADED, 3)
    assert [f.device for f in res.failures] == ["a-03"]
    assert "noAccess" in res.failures[0].message and "a-03" in res.message
    others = [i for i in ROW_A if i != "a-03"]
    assert states(sim_site, others) == [mm.SLEEPING] * 5
    assert [s.status for s in res.steps] == ["partial", "partial"]  # a-03 skipped at step 2
    assert (st.status, st.duty) == ("degraded", "idle")
    assert retry.outcome == DONE and retry.plan.device_count == 1
    assert states(sim_site, ["a-03"]) == [mm.SLEEPING]
    assert (st2.status, st2.duty) == ("ok", "idle")


def test_command_step_times_out(sim_site: SimSite, tmp_path: Path) -> None:
    slow = DutyStep("command", "all", {
        "argv": (sys.executable, "-c", "import time; print('warming up', flush=True); "
                 "time.sleep(30)"), "timeout_s": 1.0})
    after = DutyStep("snmp-set", "miners", {"control": "sleep"})
    site = with_steps(load_site(sim_site.config_path), "row-a", "idle", [slow, after])

    async def go(ctl: DutyController):
        return await ctl.switch("row-a", "idle")

    res = asyncio.run(with_controller(site, tmp_path, go))
    assert res.outcome == DEGRADED
    first, second = res.steps
    assert (first.status, first.message) == ("failed", "timed out after 1 s (killed)")
    assert "warming up" in first.output
    assert second.status == "not_run"  # a failed step stops the switch
    assert all(s != mm.SLEEPING for s in states(sim_site))


def test_http_step_never_healthy(sim_site: SimSite, tmp_path: Path) -> None:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.ready_at = float("inf")  # /health: 503 forever
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    step = DutyStep("http", "all", {"url": f"http://127.0.0.1:{port}/health", "method": "GET",
                                    "expect_status": 200, "timeout_s": 1.5})
    site = with_steps(load_site(sim_site.config_path), "gpu-a", "idle", [step])
    try:
        res = asyncio.run(with_controller(
            site, tmp_path, lambda ctl: ctl.switch("gpu-a", "idle")))
    finally:
        srv.shutdown()
        srv.server_close()
    assert res.outcome == DEGRADED
    assert res.steps[0].message == (f"GET http://127.0.0.1:{port}/health: not 200 within "
                                    "1.5 s (last: HTTP 503)")


def test_second_switch_of_a_group_is_refused_while_one_runs(
        sim_site: SimSite, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    step = DutyStep("command", "all", {"argv": tuple(gate_argv(gate)), "timeout_s": 60})
    site = with_steps(load_site(sim_site.config_path), "row-a", "idle", [step])
    cfg = sim_site.config_path

    async def go(ctl: DutyController):
        first = asyncio.create_task(ctl.switch("row-a", "idle"))
        while not gate.with_suffix(".started").exists():
            await asyncio.sleep(0.05)
        again = await ctl.switch("row-a", "mining")  # same controller
        other = DutyController(site, Journal.in_dir(tmp_path), ctl.io,  # e.g. a second window
                               executors=ctl.executors)
        also = await other.switch("row-a", "mining")
        proc = await asyncio.to_thread(  # another process: the CLI
            cli, "duty", "set", "row-a", "mining", "--yes", "--config", cfg,
            "--data-dir", tmp_path)
        ok = await ctl.switch("gpu-a", "idle")  # other groups are not blocked
        gate.with_suffix(".go").touch()
        return await first, again, also, proc, ok

    first, again, also, proc, ok = asyncio.run(with_controller(site, tmp_path, go))
    assert first.outcome == DONE
    for res in (again, also):
        assert res.outcome == REFUSED and "a switch to idle is in progress" in res.message
    assert proc.returncode == 4 and "a switch to idle is in progress" in proc.stderr
    assert ok.outcome == DONE


def test_read_only_refuses_through_the_controller(sim_site: SimSite, tmp_path: Path) -> None:
    site = load_site(sim_site.config_path)

    async def go(ctl: DutyController):
        return [await ctl.switch("row-a", "idle"), await ctl.rollback("row-a"),
                await ctl.switch("gpu-a", "mining")]

    results = asyncio.run(with_controller(site, tmp_path, go, read_only=True))
    assert all(r.outcome == REFUSED and r.exit_code == 4 for r in results)
    assert results[0].message == READ_ONLY
    assert all(s != mm.SLEEPING for s in states(sim_site))
    audit = Journal.in_dir(tmp_path).audit()
    assert [a["outcome"] for a in audit] == ["refused"] * 3


def test_audit_survives_a_restart(sim_site: SimSite, tmp_path: Path) -> None:
    site = load_site(sim_site.config_path)
    asyncio.run(with_controller(site, tmp_path, lambda c: c.switch("row-a", "idle")))

    async def later(ctl: DutyController):  # a new controller, a new journal connection
        return ctl.audit(), ctl.state("row-a")

    audit, st = asyncio.run(with_controller(site, tmp_path, later))
    (rec,) = audit
    assert (rec["group"], rec["from"], rec["to"], rec["outcome"]) == (
        "row-a", "mining", "idle", "done")
    assert rec["user"] and rec["host"] and rec["time"].endswith("Z")
    assert [s["action"] for s in rec["steps"]] == ["snmp-set", "wait-metric"]
    assert sorted(d["device"] for d in rec["steps"][0]["devices"]) == ROW_A
    assert all(d["ok"] for s in rec["steps"] for d in s["devices"])
    assert (st.duty, st.status) == ("idle", "ok")  # the journal, not the site file's "mining"


def test_cancel_stops_after_the_current_step(sim_site: SimSite, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    steps = [DutyStep("command", "all", {"argv": tuple(gate_argv(gate)), "timeout_s": 60}),
             DutyStep("snmp-set", "miners", {"control": "sleep"})]
    site = with_steps(load_site(sim_site.config_path), "row-a", "idle", steps)

    async def go(ctl: DutyController):
        task = asyncio.create_task(ctl.switch("row-a", "idle"))
        while not gate.with_suffix(".started").exists():
            await asyncio.sleep(0.05)
        # from another thread, as a GUI would
        await asyncio.to_thread(ctl.cancel, "row-a")
        gate.with_suffix(".go").touch()
        return await task, ctl.state("row-a")

    res, st = asyncio.run(with_controller(site, tmp_path, go))
    assert res.outcome == DEGRADED and res.cancelled
    assert [s.status for s in res.steps] == ["ok", "not_run"]
    assert res.message.startswith("cancelled by the operator after step 1 of 2")
    assert all(s != mm.SLEEPING for s in states(sim_site))
    assert st.status == "degraded"


def test_the_executors_handed_in_cover_every_action() -> None:
    """core names the actions; their executors come from above core, and a set
    that lacks one is refused when it is made, not at the step that needs it."""
    assert set(EXECUTORS.device) | set(EXECUTORS.group) == set(ACTIONS)
    device = {k: v for k, v in EXECUTORS.device.items() if k != "wait-metric"}
    with pytest.raises(ValueError, match="duty executors missing for: wait-metric"):
        Executors(device=device, group=EXECUTORS.group)
