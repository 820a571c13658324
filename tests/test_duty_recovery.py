"""A `duty set` process killed (SIGKILL) mid-switch, then recovery by resume
and by rollback; the journal shows the group interrupted in between."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import pytest

from opsconsole.core.duty import DONE, INTERRUPTED, DutyController, Journal
from opsconsole.core.siteload import load_site
from opsconsole.sim import miner as mm
from opsconsole.sim.site import SimSite
from tests.test_duty_support import cli, gate_argv, popen_cli, with_controller, write_site

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
ROW_A = [f"a-{i:02d}" for i in range(1, 7)]


def killed_mid_switch(sim: SimSite, tmp_path: Path, *, release: bool = True) -> tuple[Path, Path]:
    """Run `duty set row-a idle` (sleep, a gate command, wait-metric) in a
    subprocess and SIGKILL it while the gate blocks (step 1 committed)."""
    gate = tmp_path / "gate"
    cfg = write_site(sim.config_path, tmp_path / "site.toml", group="row-a", duties={
        "idle": [{"action": "snmp-set", "targets": "miners", "control": "sleep"},
                 {"action": "command", "argv": gate_argv(gate), "timeout_s": 60},
                 {"action": "wait-metric", "targets": "miners", "metric": "hashrate_ths",
                  "op": "<", "value": 1, "timeout_s": 30}],
        "mining": [{"action": "snmp-set", "targets": "miners", "control": "wake"},
                   {"action": "wait-metric", "targets": "miners", "metric": "hashrate_ths",
                    "op": ">", "value": 1, "timeout_s": 30}]})
    data = tmp_path / "data"
    proc = popen_cli("duty", "set", "row-a", "idle", "--yes", "--config", cfg,
                     "--data-dir", data)
    deadline = time.monotonic() + 60
    while not gate.with_suffix(".started").exists():
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() < deadline, "the gate step never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    if release:
        gate.with_suffix(".go").touch()  # release the gate command, should it still run
    return cfg, data


def _alive(pid: int) -> bool:
    """Running, not a zombie left for a PID 1 that does not reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the leash is Linux's")
def test_a_command_step_dies_with_the_killed_switch(sim_site: SimSite, tmp_path: Path) -> None:
    """The gate command blocks until .go (or 60 s), and nothing writes .go:
    only the leash can end it before that."""
    killed_mid_switch(sim_site, tmp_path, release=False)
    gate_pid = int((tmp_path / "gate.started").read_text())
    deadline = time.monotonic() + 30  # a hang guard: the kernel acts at once
    while _alive(gate_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = _alive(gate_pid)
    (tmp_path / "gate.go").touch()  # never leave it behind, whatever the outcome
    assert not alive, "the command step outlived its killed duty set"


def test_a_command_that_cannot_start_says_why(sim_site: SimSite, tmp_path: Path) -> None:
    cfg = write_site(sim_site.config_path, tmp_path / "site.toml", group="row-a", duties={
        "idle": [{"action": "command", "argv": ["/nonexistent/tool", "x"], "timeout_s": 30}],
        "mining": [{"action": "snmp-set", "targets": "miners", "control": "wake"}]})
    p = cli("duty", "set", "row-a", "idle", "--yes", "--config", cfg,
            "--data-dir", tmp_path / "data")
    assert p.returncode == 3
    assert "cannot start /nonexistent/tool: No such file or directory" in p.stdout + p.stderr


def test_killed_switch_is_interrupted_then_resumed(sim_site: SimSite, tmp_path: Path) -> None:
    cfg, data = killed_mid_switch(sim_site, tmp_path)
    status = cli("duty", "status", "row-a", "--config", cfg, "--data-dir", data)
    assert status.returncode == 0
    assert "row-a: interrupted (mining -> idle, after step 1 of 3)" in status.stdout
    refused = cli("duty", "set", "row-a", "mining", "--yes", "--config", cfg, "--data-dir", data)
    assert refused.returncode == 4 and "resume or roll back first" in refused.stderr
    resumed = cli("duty", "resume", "row-a", "--yes", "--config", cfg, "--data-dir", data)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "2 step(s)" in resumed.stdout  # the gate and the wait, not the sleep again
    assert [sim_site.miner(i).sample().state for i in ROW_A] == [mm.SLEEPING] * 6
    journal = Journal.in_dir(data)
    audit = journal.audit("row-a")
    assert [(a["kind"], a["outcome"]) for a in audit] == [
        ("switch", INTERRUPTED), ("switch", "refused"), ("resume", DONE)]
    assert [s["status"] for s in audit[0]["steps"]] == ["ok", "running"]
    st = journal.group_state("row-a", "mining")
    assert (st.duty, st.status) == ("idle", "ok")


def test_killed_switch_rolled_back(sim_site: SimSite, tmp_path: Path) -> None:
    cfg, data = killed_mid_switch(sim_site, tmp_path)
    site = load_site(cfg)

    async def go(ctl: DutyController):
        st = ctl.state("row-a")
        plan = await ctl.plan_rollback("row-a")
        return st, plan, await ctl.execute(plan), ctl.state("row-a")

    st, plan, res, after = asyncio.run(with_controller(site, data, go))
    assert (st.status, st.last_step, st.to_duty) == (INTERRUPTED, 0, "idle")
    assert (plan.from_duty, plan.to_duty, len(plan.steps)) == ("idle", "mining", 2)
    assert res.outcome == DONE
    assert all(sim_site.miner(i).sample().state != mm.SLEEPING for i in ROW_A)
    assert (after.duty, after.status) == ("mining", "ok")
