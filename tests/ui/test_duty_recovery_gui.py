"""Unfinished switches from the GUI: cancel leaves the group degraded, with
retry / roll back offered; an interrupted journal entry shows INTERRUPTED at
start-up and resumes from the dialog."""

from __future__ import annotations

import time

from opsconsole.core.duty import DEGRADED, DONE, INTERRUPTED, Journal, Plan, PlannedStep
from opsconsole.sim import miner as mm
from opsconsole.ui.duty.switch_dialog import RESUME
from tests.ui.duty_support import ROW_B_MINERS, GatedSite, finish, open_window, planned


def test_cancel_leaves_degraded_then_roll_back(qtbot, settings, tmp_path):
    gate = tmp_path / "gate"
    win = open_window(qtbot, settings, tmp_path / "data", factory=lambda: GatedSite(gate))
    try:
        tile = win.console.tiles.tiles["row-b"]
        dlg = win.duty.open_switch("row-b", duty="idle")
        planned(qtbot, dlg)
        assert len(dlg.plan.steps) == 3
        with qtbot.waitSignal(dlg.switch_finished, timeout=30000) as blocker:
            assert dlg.execute()
            deadline = time.monotonic() + 20
            while not gate.with_suffix(".started").exists():  # step 2 is running
                assert time.monotonic() < deadline, "the gate step never started"
                qtbot.wait(20)
            assert dlg.cancel_button.isVisible()
            assert dlg.cancel_switch()
            gate.with_suffix(".go").touch()
        res = blocker.args[0]
        assert res.outcome == DEGRADED and res.cancelled
        assert [dlg.model.step_status(i) for i in range(3)] == ["ok", "ok", "not run"]
        assert "Degraded" in dlg.result_label.text() and "cancelled" in dlg.result_label.text()
        qtbot.waitUntil(lambda: tile.badge.duty == "degraded", timeout=5000)
        qtbot.waitUntil(dlg.rollback_button.isVisible, timeout=5000)
        assert dlg.retry_button.isVisible() and not dlg.resume_button.isVisible()
        labels = [a.text() for a in win.duty.menu_for("row-b").actions()]
        assert "Retry failed devices…" in labels and "Roll back…" in labels
        dlg.rollback_button.click()
        planned(qtbot, dlg)
        assert (dlg.plan.kind, dlg.plan.to_duty) == ("rollback", "mining")
        assert dlg.execute_button.text() == "Roll back to mining"
        res = finish(qtbot, dlg)
        assert res.outcome == DONE, res.message
        qtbot.waitUntil(lambda: tile.badge.duty == "mining", timeout=5000)
        sim = win.bridge.runtime.demo_site
        assert mm.SLEEPING not in {sim.miner(m).sample().state for m in ROW_B_MINERS}
    finally:
        win.close()


def write_interrupted_switch(data_dir) -> None:
    """What a console killed mid-switch leaves: row-b going to idle, its
    first step started (two devices done), never finished."""
    steps = [PlannedStep(0, "snmp-set", {"control": "sleep"}, tuple(ROW_B_MINERS), 30.0),
             PlannedStep(1, "wait-metric", {"metric": "hashrate_ths", "op": "<", "value": 1},
                         tuple(ROW_B_MINERS), 31.0)]
    journal = Journal.in_dir(data_dir)
    sid = journal.begin(Plan("row-b", "mining", "idle", steps=steps, device_count=4), "mining")
    assert isinstance(sid, int)
    journal.step_start(sid, 0, 0, "snmp-set")
    journal.abandon(sid)  # this process stops running it: the next start finds it unfinished
    journal.close()


def test_interrupted_at_start_up_resumes_from_the_gui(qtbot, settings, tmp_path):
    data = tmp_path / "data"
    write_interrupted_switch(data)
    win = open_window(qtbot, settings, data)
    try:
        tile = win.console.tiles.tiles["row-b"]
        qtbot.waitUntil(lambda: tile.badge.duty == "interrupted", timeout=5000)
        assert tile.badge.text() == "INTERRUPTED"
        st = win.duty.client.states["row-b"]
        assert (st.status, st.from_duty, st.to_duty) == (INTERRUPTED, "mining", "idle")
        menu = win.duty.menu_for("row-b")
        resume = next(a for a in menu.actions() if a.text().startswith("Resume"))
        assert resume.isEnabled()
        assert any(a.text() == "Roll back…" for a in menu.actions())
        # a plain switch is refused until the operator resumes or rolls back
        dlg = win.duty.open_switch("row-b", duty="mining")
        planned(qtbot, dlg)
        assert "resume or roll back first" in dlg.refusal.text()
        assert dlg.resume_button.isVisible() and not dlg.execute_button.isEnabled()
        resume.trigger()
        assert dlg.kind == RESUME
        planned(qtbot, dlg)
        assert (dlg.plan.kind, dlg.plan.to_duty, len(dlg.plan.steps)) == ("resume", "idle", 2)
        res = finish(qtbot, dlg)
        assert res.outcome == DONE, res.message
        qtbot.waitUntil(lambda: tile.badge.duty == "idle", timeout=5000)
        audit = win.duty.client.controller.audit("row-b")
        assert [(a["kind"], a["outcome"]) for a in audit] == [("switch", INTERRUPTED),
                                                              ("resume", DONE)]
    finally:
        win.close()
