"""The audit log never holds a secret; the demo's hybrid rack acts for real."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

from opsconsole.core.duty import DONE, DutyController
from opsconsole.core.site import DutyStep
from opsconsole.core.siteload import load_site
from opsconsole.sim import miner as mm
from opsconsole.sim.inference import _Handler, _Server
from opsconsole.sim.site import SimSite
from tests.test_duty_support import with_controller, with_steps, write_site

SECRETS = {"community": "Pub-S3cret-7781", "write": "Priv-S3cret-4410",
           "env": "Tok-S3cret-9923", "url_pw": "Pw-S3cret-1187", "url_q": "Q-S3cret-5530"}


def test_no_secret_reaches_the_audit(sim_site: SimSite, tmp_path: Path) -> None:
    for d in sim_site.devices():  # the agents now answer only to the secret communities
        d.model.read_community = SECRETS["community"].encode()
        d.model.write_community = SECRETS["write"].encode()
    cfg = write_site(sim_site.config_path, tmp_path / "site.toml", replace={
        'community = "public"': f'community = "{SECRETS["community"]}"',
        'write_community = "private"': f'write_community = "{SECRETS["write"]}"'})
    srv = _Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    steps = [
        DutyStep("snmp-set", "miners", {"control": "sleep"}),
        DutyStep("command", "all", {
            "argv": (sys.executable, "-c",
                     "import os; print('token length', len(os.environ['API_TOKEN']))"),
            "env": {"API_TOKEN": SECRETS["env"]}}),
        DutyStep("http", "all", {
            "url": f"http://ops:{SECRETS['url_pw']}@127.0.0.1:{port}/health"
                   f"?token={SECRETS['url_q']}", "method": "GET", "expect_status": 200}),
    ]
    site = with_steps(load_site(cfg), "row-a", "idle", steps)

    async def go(ctl: DutyController):
        res = await ctl.switch("row-a", "idle")
        refused = DutyController(site, ctl.journal, ctl.io, executors=ctl.executors,
                                 read_only=True)
        await refused.switch("row-a", "mining")
        return res, "\n".join((await ctl.plan("row-a", "idle")).summary_lines())

    try:
        res, preview = asyncio.run(with_controller(site, tmp_path / "data", go))
    finally:
        srv.shutdown()
        srv.server_close()
    assert res.outcome == DONE, res.message
    assert "token length 15" in res.steps[1].output  # the env reached the command
    files = list((tmp_path / "data").iterdir())
    blob = b"".join(f.read_bytes() for f in files)
    assert b"token length" in blob  # the audit holds the output ...
    for name, secret in SECRETS.items():  # ... and never a secret
        assert secret.encode() not in blob, name
        assert secret not in preview and secret not in res.message, name


def test_demo_hybrid_rack_switches_for_real(sim_site_factory, tmp_path: Path) -> None:
    sim: SimSite = sim_site_factory(hybrid_miners=2)
    site = load_site(sim.config_path)
    seen: dict[str, object] = {}

    async def go(ctl: DutyController):
        poller = ctl.io
        gpu = site.device("gpu-0")
        inference = await ctl.switch("gpu-a", "inference")
        seen["limit"] = (await poller.poll_device(gpu)).metrics.get("power_limit_w")
        seen["outlets"] = sim.pdu("pdu-g1").sample().on
        seen["answering"] = sim.miner("g-01").sample().answering
        mining = await ctl.switch("gpu-a", "mining")
        seen["limit2"] = (await poller.poll_device(gpu)).metrics.get("power_limit_w")
        return inference, mining

    inference, mining = asyncio.run(with_controller(site, tmp_path, go))
    assert inference.outcome == DONE, inference.message
    assert mining.outcome == DONE, mining.message
    assert seen["limit"] == 400.0 and seen["limit2"] == 200.0  # the poller's GPUs saw it
    assert seen["outlets"] == (False, False) and seen["answering"] is False
    assert sim.pdu("pdu-g1").sample().on == (True, True)
    assert sim.miner("g-01").sample().state in (mm.MINING, mm.STARTING)
    assert "started" in inference.steps[2].output and "stopped" in mining.steps[0].output
