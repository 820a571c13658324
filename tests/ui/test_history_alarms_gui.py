"""GUI: acknowledging an alarm shows who did it; the history window reads the
resolution that suits its range; CSV and PNG export."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QDateTime, QEvent, QItemSelectionModel
from PySide6.QtWidgets import QWidget

from opsconsole.core import alarmlog
from opsconsole.core.duty.journal import os_user
from opsconsole.core.history import HistoryWriter
from opsconsole.core.readings import Reading, Status
from opsconsole.ui import theme
from opsconsole.ui.alarm_actions import SOUND_KEY, AlarmNotifier, AlarmsPanel
from opsconsole.ui.history_view import HistoryDialog
from opsconsole.ui.models.events import AlarmsModel
from opsconsole.ui.session import SiteSession
from opsconsole.ui.views.events_view import DeviceListView
from tests.fixtures.sqlite_lock import LockHolder
from tests.ui.fakes import make_batch, make_site


def dispose(w: QWidget) -> None:
    """Delete now: later tests (the wall's) count every live widget."""
    w.close()
    w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def session(qtbot, tmp_path: Path):
    s = SiteSession(make_site(rows=1, miners_per_row=6, gpus=1))
    s.attach_storage(tmp_path / "data")
    yield s
    s.stop()


def test_acknowledging_an_alarm_shows_the_user(qtbot, session, settings) -> None:
    settings.q.setValue(SOUND_KEY, True)
    notifier = AlarmNotifier(session, settings)
    # the console's Alarms tab: the panel around its table (a whole ConsoleView
    # would leave pyqtgraph's parentless menus behind for later tests)
    view = DeviceListView()
    model = AlarmsModel(session.alarms, theme.DARK)
    view.setModel(model)
    panel = AlarmsPanel(session, view, model)
    try:
        check_ack(qtbot, session, panel, notifier)
    finally:
        dispose(panel)


def check_ack(qtbot, session, panel: AlarmsPanel, notifier) -> None:
    session.ingest(make_batch(session.site, temps={"a-05": 91.0}))
    qtbot.waitUntil(lambda: session.alarms.alarm_count == 1)
    assert notifier.sent and "a-05" in notifier.sent[0]
    model = panel.model
    assert not panel.ack_button.isEnabled()
    panel.view.selectionModel().select(
        model.index(0, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
    assert panel.ack_button.isEnabled()
    panel.ask_ack()
    assert panel.dialog is not None
    panel.dialog.comment.setText("replacing the fan")
    panel.dialog.accept()
    row = [model.index(0, c).data() for c in range(model.columnCount())]
    assert row[0] == "a-05" and row[4] == "acknowledged"
    assert row[5].startswith(f"{os_user()} at ") and row[5].endswith(": replacing the fan")
    assert not panel.ack_button.isEnabled()  # already acknowledged
    # the log has it, and a new session on the same data dir shows it again
    assert session.alarm_log.flush()  # written by its own thread
    log_row = session.alarm_log.entries()[0]
    assert (log_row["acked_by"], log_row["ack_comment"]) == (os_user(), "replacing the fan")
    again = SiteSession(session.site)
    again.attach_storage(session.data_dir)
    try:
        a = again.alarms.alarms()[0]
        assert (a.device, a.acked_by, a.comment) == ("a-05", os_user(), "replacing the fan")
        assert again.alarmed[again.store.index["a-05"]]
    finally:
        again.stop()


END = 1_790_000_000.0


def write_history(data_dir: Path) -> None:
    """Eight days of a-01 temperatures every 5 minutes, written as they came."""
    ts = END - np.arange(8 * 86400, -1, -300.0)
    temp = 60 + 10 * np.sin(ts / 5000.0)
    w = HistoryWriter.in_dir(data_dir, clock=lambda: END, commit_every_s=0.05)
    for k in range(0, len(ts), 500):
        w.ingest([Reading("a-01", float(t), Status.OK, {"temp_c": float(v)})
                  for t, v in zip(ts[k:k + 500], temp[k:k + 500], strict=True)])
    assert w.flush()
    w.close()


def test_history_range_switch_reads_the_right_resolution(qtbot, session, tmp_path) -> None:
    session.history.close()  # the live writer would add today's readings: not wanted here
    write_history(session.data_dir)
    dlg = HistoryDialog(session, theme.DARK, clock=lambda: END)
    try:
        check_ranges(qtbot, dlg, tmp_path)
    finally:
        dispose(dlg)


def drawn(qtbot, dlg: HistoryDialog) -> None:
    """The answer to the latest question is drawn (read on the dialog's thread)."""
    qtbot.waitUntil(lambda: dlg.answered == dlg.asked, timeout=60_000)


def check_ranges(qtbot, dlg: HistoryDialog, tmp_path: Path) -> None:
    dlg.select("a-01", "temp_c")
    assert dlg.answered < dlg.asked  # not read on the GUI thread: the answer comes queued
    seen = {}
    for key in ("1 h", "24 h", "7 d", "30 d"):
        dlg.set_range(key)
        drawn(qtbot, dlg)
        assert dlg.series is not None and len(dlg.series) > 0, key
        seen[key] = (dlg.series.resolution, len(dlg.series))
    assert seen["1 h"] == ("raw", 13) and seen["24 h"][0] == "raw"
    assert seen["7 d"] == ("1m", 7 * 288 + 1)  # one 1-minute bucket per 5-minute sample
    assert seen["30 d"][0] == "1h" and seen["30 d"][1] == 8 * 24 + 1
    assert dlg.band.isVisible()  # buckets: the min/max band is drawn
    # a custom range of 6 hours two days ago: raw is gone there, 1-minute buckets answer
    dlg.since_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(END - 2 * 86400)))
    dlg.until_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(END - 2 * 86400 + 6 * 3600)))
    dlg.set_range("Custom")
    drawn(qtbot, dlg)
    assert dlg.series.resolution == "raw" and set(dlg.series.level) == {"1m"}

    dlg.set_range("1 h")
    drawn(qtbot, dlg)
    out = tmp_path / "chart.csv"
    dlg.export_csv(out)
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[0] == ["time", "resolution", "min", "mean", "max"]
    assert len(rows) == 14 and rows[-1][0] == time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(END))
    last = dlg.series.mean[-1]
    assert rows[-1][1] == "raw" and float(rows[-1][3]) == pytest.approx(last, abs=1e-6)
    png = tmp_path / "chart.png"
    assert dlg.export_png(png) and png.stat().st_size > 1000


