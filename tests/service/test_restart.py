"""A service restart (SIGTERM, then kill -9) against the same data dir keeps
history, alarms with their acknowledgements, and the journal and audit."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsconsole.sim.site import SimSite
from tests.service.conftest import http
from tests.service.support import Service, wait_for, warm_alarms, warm_service


@pytest.mark.timeout(600)
def test_restart_keeps_history_alarms_acknowledgements_and_journal(
        sim_site: SimSite, tmp_path: Path) -> None:
    svc, op, wall = warm_service(sim_site.config_path, tmp_path, "ops")
    svc.start()
    first = wait_for("the warm alarm", lambda: warm_alarms(svc, wall))[0]
    st, doc = http("POST", svc.url + "/api/v1/alarms/acknowledge", op,
                   {"subject": "a-01", "key": "rule:warm", "comment": "known: hot aisle"})
    assert st == 200 and doc["alarm"]["acked_by"] == "ops"
    done = svc.cli("duty", "set", "row-a", "idle", "--yes", token=op)
    assert done.returncode == 0, done.stdout + done.stderr

    def history(s: Service, *span: str) -> list[dict]:
        r = s.cli("history", "a-01", "temp_c", *span, "--format", "json", token=wall)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["points"]

    wait_for("history", lambda: len(history(svc, "--since", "10m")) >= 5)
    time.sleep(2)

    def iso(ts: float) -> str:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    span = ("--since", iso(time.time() - 900), "--until", iso(time.time() - 1))
    before_points = history(svc, *span)
    before_audit = svc.cli("audit", "--format", "json", token=wall).stdout
    assert svc.stop() == 0  # SIGTERM: a clean stop

    for how in ("SIGTERM", "SIGKILL"):
        svc = Service(svc.config, svc.data_dir).start()
        try:
            again = wait_for("the warm alarm after the restart",
                             lambda s=svc: warm_alarms(s, wall))[0]
            assert (again["since"], again["state"], again["acked_by"], again["comment"]) == (
                first["since"], "acknowledged", "ops", "known: hot aisle")
            assert svc.cli("audit", "--format", "json", token=wall).stdout == before_audit
            points = history(svc, *span)
            assert points == before_points and len(points) >= 5
            status = svc.cli("duty", "status", token=wall)
            assert status.stdout.startswith("row-a: idle")
        finally:
            svc.stop(signal.SIGKILL if how == "SIGTERM" else signal.SIGTERM)
