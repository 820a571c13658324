"""The "Switch duty" dialog on a small simulated site (real SNMP agents on
loopback, driven by the window's own collector, as in --demo)."""

from __future__ import annotations

import pytest

from opsconsole.core.duty import DONE, REFUSED
from opsconsole.sim import miner as mm
from opsconsole.ui.duty.switch_dialog import DutyDialog
from tests.ui.duty_support import ROW_B_MINERS, finish, open_window, planned


@pytest.fixture
def window(qtbot, settings, tmp_path):
    win = open_window(qtbot, settings, tmp_path / "data")
    yield win
    win.close()


def test_preview_shows_steps_devices_and_power(qtbot, window):
    menu = window.duty.menu_for("row-b")
    switch = next(a for a in menu.actions() if a.objectName() == "switch")
    assert switch.isEnabled()
    switch.trigger()
    dlg = window.duty.dialogs["row-b"]
    planned(qtbot, dlg)
    assert dlg.plan.to_duty == "inference"  # the first duty other than the current one
    dlg.set_duty("idle")
    qtbot.waitUntil(lambda: dlg.plan is not None and dlg.plan.to_duty == "idle", timeout=10000)
    p = dlg.plan
    assert (p.group, p.from_duty, p.to_duty) == ("row-b", "mining", "idle")
    assert [s.action for s in p.steps] == ["snmp-set", "wait-metric"]
    assert p.device_count == 4 and p.ok
    assert p.power_now_source == "measured" and p.power_now_kw > 1.0
    assert dlg.model.rowCount() == 2
    assert dlg.model.index(0, 0).data() == f"1. {p.steps[0].describe()}"
    assert dlg.model.rowCount(dlg.model.index(0, 0)) == 4
    text = dlg.power_label.text()
    assert f"{p.power_now_kw:,.1f} kW (measured)" in text
    assert f"{p.power_after_kw:,.1f} kW (expected)" in text and "budget" in text
    assert "mining</b> → <b>idle" in dlg.summary.text()
    assert not dlg.confirm_edit.isVisible()  # 5 devices: no typing
    assert dlg.execute_button.isEnabled() and dlg.execute_button.text() == "Switch to idle"
    dlg.close()


def test_refused_plan_shows_the_numbers_and_cannot_run(qtbot, window):
    # another group draws far more than the budget: waking row-b cannot fit
    dlg = DutyDialog(window.duty.client, "row-b", window.theme,
                     lambda: {"row-a": 10_000.0, "row-b": 0.0, "gpu-a": 0.5}, duty="mining",
                     parent=window)
    qtbot.addWidget(dlg)
    dlg.show()
    planned(qtbot, dlg)
    assert not dlg.plan.ok
    text = dlg.refusal.text()
    assert "Refused" in text and "exceeds the budget of" in text
    assert f"{dlg.plan.budget_kw:g} kW" in text and "other groups 10000.5 kW" in text
    assert dlg.refusal.isVisible()
    assert not dlg.execute_button.isEnabled()
    assert dlg.execute() is False
    assert window.duty.client.controller.state("row-b").status == "ok"  # nothing ran


def test_big_group_needs_its_id_typed(qtbot, window):
    dlg = window.duty.open_switch("row-a", duty="idle")
    planned(qtbot, dlg)
    assert dlg.plan.ok and dlg.group_size == 13
    assert dlg.confirm_edit.isVisible() and "type <b>row-a</b>" in dlg.confirm_label.text()
    assert not dlg.execute_button.isEnabled() and dlg.execute() is False
    qtbot.keyClicks(dlg.confirm_edit, "row-b")
    assert not dlg.execute_button.isEnabled()
    dlg.confirm_edit.clear()
    qtbot.keyClicks(dlg.confirm_edit, "row-a")
    assert dlg.execute_button.isEnabled()
    dlg.close()


def test_switch_shows_progress_and_badges(qtbot, window):
    seen: list[tuple[str, str]] = []
    window.duty.tile_state_changed.connect(lambda g, s: seen.append((g, s)))
    tile = window.console.tiles.tiles["row-b"]
    assert tile.badge.duty == "mining" and tile.menu_button.isVisible()
    dlg = window.duty.open_switch("row-b", duty="idle")
    planned(qtbot, dlg)
    res = finish(qtbot, dlg)
    assert res.outcome == DONE, res.message
    assert [dlg.model.step_status(i) for i in range(2)] == ["ok", "ok"]
    assert {dlg.model.device_status(1, m) for m in ROW_B_MINERS} == {"ok"}
    assert "Done" in dlg.result_label.text() and dlg.result_label.isVisible()
    assert not dlg.execute_button.isEnabled()  # a plan runs once
    qtbot.waitUntil(lambda: tile.badge.duty == "idle", timeout=5000)
    row_b = [s for g, s in seen if g == "row-b"]
    assert row_b[:1] == ["switching"] and row_b[-1] == "idle"
    sim = window.bridge.runtime.demo_site
    assert {sim.miner(m).sample().state for m in ROW_B_MINERS} == {mm.SLEEPING}
    assert window.session.alarms.duties["row-b"] == "idle"


def test_read_only_refusal_through_the_dialog(qtbot, settings, tmp_path):
    win = open_window(qtbot, settings, tmp_path / "data", read_only=True)
    try:
        menu = win.duty.menu_for("row-b")
        switch = next(a for a in menu.actions() if a.objectName() == "switch")
        assert not switch.isEnabled() and "read-only" in switch.toolTip().lower()
        dlg = win.duty.open_switch("row-b", duty="idle")
        planned(qtbot, dlg)
        assert dlg.plan.ok  # planning is no mutation
        assert not dlg.execute_button.isEnabled()
        assert "read-only" in dlg.execute_button.toolTip().lower()
        res = finish(qtbot, dlg)  # the execute path: the controller refuses
        assert res.outcome == REFUSED and "read-only" in res.message
        assert "Refused" in dlg.result_label.text()
        audit = win.duty.client.controller.audit("row-b")
        assert [(a["outcome"], a["to"]) for a in audit] == [("refused", "idle")]
        assert "read-only" in audit[0]["message"]
        sim = win.bridge.runtime.demo_site
        assert mm.SLEEPING not in {sim.miner(m).sample().state for m in ROW_B_MINERS}
    finally:
        win.close()
