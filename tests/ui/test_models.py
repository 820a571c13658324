"""Item models: Qt's model tester, sorting, filtering, incremental updates."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from opsconsole.core.readings import Status
from opsconsole.ui import theme
from opsconsole.ui.models.devices import COLUMN_KEYS, DEVICE_ID_ROLE, DevicesModel, DevicesProxy
from opsconsole.ui.models.events import AlarmsModel, EventLogModel
from opsconsole.ui.session import SiteSession
from tests.ui.fakes import make_batch, make_site


def _session(qtbot, **kw):
    site = make_site(**kw)
    s = SiteSession(site)
    s.ingest(make_batch(site, overrides={"a-03": Status.UNREACHABLE},
                        temps={"a-05": 91.0, "gpu-1": 88.0}))
    return site, s


def _col(key: str) -> int:
    return COLUMN_KEYS.index(key)


@pytest.mark.parametrize("which", ["devices", "proxy", "events", "alarms"])
def test_modeltester(qtbot, qtmodeltester, which):
    """One model per tester: it tracks one model's changes in flight."""
    from opsconsole.core.alarms import Event, EventKind

    _site, s = _session(qtbot)
    model = DevicesModel(s, theme.DARK)
    proxy = DevicesProxy(model)
    events = EventLogModel(theme.DARK)
    events.add([Event(1.0, "a-03", EventKind.UNREACHABLE, "timeout")])
    alarms = AlarmsModel(s.alarms, theme.DARK)
    assert alarms.rowCount() == 2  # a-05 and gpu-1 too hot
    target = {"devices": model, "proxy": proxy, "events": events, "alarms": alarms}[which]
    qtmodeltester.check(target, force_py=True)
    # and while it changes: a search, a sort, new readings, new events
    proxy.set_search("a-0")
    model.sort(_col("temp_c"), Qt.SortOrder.DescendingOrder)
    s.ingest(make_batch(s.site, seed=3))
    events.add([Event(2.0, "a-03", EventKind.BACK, "answering again")])
    alarms.refresh()
    proxy.set_search("")


def test_sort_by_metric_and_text(qtbot):
    _site, s = _session(qtbot)
    model = DevicesModel(s, theme.DARK)
    proxy = DevicesProxy(model)
    proxy.sort(_col("temp_c"), Qt.SortOrder.DescendingOrder)
    assert proxy.index(0, 0).data(DEVICE_ID_ROLE) == "a-05"  # 91 °C, hottest
    assert proxy.index(1, 0).data(DEVICE_ID_ROLE) == "gpu-1"  # 88 °C
    last = proxy.index(proxy.rowCount() - 1, 0).data(DEVICE_ID_ROLE)
    assert last == "a-03"  # unreachable: no value, sorted last either way
    proxy.sort(_col("id"), Qt.SortOrder.AscendingOrder)
    ids = [proxy.index(r, 0).data() for r in range(proxy.rowCount())]
    assert ids == sorted(ids)


def test_filter_by_search_and_group(qtbot):
    _site, s = _session(qtbot)
    model = DevicesModel(s, theme.DARK)
    proxy = DevicesProxy(model)
    total = proxy.rowCount()
    proxy.set_search("gpu")
    assert {proxy.index(r, 0).data() for r in range(proxy.rowCount())} == {"gpu-0", "gpu-1"}
    proxy.set_search("10.0.1.")  # by address
    assert proxy.rowCount() == 10
    proxy.set_search("test-miner row-b")  # profile and group, all terms must match
    assert proxy.rowCount() == 10
    proxy.set_search("")
    proxy.set_group("row-a")
    assert proxy.rowCount() == 10
    assert all(proxy.index(r, _col("group")).data() == "row-a" for r in range(10))
    proxy.set_group(None)
    assert proxy.rowCount() == total


def test_unreachable_device_is_shown_as_such(qtbot):
    _site, s = _session(qtbot)
    model = DevicesModel(s, theme.DARK)
    row = model.row_of(s.store.index["a-03"])
    status = model.index(row, _col("status"))
    assert status.data() == "unreachable"
    assert status.data(Qt.ItemDataRole.ForegroundRole) == theme.DARK.status_color("unreachable")
    assert model.index(row, _col("error")).data() == "timeout after 2.0 s"
    assert model.index(row, _col("temp_c")).data() == ""  # no made-up number


