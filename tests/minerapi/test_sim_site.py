"""The simulator's API miners end to end: `SimSite(miner_api="cgminer")`
writes a site file the loader takes, the poller reads every flavour, and a
duty switch sleeps and wakes them through miner-power with read-back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from opsconsole.collectors.poller import Poller
from opsconsole.core.duty import DEGRADED, DONE, DutyController, Journal
from opsconsole.core.readings import Status
from opsconsole.core.siteload import load_site
from opsconsole.core.store import LiveStore
from opsconsole.sim import miner as mm
from opsconsole.sim.minerapi.flavours import FLAVOURS, SIM_PASSWORD
from opsconsole.sim.site import SimSite
from tests.test_duty_support import with_controller

ROW_A = [f"a-{i:02d}" for i in range(1, 7)]


def test_site_file_of_api_miners(sim_site_factory, tmp_path: Path) -> None:
    sim = sim_site_factory(miner_api="cgminer")
    text = sim.config_path.read_text()
    assert text.count('api = "cgminer"') == 6 and "profile = \"sim-miner\"" not in text
    assert 'action = "miner-power"' in text
    site = load_site(sim.config_path)
    devs = {d.id: d for d in site.devices()}
    assert [devs[i].api for i in ROW_A] == ["cgminer"] * 6
    assert devs["pdu-a1"].api is None and devs["pdu-a1"].profile == "apc-rpdu2"
    assert site.credentials["sim-miner"].password == SIM_PASSWORD

    async def poll():
        poller = Poller(site, lambda batch: None)
        try:
            return {r.device: r for r in await poller.poll_once()}
        finally:
            await poller.close()

    got = asyncio.run(poll())
    seen = [got[i].metrics.get("firmware") for i in ROW_A]
    assert seen == list(FLAVOURS)  # flavours take turns along the row, each detected
    for i in ROW_A:
        r = got[i]
        assert r.status is Status.OK, (i, r.error)
        model = sim.miner(i)
        assert abs(r.metrics["hashrate_ths"] - model.sample().hashrate_ghs / 1000) < 0.1 * (
            model.nominal_ghs / 1000)
        assert r.metrics["temp_c"] > 30 and r.metrics["fan_rpm"] > 1000
    # power exactly where the firmware reports it
    assert {i for i in ROW_A if "power_w" in got[i].metrics} == {
        i for i, f in zip(ROW_A, FLAVOURS, strict=True) if f not in ("antminer", "vnish")}
    assert got["pdu-a1"].status is Status.OK


def test_group_power_comes_from_the_pdu_feeding_silent_miners(sim_site_factory) -> None:
    sim = sim_site_factory(miner_api="cgminer", gpus=0)
    site = load_site(sim.config_path)

    async def poll():
        poller = Poller(site, lambda batch: None)
        try:
            return await poller.poll_once()
        finally:
            await poller.close()

    store = LiveStore(site)
    store.ingest(asyncio.run(poll()))
    s = store.summary("row-a")
    pdu = store.latest[store.index["pdu-a1"]]
    assert pdu is not None and s.power_w == pdu.metrics["power_w"]  # counted once, from the PDU
    assert s.hashrate_ths is not None and s.hashrate_ths > 100


def test_duty_sleeps_and_wakes_api_miners(sim_site_factory, tmp_path: Path) -> None:
    sim = sim_site_factory(miner_api="cgminer")
    site = load_site(sim.config_path)

    async def readings(ctl: DutyController) -> dict:
        return {r.device: r for r in await ctl.io.poll_once()}

    async def go(ctl: DutyController):
        before = await readings(ctl)
        idle = await ctl.switch("row-a", "idle")
        asleep = [sim.miner(i).sample().state for i in ROW_A]
        during = await readings(ctl)
        back = await ctl.switch("row-a", "mining")
        return before, idle, asleep, during, back

    before, idle, asleep, during, back = asyncio.run(with_controller(site, tmp_path, go))
    # sleeping the API row drops its hashrate and its power (the PDU feeding it sees it too)
    for i in ROW_A:
        assert during[i].metrics["hashrate_ths"] == 0 < before[i].metrics["hashrate_ths"]
        if "power_w" in before[i].metrics:
            assert during[i].metrics["power_w"] < before[i].metrics["power_w"] / 5
    assert during["pdu-a1"].metrics["power_w"] < before["pdu-a1"].metrics["power_w"] / 5
    audit = json.dumps(Journal.in_dir(tmp_path).audit())
    assert "miner-power" in audit and SIM_PASSWORD not in audit
    assert idle.outcome == DONE, [(d.device, d.message) for s in idle.steps for d in s.devices]
    assert asleep == [mm.SLEEPING] * 6
    msgs = {d.device: d.message for d in idle.steps[0].devices}
    for i, f in zip(ROW_A, FLAVOURS, strict=True):
        assert msgs[i].startswith(f"{f}:") and "reads back" in msgs[i], msgs[i]
    assert back.outcome == DONE
    assert all(sim.miner(i).sample().state != mm.SLEEPING for i in ROW_A)
    assert all(SIM_PASSWORD not in m for m in msgs.values())


def test_read_back_disagreeing_ends_degraded(sim_site_factory, tmp_path: Path) -> None:
    sim = sim_site_factory(miner_api="cgminer")
    deaf = sim.device("a-03")  # braiins: says "Mining paused", keeps hashing
    assert deaf.flavour == "braiins"
    deaf.model.command = lambda value: None  # type: ignore[method-assign]
    site = load_site(sim.config_path)
    g = site.group("row-a")
    steps = list(g.duties["idle"])
    steps[0] = type(steps[0])(steps[0].action, steps[0].targets, {**steps[0].params,
                                                                  "timeout_s": 3.0})
    import dataclasses
    g2 = dataclasses.replace(g, duties={**g.duties, "idle": tuple(steps[:1])})
    site = dataclasses.replace(site, groups=tuple(g2 if x.id == "row-a" else x
                                                  for x in site.groups))

    res = asyncio.run(with_controller(site, tmp_path, lambda ctl: ctl.switch("row-a", "idle")))
    assert res.outcome == DEGRADED and res.exit_code == 3
    bad = [d for d in res.steps[0].devices if not d.ok]
    assert [d.device for d in bad] == ["a-03"]
    assert "pause accepted" in bad[0].message and "still reads state mining" in bad[0].message


def test_demo_mixes_snmp_and_api_rows() -> None:
    from opsconsole.sim.site import SimSite as S

    sim = S(miners=12, gpus=0, miners_per_row=4, api_rows=("row-b",))
    flav = {d.id: d.flavour for d in sim.devices() if d.kind == "miner"}
    assert [flav[f"a-0{i}"] for i in range(1, 5)] == [None] * 4
    assert [flav[f"b-0{i}"] for i in range(1, 5)] == list(FLAVOURS[:4])
    assert isinstance(sim, SimSite)


def test_poll_cli_says_not_reported(sim_site_factory) -> None:
    import subprocess
    import sys

    sim = sim_site_factory(miner_api="cgminer", gpus=0)
    base = [sys.executable, "-m", "opsconsole", "poll", "--config", str(sim.config_path),
            "--once"]
    table = subprocess.run(base, capture_output=True, text=True, timeout=120)
    assert table.returncode == 0, table.stderr
    lines = {ln.split()[0]: ln for ln in table.stdout.splitlines() if ln.strip()}
    assert lines["a-01"].split()[5] == "n/r"  # antminer: no power over 4028
    assert lines["a-02"].split()[5] not in ("n/r", "-")  # whatsminer reports it
    assert "power not reported by the miner's firmware" in table.stdout
    doc = json.loads(subprocess.run([*base, "--format", "json"], capture_output=True, text=True,
                                    timeout=120).stdout)
    devs = {d["id"]: d for d in doc["devices"]}
    assert devs["a-01"]["api"] == "cgminer" and devs["a-01"]["metrics"]["firmware"] == "antminer"
    assert "power_w" not in devs["a-01"]["metrics"]
    assert len(devs["a-03"]["metrics"]["board_hashrate_ths"]) == 3


def test_silent_miners_take_their_outlet_power_from_another_groups_pdu() -> None:
    """Miners whose firmware reports no power, fed by a PDU in another group:
    their group's power is their outlets' readings; the site total is the
    PDU's, counted once."""
    import time as _t

    from opsconsole.core.readings import Reading
    from opsconsole.core.site import Device, Group, Site

    pdu = Device(id="pdu-1", kind="pdu", group="power", host="127.0.0.1", profile="apc-rpdu2")
    miners = tuple(Device(id=f"m-{k}", kind="miner", group="row", host="127.0.0.1",
                          api="cgminer", firmware="antminer", pdu="pdu-1", outlet=k)
                   for k in (1, 2))
    from opsconsole.core.profileload import collect_profiles

    site = Site(name="s", path=None, groups=(Group("power", "power", "mining", (pdu,)),
                                             Group("row", "row", "mining", miners)),
                profiles=collect_profiles(None).profiles)
    store = LiveStore(site)
    now = _t.time()
    store.ingest([
        Reading("pdu-1", now, Status.OK, {"power_w": 7000.0,
                                          "outlet_power_w": [3200.0, 3300.0, 400.0]}),
        Reading("m-1", now, Status.OK, {"hashrate_ths": 110.0}),
        Reading("m-2", now, Status.OK, {"hashrate_ths": 112.0}),
    ])
    assert store.summary("row").power_w == 6500.0
    assert store.summary("power").power_w == 500.0  # the rest of the PDU's load
    assert store.summary().power_w == 7000.0


def test_miner_power_on_snmp_miners_uses_their_profile_controls(sim_site, tmp_path) -> None:
    """One step for any miner: SNMP miners sleep through their profile's
    `sleep`/`wake` controls, read back from the agent."""
    from opsconsole.core.site import DutyStep
    from tests.test_duty_support import with_steps

    site = with_steps(load_site(sim_site.config_path), "row-a", "idle",
                      [DutyStep("miner-power", "miners", {"state": "sleep"})])
    site = with_steps(site, "row-a", "mining",
                      [DutyStep("miner-power", "miners", {"state": "wake"})])

    async def go(ctl: DutyController):
        idle = await ctl.switch("row-a", "idle")
        asleep = [sim_site.miner(i).sample().state for i in ROW_A]
        back = await ctl.switch("row-a", "mining")
        return idle, asleep, back

    idle, asleep, back = asyncio.run(with_controller(site, tmp_path, go))
    assert idle.outcome == DONE and back.outcome == DONE
    assert asleep == [mm.SLEEPING] * 6
    msgs = [d.message for d in idle.steps[0].devices]
    assert all(m.startswith("sleep: set 0, reads back 0") for m in msgs), msgs
