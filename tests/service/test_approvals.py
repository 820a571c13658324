"""The two-person rule: through the service (token users) and locally (the
OS user), on one data dir; requests survive in approvals.sqlite and expire."""

from __future__ import annotations

import json
import time
from pathlib import Path

from opsconsole.core.duty.approvals import EXPIRED, PENDING, Approvals, approval_reason
from opsconsole.core.duty.journal import os_user
from opsconsole.core.duty.model import Plan
from opsconsole.core.siteload import load_site
from opsconsole.sim import miner as mm
from opsconsole.sim.site import SimSite
from tests.service.conftest import http
from tests.service.support import Service, interval
from tests.test_duty_support import cli


def miner_states(sim: SimSite) -> set[int]:
    return {sim.miner(f"a-{i:02d}").sample().state for i in range(1, 7)}


def test_two_person_rule(sim_site: SimSite, tmp_path: Path) -> None:
    cfg = interval(sim_site.config_path, tmp_path / "site.toml", 1, "\napproval_kw = 5")
    svc = Service(cfg, tmp_path / "data")
    alice = svc.token("alice", "operator", tmp_path)
    bob = svc.token("bob", "operator", tmp_path)
    wall = svc.token("wall", "viewer", tmp_path)
    svc.start()
    try:
        asked = svc.cli("duty", "set", "row-a", "idle", "--yes", token=alice)
        assert asked.returncode == 4, asked.stdout + asked.stderr
        assert "needs approval: opsconsole duty approve 1" in asked.stderr
        assert "request #1: row-a mining -> idle kept for a second user" in asked.stdout
        assert "needs approval: power change" in asked.stdout
        assert mm.SLEEPING not in miner_states(sim_site)  # nothing ran

        listed = svc.cli("duty", "requests", token=wall)
        assert listed.returncode == 0
        assert "#1 " in listed.stdout and "alice@127.0.0.1" in listed.stdout
        st, doc = http("GET", svc.url + "/api/v1/duty/requests", token=wall)
        assert st == 200 and [(r["id"], r["user"], r["status"]) for r in doc["requests"]] == [
            (1, "alice", PENDING)]

        own = svc.cli("duty", "approve", "1", "--yes", token=alice)
        assert own.returncode == 4 and "nobody approves their own request" in own.stderr
        viewer = svc.cli("duty", "approve", "1", "--yes", token=wall)
        assert viewer.returncode == 4 and "role viewer" in viewer.stderr
        assert mm.SLEEPING not in miner_states(sim_site)

        ok = svc.cli("duty", "approve", "1", "--yes", token=bob)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "done: row-a is now in idle" in ok.stdout
        assert miner_states(sim_site) == {mm.SLEEPING}
        again = svc.cli("duty", "approve", "1", "--yes", token=bob)
        assert again.returncode == 4 and "is approved, not pending" in again.stderr

        # locally the OS user asks; nobody approves their own, locally either
        common = ("--config", cfg, "--data-dir", svc.data_dir)
        mine = cli("duty", "set", "row-a", "mining", "--yes", *common)
        assert mine.returncode == 4 and "needs approval: opsconsole duty approve 2" in mine.stderr
        self_ok = cli("duty", "approve", "2", "--yes", *common)
        assert self_ok.returncode == 4 and "their own request" in self_ok.stderr
        by_alice = svc.cli("duty", "approve", "2", "--yes", token=alice)
        assert by_alice.returncode == 0, by_alice.stdout + by_alice.stderr
        assert mm.SLEEPING not in miner_states(sim_site)

        # rejected requests do not run. First the woken miners draw again: only a
        # change over approval_kw needs a second person (a hang guard, not a speed check)
        for _ in range(600):
            st, doc = http("GET", svc.url + "/api/v1/groups", token=wall)
            row_a = next(g for g in doc["groups"] if g["id"] == "row-a")
            if (row_a["power_w"] or 0) > 10_000:
                break
            time.sleep(0.1)
        third = svc.cli("duty", "set", "row-a", "idle", "--yes", token=alice)
        assert third.returncode == 4 and "approve 3" in third.stderr
        no = svc.cli("duty", "reject", "3", "--comment", "not during the pool test", token=bob)
        assert no.returncode == 0 and "request #3 rejected by bob" in no.stdout
        late = cli("duty", "approve", "3", "--yes", *common)
        assert late.returncode == 4 and "is rejected" in late.stderr
        assert cli("duty", "approve", "99", "--yes", *common).returncode == 2
        assert mm.SLEEPING not in miner_states(sim_site)

        audit = json.loads(svc.cli("audit", "--format", "json", token=wall).stdout)["records"]
        rows = [(r["user"], r["outcome"], (r["plan"].get("approval") or {})) for r in audit]
        assert rows[0][:2] == ("alice", "requested")
        # a refused self-approval is audited, naming who tried (API and local alike)
        assert rows[1] == ("alice", "refused", {
            "request": 1, "requested_by": "alice@127.0.0.1",
            "self_approval_refused": "alice@127.0.0.1"})
        assert "nobody approves their own request" in audit[1]["message"]
        assert rows[2][:2] == ("bob", "done") and rows[2][2] == {
            "request": 1, "requested_by": "alice@127.0.0.1", "approved_by": "bob@127.0.0.1"}
        me = os_user()
        assert rows[3][:2] == (me, "requested")
        assert rows[4][:2] == (me, "refused") and rows[4][2]["request"] == 2
        assert rows[5][:2] == ("alice", "done") and rows[5][2]["requested_by"].startswith(me + "@")
        assert rows[6][:2] == ("alice", "requested") and rows[7][:2] == ("bob", "rejected")
        assert len(rows) == 8
        table = svc.cli("audit", token=wall).stdout
        assert "requested by alice@127.0.0.1, approved by bob@127.0.0.1" in table
    finally:
        svc.stop()


def test_requests_expire_and_survive_reopening(sim_site: SimSite, tmp_path: Path) -> None:
    book = Approvals.in_dir(tmp_path)
    plan = Plan("row-a", "mining", "idle", power_now_kw=18.0, power_after_kw=0.2)
    req = book.create(plan, "alice", "ws-1", ttl_s=900, now=1000.0)
    book.close()
    book = Approvals.in_dir(tmp_path)  # a restart
    assert [r["id"] for r in book.pending(now=1500.0)] == [req["id"]]
    assert not book.decide(req["id"], "approved", "bob", "ws-2", now=1900.0)  # too late
    assert book.pending(now=1900.0) == []
    assert book.get(req["id"])["status"] == EXPIRED
    book.close()


def test_which_switches_need_approval(sim_site: SimSite, tmp_path: Path) -> None:
    cfg = interval(sim_site.config_path, tmp_path / "site.toml", 10, "\napproval_kw = 5")
    site = load_site(cfg)
    big = Plan("row-a", "mining", "idle", power_now_kw=18.6, power_after_kw=0.2)
    small = Plan("row-a", "idle", "idle", power_now_kw=0.2, power_after_kw=0.2)
    unknown = Plan("gpu-a", "inference", "idle", power_now_kw=None, power_after_kw=0.1)
    assert "18.4 kW exceeds approval_kw 5 kW" in (approval_reason(site, big) or "")
    assert approval_reason(site, small) is None
    assert "unknown" in (approval_reason(site, unknown) or "")
    rollback = Plan("row-a", "idle", "mining", "rollback", power_now_kw=0.2, power_after_kw=18.6)
    assert approval_reason(site, rollback) is None  # recovery is not gated
    off = load_site(sim_site.config_path)  # no approval_kw: no rule
    assert approval_reason(off, big) is None