def test_only_changed_rows_signal(qtbot):
    site, s = _session(qtbot)
    model = DevicesModel(s, theme.DARK)
    seen = []
    model.dataChanged.connect(lambda a, b, roles: seen.append((a.row(), b.row(), list(roles))))
    batch = [r for r in make_batch(site, seed=7) if r.device in ("a-02", "b-07")]
    s.ingest(batch)
    s.ingest(batch[:1])  # the same row again, before the signal: still once
    assert not seen  # gathered, signalled within COALESCE_MS
    qtbot.waitUntil(lambda: bool(seen))
    rows = sorted(r for r, _b, _roles in seen)
    assert rows == sorted(model.row_of(s.store.index[d]) for d in ("a-02", "b-07"))
    assert all(a == b for a, b, _roles in seen)
    assert all(Qt.ItemDataRole.DisplayRole in roles for _a, _b, roles in seen)


class _CountingModel(DevicesModel):
    """Counts every call back into Python a sort could make per row."""

    calls = 0

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        _CountingModel.calls += 1
        return super().data(index, role)

    def multiData(self, index, roles):
        _CountingModel.calls += 1
        return super().multiData(index, roles)


class _CountingProxy(DevicesProxy):
    calls = 0

    def lessThan(self, left, right):
        _CountingProxy.calls += 1
        return super().lessThan(left, right)


def test_sorting_10000_rows_never_calls_back_per_row(qtbot):
    """The sort is one numpy argsort: counted, not clocked (a proxy sort would
    call lessThan ~n log n times, and data() for each)."""
    site = make_site(rows=100, miners_per_row=100, gpus=0)
    s = SiteSession(site)
    s.ingest(make_batch(site))
    while s._queue:  # the session takes big batches in slices
        qtbot.wait(1)
    model = _CountingModel(s, theme.DARK)
    proxy = _CountingProxy(model)
    assert proxy.rowCount() == 10000
    _CountingModel.calls = _CountingProxy.calls = 0
    proxy.sort(_col("temp_c"), Qt.SortOrder.DescendingOrder)
    proxy.sort(_col("id"), Qt.SortOrder.AscendingOrder)
    assert _CountingProxy.calls == 0
    assert _CountingModel.calls == 0
    temps = s.store.current["temp_c"]
    proxy.sort(_col("temp_c"), Qt.SortOrder.DescendingOrder)
    top = s.store.index[proxy.index(0, 0).data(DEVICE_ID_ROLE)]
    assert temps[top] == np.nanmax(temps)


def test_event_log_newest_first_and_capped(qtbot):
    from opsconsole.core.alarms import Event, EventKind

    model = EventLogModel(theme.DARK, max_rows=5)
    model.add([Event(float(k), f"d{k}", EventKind.UNREACHABLE, "timeout") for k in range(8)])
    assert model.rowCount() == 5
    assert model.index(0, 1).data() == "d7"


def test_painting_asks_python_once_per_cell(qtbot):
    """Qt's delegate wants seven roles per painted cell. Through the proxy each
    cell must cost one entry into Python (multiData), not seven data() calls:
    at 20,000 devices every entry waits for the GIL behind the collector."""
    from PySide6.QtWidgets import QTableView

    _site, s = _session(qtbot)
    model = DevicesModel(s, theme.DARK)
    proxy = DevicesProxy(model)
    calls = {"multi": 0, "data": 0}
    model_multi, model_data = model.multiData, model.data

    def multi(index, roles):
        calls["multi"] += 1
        return model_multi(index, roles)

    def data(index, role=Qt.ItemDataRole.DisplayRole):
        calls["data"] += 1
        return model_data(index, role)

    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.resize(1200, 500)
    view.show()
    proxy.src.multiData = multi  # the proxy forwards to src.multiData
    model.data = data
    view.viewport().grab()
    cells = calls["multi"]
    assert cells > 20  # the visible cells were painted through multiData
    assert calls["data"] <= 8 * cells  # the model's own fan-out: one per role
    # and what multiData answers is what data() answers
    idx = proxy.index(4, _col("temp_c"))
    assert idx.data() == model_data(proxy.mapToSource(idx), Qt.ItemDataRole.DisplayRole)
