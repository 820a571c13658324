"""The demo's API miners in the console: firmware and model in the devices
table, "not reported" where the firmware gives no power, and a per-board
table in the detail pane. Renders 1920x1080 screenshots when OPSCONSOLE_SHOTS
names a folder (for a person to look at)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt

from opsconsole.sim.minerapi.flavours import FLAVOURS
from opsconsole.ui.models.devices import COLUMN_KEYS
from opsconsole.ui.views.detail import DeviceDetail
from tests.ui.windows import open_demo, shown_window


def _cell(model, device_id: str, key: str) -> str:
    i = model.session.store.index[device_id]
    return model.data(model.index(model.row_of(i), COLUMN_KEYS.index(key)),
                      Qt.ItemDataRole.DisplayRole)


def test_api_rows_in_table_and_detail(qtbot, settings):
    win = open_demo(qtbot, shown_window(qtbot, settings, (1920, 1080)))
    session = win.session
    store = session.store
    want = {f"c-{k + 1:02d}": FLAVOURS[k % len(FLAVOURS)] for k in range(12)}

    def all_read() -> bool:
        return all(store.latest[store.index[d]] is not None for d in want)

    qtbot.waitUntil(all_read, timeout=30000)
    qtbot.waitUntil(lambda: not session._queue, timeout=5000)
    model = win.console.devices.model
    for dev, flavour in want.items():
        assert _cell(model, dev, "firmware") == flavour, dev
        assert _cell(model, dev, "model") != ""
        power = _cell(model, dev, "power_w")
        if flavour in ("antminer", "vnish"):  # stock bmminer-based firmware reports none
            assert power == "not reported", (dev, power)
        else:
            assert power not in ("", "not reported") and float(power) > 100, (dev, power)
    assert _cell(model, "a-01", "firmware") == ""  # an SNMP miner: no firmware reading
    assert _cell(model, "a-01", "power_w") not in ("", "not reported")

    det = DeviceDetail(session, "c-01", win.theme)  # antminer: boards, no power
    qtbot.addWidget(det)
    det.resize(900, 760)
    det.show()
    assert det.firmware.text() == "antminer" and det.model.text() == "Antminer S19 Pro"
    assert det.boards.isVisible() and det.boards.rowCount() == 3
    assert det.boards.item(0, 1).text().endswith("TH/s")
    assert det.boards.item(0, 2).text().endswith("°C") and det.boards.item(0, 3).text() == "114"
    rows = {det.table.item(k, 2).text(): det.table.item(k, 1).text()
            for k in range(det.table.rowCount())}
    assert rows["power_w"] == "not reported" and "board_temp_c" not in rows
    shots = os.environ.get("OPSCONSOLE_SHOTS")
    if shots:
        win.console.devices.search.setText("c-")
        qtbot.wait(300)
        win.grab().save(str(Path(shots) / "demo-api-rows-1920x1080.png"))
        det.grab().save(str(Path(shots) / "detail-api-miner.png"))
    det.close()

    # sleeping the API row (miner-power with each firmware's command) drops its
    # hashrate and power in the console
    before = store.summary("row-c")
    done = win.duty.client.call(lambda ctl: ctl.switch("row-c", "idle"))
    assert done is not None
    result = done.result(timeout=120)
    assert result.outcome == "done", [(d.device, d.message) for st in result.steps
                                      for d in st.devices if not d.ok]
    row_c = [d.id for d in session.site.devices() if d.group == "row-c" and d.kind == "miner"]
    assert len(row_c) == 40

    def asleep() -> bool:
        return all((store.latest[store.index[d]].metrics.get("hashrate_ths") or 0) < 1
                   and store.latest[store.index[d]].ts > t_switch for d in row_c)

    import time as _time
    t_switch = _time.time() - 1
    qtbot.waitUntil(asleep, timeout=60000)
    qtbot.waitUntil(lambda: not session._queue, timeout=5000)
    after = store.summary("row-c")
    assert after.hashrate_ths is not None and after.hashrate_ths < 1 < (before.hashrate_ths or 0)
    assert after.power_w is not None and before.power_w is not None
    assert after.power_w < before.power_w / 3
    if shots:
        win.console.refresh()
        qtbot.wait(300)
        win.grab().save(str(Path(shots) / "demo-row-c-asleep-1920x1080.png"))
    win.close()
