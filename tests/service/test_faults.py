"""Faults through the service: two clients switching one group at once (one
runs, the other is refused with the reason), and a `kill -9` of the service
mid-switch (the group is interrupted after the restart; a client resumes it)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from opsconsole.service.api import KEEPALIVE_S
from opsconsole.sim import miner as mm
from opsconsole.sim.site import SimSite
from tests.service.conftest import http
from tests.service.support import Service, interval
from tests.test_duty_support import ROOT, gate_argv, write_site

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


def gated_site(sim: SimSite, tmp_path: Path) -> tuple[Path, Path]:
    gate = tmp_path / "gate"
    cfg = write_site(sim.config_path, tmp_path / "gated.toml", group="row-a", duties={
        "idle": [{"action": "snmp-set", "targets": "miners", "control": "sleep"},
                 {"action": "command", "argv": gate_argv(gate), "timeout_s": 60},
                 {"action": "wait-metric", "targets": "miners", "metric": "hashrate_ths",
                  "op": "<", "value": 1, "timeout_s": 30}]})
    return interval(cfg, tmp_path / "site.toml", 1), gate


def start_switch(svc: Service, token: Path, gate: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsconsole", "duty", "set", "row-a", "idle", "--yes",
         "--connect", svc.url, "--token-file", str(token)], cwd=ROOT,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t0 = time.monotonic()
    while not gate.with_suffix(".started").exists():
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() - t0 < 120, "the gate step never started"
        time.sleep(0.05)
    return proc


@pytest.mark.timeout(600)
def test_two_clients_switch_one_group(sim_site: SimSite, tmp_path: Path) -> None:
    """alice's switch (raw HTTP, NDJSON) blocks in a command step for longer than
    the keep-alive interval; bob's CLI switch of the same group meanwhile is refused."""
    cfg, gate = gated_site(sim_site, tmp_path)
    svc = Service(cfg, tmp_path / "data")
    alice = svc.token("alice", "operator", tmp_path)
    bob = svc.token("bob", "operator", tmp_path)
    svc.start()
    got: list[tuple[int, str]] = []
    runner = threading.Thread(target=lambda: got.append(http(
        "POST", svc.url + "/api/v1/duty/run", alice, {"group": "row-a", "duty": "idle"},
        timeout=300)))
    try:
        runner.start()
        t0 = time.monotonic()
        while not gate.with_suffix(".started").exists():
            assert time.monotonic() - t0 < 120, "the gate step never started"
            time.sleep(0.05)
        second = svc.cli("duty", "set", "row-a", "idle", "--yes", token=bob)
        assert second.returncode == 4, second.stdout + second.stderr
        assert "a switch to idle is in progress" in second.stderr
        time.sleep(KEEPALIVE_S + 2)  # the step blocks: the answer must say it is alive
        gate.with_suffix(".go").touch()
        runner.join(300)
        status, text = got[0]
        lines = [json.loads(x) for x in text.splitlines()]
        assert status == 200 and lines[0]["type"] == "plan"
        assert {"type": "keepalive"} in lines
        assert lines[-1]["type"] == "outcome" and lines[-1]["exit_code"] == 0
        audit = svc.cli("audit", token=bob).stdout
        assert "bob@127.0.0.1 row-a switch idle -> idle: refused (busy: group row-a: " \
               "a switch to idle is in progress" in audit
        assert "alice@127.0.0.1 row-a switch mining -> idle: done" in audit
    finally:
        gate.with_suffix(".go").touch()
        runner.join(300)
        svc.stop()


@pytest.mark.timeout(600)
def test_kill_9_mid_switch_then_resume(sim_site: SimSite, tmp_path: Path) -> None:
    cfg, gate = gated_site(sim_site, tmp_path)
    svc = Service(cfg, tmp_path / "data")
    op = svc.token("ops", "operator", tmp_path)
    svc.start()
    client = start_switch(svc, op, gate)
    svc.stop(signal.SIGKILL)
    out, _ = client.communicate(timeout=120)
    assert client.returncode == 1 and "site service" in out, out  # the client says why
    gate.with_suffix(".go").touch()
    svc.start()
    try:
        status = svc.cli("duty", "status", "row-a", token=op)
        assert status.returncode == 0 and "interrupted" in status.stdout, status.stdout
        audit = svc.cli("audit", token=op).stdout
        assert "ops@127.0.0.1 row-a switch mining -> idle: interrupted" in audit
        resumed = svc.cli("duty", "resume", "row-a", "--yes", token=op)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert {sim_site.miner(f"a-{i:02d}").sample().state for i in range(1, 7)} == {
            mm.SLEEPING}
        assert svc.cli("duty", "status", "row-a", token=op).stdout.startswith("row-a: idle")
    finally:
        svc.stop()
