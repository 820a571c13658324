"""The main window on a fake collector (a real thread, synthetic readings)."""

from __future__ import annotations

import threading

from opsconsole.core.readings import Status
from opsconsole.ui.dialogs import ProblemsDialog
from opsconsole.ui.main_window import MainWindow
from opsconsole.ui.models.devices import COLUMN_KEYS
from opsconsole.ui.views.rackmap import RackMap
from tests.ui.conftest import collector_threads
from tests.ui.fakes import make_batch, make_site


def _open(qtbot, win: MainWindow, **kw) -> None:
    win.start_site(make_site(**kw), source="fake")
    with qtbot.waitSignal(win.first_data, timeout=5000):
        pass
    win.console.refresh()


def test_first_run_page_without_a_site(window):
    assert window.stack.currentWidget() is window.first_run
    assert window.first_run.demo_button.isVisible()


def test_live_numbers_and_clean_close(qtbot, window):
    _open(qtbot, window)
    header = window.console.header
    assert header.hashrate.value.text().endswith("H/s")
    assert header.devices.value.text() == "22 / 22"
    assert window.bridge.batches_received >= 1
    first = window.session.readings_in
    qtbot.waitUntil(lambda: window.session.readings_in > first, timeout=3000)
    assert collector_threads() == ["collector"]
    window.close()
    assert collector_threads() == []
    assert not any(t.name == "collector-start" for t in threading.enumerate())


def test_group_selection_filters_views(qtbot, window):
    _open(qtbot, window)
    console = window.console
    console.tiles.tiles["row-b"].clicked.emit("row-b")
    assert console.tiles.selected == "row-b"
    proxy = console.devices.proxy
    assert proxy.rowCount() == 10
    group_col = COLUMN_KEYS.index("group")
    assert {proxy.index(r, group_col).data() for r in range(10)} == {"row-b"}
    assert {r.group for r in console.rackmap._racks} == {"row-b"}
    assert console.gpus.empty.isVisibleTo(console.gpus)  # no GPUs in row-b
    console.tiles.tiles["row-b"].clicked.emit("row-b")  # again: the whole site
    assert console.tiles.selected is None and proxy.rowCount() == 22


def test_unreachable_device_everywhere(qtbot, window):
    _open(qtbot, window)
    s = window.session
    window.bridge.runtime.stop()  # no more fake batches: feed our own
    site = s.site
    s.ingest(make_batch(site, overrides={"a-03": Status.UNREACHABLE}))
    window.console.refresh()
    i = s.store.index["a-03"]
    assert s.status_of(i) == "unreachable"
    model = window.console.devices.model
    row = model.row_of(i)
    assert model.index(row, COLUMN_KEYS.index("status")).data() == "unreachable"
    rack: RackMap = window.console.rackmap
    rack.repaint()
    assert "unreachable" in rack.tooltip_for(i)
    stale = rack._status_lut[3]
    assert rack._colors[2 + i] == stale
    assert "1 device not answering" in window.console.header.devices.detail.text()
    # events: the transition is logged
    log = window.console.event_model
    assert any(e.device == "a-03" and e.kind.value == "unreachable" for e in log.rows)


def test_device_detail_never_shows_secrets(qtbot, window):
    _open(qtbot, window)
    dlg = window.console.open_device("a-01")
    assert dlg is not None and dlg.isVisible()
    texts = [w.text() for w in dlg.findChildren(type(dlg.heading))]
    assert any("lan (SNMP v2c" in t for t in texts)
    assert not any("s3cret" in t for t in texts)
    names = {dlg.table.item(r, 2).text() for r in range(dlg.table.rowCount())}
    assert {"hashrate_ths", "temp_c", "power_w"} <= names


def test_invalid_site_file_shows_error_dialog(qtbot, window, tmp_path):
    bad = tmp_path / "site.toml"
    bad.write_text('[site]\nname = "Bad"\npoll_interval_s = -5\n\n[[groups]]\nid = "row a"\n')
    assert window.open_file(bad) is False
    dlg = window.dialog
    assert isinstance(dlg, ProblemsDialog)
    qtbot.waitUntil(dlg.isVisible, timeout=2000)
    assert dlg.lines and all(isinstance(line, str) for line in dlg.lines)
    assert str(bad) in dlg.lines[0] or "site.toml" in dlg.lines[0]
    assert "Traceback" not in dlg.text.toPlainText()
    assert window.bridge is None  # nothing was started
    dlg.close()


def test_columns_and_theme_are_remembered(qtbot, settings, window):
    _open(qtbot, window)
    panel = window.console.devices
    panel._actions["fan_rpm"].setChecked(False)
    panel._actions["uptime_s"].setChecked(True)
    cols = settings.columns([])
    assert "fan_rpm" not in cols and "uptime_s" in cols
    window.set_theme("light")
    assert settings.theme == "light"
    assert window.console.devices.visible_columns() == cols  # rebuilt with the same columns
