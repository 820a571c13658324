"""The site service while another process holds the write locks of its
SQLite files (alarm log, duty journal, approvals): a real `opsconsole serve`,
a real second process, real HTTP. Its loop must not stall: health, alarms,
the alarm log and acknowledgements keep answering and polling goes on
(counted in cycles, not clocked); a duty plan, which must write the journal,
waits in a worker thread and answers once the lock is gone."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from opsconsole.sim.site import SimSite
from tests.fixtures.sqlite_lock import LockHolder
from tests.service.conftest import http
from tests.service.support import wait_for, warm_alarms, warm_service

API = "/api/v1"


def test_the_api_answers_while_another_process_holds_the_files(
        sim_site: SimSite, tmp_path: Path) -> None:
    svc, op, wall = warm_service(sim_site.config_path, tmp_path, "ops")
    svc.start()
    u = svc.url + API
    holders: list[LockHolder] = []
    try:
        wait_for("the warm alarm", lambda: warm_alarms(svc, wall))
        holders = [LockHolder(svc.data_dir / name)
                   for name in ("alarms.sqlite", "duty.sqlite", "approvals.sqlite")]
        planned: dict[str, Any] = {}
        planner = threading.Thread(target=lambda: planned.update(answer=http(
            "POST", u + "/duty/plan", op, {"group": "row-a", "duty": "idle"}, timeout=300)))
        planner.start()
        start = http("GET", svc.url + "/healthz")[1]["cycles"]
        answered, cycles = 0, start
        while cycles < start + 3:
            st, health = http("GET", svc.url + "/healthz")
            assert st == 200 and health["ok"]
            cycles = health["cycles"]
            st, doc = http("GET", u + "/alarms", wall)
            assert st == 200 and doc["alarms"]
            st, doc = http("GET", u + "/alarms/log", wall)  # WAL: reads pass a writer's lock
            assert st == 200 and isinstance(doc["entries"], list)
            answered += 1
            time.sleep(0.2)
        st, doc = http("POST", u + "/alarms/acknowledge", op,
                       {"subject": "a-01", "key": "rule:warm", "comment": "while locked"})
        assert st == 200 and doc["alarm"]["acked_by"] == "ops"  # the record is queued
        for h in holders:
            h.release()
        planner.join(300)
        assert not planner.is_alive()
        st, doc = planned["answer"]
        assert st == 200 and doc["plan"]["to_duty"] == "idle", doc
        assert answered >= 3
        # the acknowledgement reaches the log once the lock is gone (10 s busy timeout:
        # if the lock outlived it, the row is lost and the service logged a fault)

        def acked() -> list[dict]:
            rows = http("GET", u + "/alarms/log", wall)[1]["entries"]
            return [r for r in rows if r["ack_comment"] == "while locked"]

        if "alarm log is off" not in svc.log:
            assert wait_for("the acknowledgement in the log", acked)[0]["acked_by"] == "ops"
    finally:
        for h in holders:
            h.kill()
        assert svc.stop() == 0
