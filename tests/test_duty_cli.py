"""`opsconsole duty ...` and `opsconsole audit` in subprocesses: exit codes
0 / 3 / 4 / 2, the no-terminal refusal, read-only, the audit output."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from opsconsole.sim import miner as mm
from opsconsole.sim.site import SimSite
from tests.test_duty_support import cli, write_site

ROW_A = [f"a-{i:02d}" for i in range(1, 7)]


def states(sim: SimSite) -> list[int]:
    return [sim.miner(i).sample().state for i in ROW_A]


def test_set_plan_audit_and_exit_codes(sim_site: SimSite, tmp_path: Path) -> None:
    cfg, data = sim_site.config_path, tmp_path / "data"
    common = ("--config", cfg, "--data-dir", data)

    plan = cli("duty", "plan", "row-a", "idle", *common)
    assert plan.returncode == 0 and "snmp-set: set control 'sleep' on 6 device(s)" in plan.stdout
    assert "-> 0.2 kW (expected)" in plan.stdout or "kW" in plan.stdout

    no_tty = cli("duty", "set", "row-a", "idle", *common)  # stdin is not a terminal
    assert no_tty.returncode == 4 and "pass --yes" in no_tty.stderr
    assert all(s != mm.SLEEPING for s in states(sim_site))

    ro = cli("--read-only", "duty", "set", "row-a", "idle", "--yes", *common)
    assert ro.returncode == 4 and "read-only" in ro.stderr
    ro2 = cli("duty", "set", "row-a", "idle", "--yes", "--read-only", *common)
    assert ro2.returncode == 4
    assert all(s != mm.SLEEPING for s in states(sim_site))

    done = cli("duty", "set", "row-a", "idle", "--yes", *common)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "done: row-a is now in idle" in done.stdout
    assert states(sim_site) == [mm.SLEEPING] * 6

    audit = cli("audit", *common, "--format", "json")
    assert audit.returncode == 0
    recs = json.loads(audit.stdout)["records"]
    assert [(r["outcome"], r["to"]) for r in recs] == [("refused", "idle")] * 3 + [
        ("done", "idle")]
    assert "no terminal" in recs[0]["message"] and "read-only" in recs[1]["message"]
    table = cli("audit", *common)
    assert "row-a switch mining -> idle: done" in table.stdout


def test_degraded_exits_3(sim_site: SimSite, tmp_path: Path) -> None:
    bad = sim_site.miner("a-05")
    bad.read_community, bad.write_community = b"private", b"nobody"
    r = cli("duty", "set", "row-a", "idle", "--yes", "--config", sim_site.config_path,
            "--data-dir", tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "degraded" in r.stderr and "a-05:" in r.stderr and "noAccess" in r.stderr


def test_budget_refusal_exits_4(sim_site: SimSite, tmp_path: Path) -> None:
    budget = f"power_budget_kw = {sim_site.power_budget_kw():g}"
    cfg = write_site(sim_site.config_path, tmp_path / "site.toml",
                     replace={budget: "power_budget_kw = 1"})
    common = ("--config", cfg, "--data-dir", tmp_path)
    plan = cli("duty", "plan", "row-a", "mining", *common, "--data-dir", tmp_path)
    r = cli("duty", "set", "gpu-a", "inference", "--yes", *common)
    assert r.returncode == 4 and "exceeds the budget of 1 kW" in r.stderr
    assert plan.returncode in (0, 4)  # re-entering mining does not raise the draw


def test_bad_usage_exits_2(sim_site: SimSite, tmp_path: Path) -> None:
    common = ("--config", sim_site.config_path, "--data-dir", tmp_path)
    r = cli("duty", "set", "row-zz", "idle", "--yes", *common)
    assert r.returncode == 2 and 'unknown group "row-zz"' in r.stderr
    assert cli("duty", "set", "row-a", "sideways", "--yes", *common).returncode == 2
    broken = tmp_path / "broken.toml"
    broken.write_text('[site]\nname = "x"\npower_budget_kw = "lots"\n')
    r = cli("duty", "plan", "row-a", "idle", "--config", broken)
    assert r.returncode == 2 and "broken.toml" in r.stderr and "Traceback" not in r.stderr
    assert cli("duty", "plan", "row-a", "idle").returncode == 2  # no --config


def test_terminal_confirmation(sim_site: SimSite, tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("pty is POSIX")
    master, slave = os.openpty()
    try:
        os.write(master, b"no\n")
        r = cli("duty", "set", "row-a", "idle", "--config", sim_site.config_path,
                "--data-dir", tmp_path, stdin=slave)
    finally:
        os.close(slave)
        os.close(master)
    assert r.returncode == 4 and "Type yes to go on" in r.stdout
    assert "not confirmed" in r.stderr
    assert all(s != mm.SLEEPING for s in states(sim_site))
