"""Acknowledging an alarm through a real site service: an operator may, a
viewer gets 403 and changes nothing, the alarm log records the token's user
and comment, and both survive a kill -9 of the service."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from opsconsole.sim.site import SimSite
from tests.service.conftest import http
from tests.service.support import Service, wait_for, warm_alarms, warm_service

API = "/api/v1"


def logged(svc: Service, token: Path) -> dict:
    st, doc = http("GET", svc.url + API + "/alarms/log", token=token)
    assert st == 200
    rows = [e for e in doc["entries"] if e["subject"] == "a-01" and e["key"] == "rule:warm"]
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.timeout(600)
def test_operator_acknowledges_viewer_may_not_and_it_survives_kill_9(
        sim_site: SimSite, tmp_path: Path) -> None:
    svc, ops, wall = warm_service(sim_site.config_path, tmp_path, "ops-carol")
    svc.start()
    ack = {"subject": "a-01", "key": "rule:warm", "comment": "fan swap booked"}
    try:
        wait_for("the warm alarm", lambda: warm_alarms(svc, wall))
        st, doc = http("POST", svc.url + API + "/alarms/acknowledge", wall, ack)
        assert st == 403 and "viewer" in doc["error"]
        assert warm_alarms(svc, wall)[0]["state"] == "raised"
        assert logged(svc, wall)["acked_by"] is None

        st, doc = http("POST", svc.url + API + "/alarms/acknowledge", ops, ack)
        assert st == 200, doc
        assert (doc["alarm"]["state"], doc["alarm"]["acked_by"], doc["alarm"]["comment"]) == (
            "acknowledged", "ops-carol", "fan swap booked")
        row = logged(svc, wall)
        assert (row["acked_by"], row["ack_comment"]) == ("ops-carol", "fan swap booked")
        assert row["acked_at"] is not None
        st, doc = http("GET", svc.url + API + "/events", token=wall)
        assert any(e["kind"] == "acknowledged" and "acknowledged by ops-carol" in e["message"]
                   for e in doc["events"]), doc["events"]
        st, doc = http("POST", svc.url + API + "/alarms/acknowledge", ops,
                       {"subject": "a-01", "key": "rule:nothing"})
        assert st == 404 and "no active alarm" in doc["error"]
        assert ops.read_text().strip() not in svc.log
    finally:
        svc.stop(signal.SIGKILL)

    again = Service(svc.config, svc.data_dir).start()
    try:
        alarm = wait_for("the warm alarm after kill -9", lambda: warm_alarms(again, wall))[0]
        assert (alarm["state"], alarm["acked_by"], alarm["comment"]) == (
            "acknowledged", "ops-carol", "fan swap booked")
        assert logged(again, wall)["acked_by"] == "ops-carol"
    finally:
        again.stop()