def test_the_gui_thread_raises_alarms_while_another_process_holds_the_files(
        qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The console evaluates alarms on the GUI thread: with the alarm log and
    the history write-locked by another process it still opens the site,
    raises and shows the alarm, and writes nothing through the lock; once the
    lock is gone the row is written. A GUI thread that wrote the row itself
    would wait out the busy timeout and report a fault instead."""
    monkeypatch.setattr(alarmlog, "BUSY_TIMEOUT_S", 120.0)
    site = make_site(rows=1, miners_per_row=6, gpus=1)
    data = tmp_path / "data"
    earlier = SiteSession(site)  # the files of an earlier run
    earlier.attach_storage(data)
    earlier.stop()
    holders = [LockHolder(data / name) for name in ("alarms.sqlite", "history.sqlite")]
    s = SiteSession(site)
    try:
        s.attach_storage(data)  # opening and reading back need no write lock (WAL)
        s.ingest(make_batch(site, temps={"a-05": 91.0}))
        qtbot.waitUntil(lambda: s.alarms.alarm_count == 1)
        log = s.alarm_log
        assert log.written == 0 and not s.storage_faults.current()
        for h in holders:
            h.release()
        assert log.flush(120)
        assert [(r["subject"], r["key"]) for r in log.entries()] == [("a-05", "temp")]
        assert not s.storage_faults.current()
    finally:
        for h in holders:
            h.kill()
        s.stop()
