"""The audit view: the switches made from the GUI, filters, the detail of
one record, and CSV / JSON export of what the filters show."""

from __future__ import annotations

import csv
import json

from opsconsole.core.duty import DONE
from tests.ui.duty_support import finish, open_window, planned


def test_audit_lists_switches_filters_and_exports(qtbot, settings, tmp_path):
    win = open_window(qtbot, settings, tmp_path / "data")
    try:
        for group in ("row-b", "gpu-a"):
            dlg = win.duty.open_switch(group, duty="idle")
            planned(qtbot, dlg)
            assert finish(qtbot, dlg).outcome == DONE
        view = win.duty.open_audit()
        qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=5000)
        assert view.proxy.rowCount() == 2
        newest = view.model.records[0]
        assert (newest["group"], newest["from"], newest["to"]) == ("gpu-a", "inference", "idle")
        cells = [view.proxy.index(1, c).data() for c in range(view.model.columnCount())]
        assert cells[3:8] == ["row-b", "switch", "mining", "idle", "done"]
        assert cells[8] == "2/2 steps ok · 4/4 devices ok"
        assert cells[1] and cells[2]  # user, host

        view.set_filters(group="row-b")
        assert [r["group"] for r in view.visible_records()] == ["row-b"]
        view.set_filters(outcome="refused")
        assert view.visible_records() == []
        view.set_filters(text="GPU-A")
        assert [r["group"] for r in view.visible_records()] == ["gpu-a"]
        assert view.count_label.text() == "1 of 2"

        view.set_filters(group="row-b")
        assert view.select_id(view.visible_records()[0]["id"])
        assert "row-b: mining → idle" in view.detail_head.text()
        top = view.detail.topLevelItem(0)
        assert view.detail.topLevelItemCount() == 2 and top.text(1) == "ok"
        assert sorted(top.child(i).text(0) for i in range(top.childCount())) == [
            "b-01", "b-02", "b-03", "b-04"]

        assert view.export_csv(tmp_path / "audit.csv") == 1
        with open(tmp_path / "audit.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert [(r["group"], r["from"], r["to"], r["outcome"], r["devices_ok"])
                for r in rows] == [("row-b", "mining", "idle", "done", "4")]
        view.set_filters()
        assert view.export_json(tmp_path / "audit.json") == 2
        data = json.loads((tmp_path / "audit.json").read_text())
        assert [r["group"] for r in data] == ["gpu-a", "row-b"]
        assert [s["action"] for s in data[0]["steps"]] == ["command", "nvml-power-limit"]
        assert all(d["ok"] for d in data[1]["steps"][0]["devices"])
        assert "private" not in (tmp_path / "audit.json").read_text()  # no write community
    finally:
        win.close()
