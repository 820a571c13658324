"""Charts over history: one series (the site, a group or a device; one
metric) over 1 h, 24 h, 7 d, 30 d or a custom range, read from the history
database at the resolution that suits the range. Buckets draw as a min/max
band with the mean as a line; raw samples as a line. Export as PNG or CSV.

The database is read on the dialog's own `history-read` thread (a 30-day
span takes its time); the answer comes back through a Handoff, and only the
answer to the latest question is drawn.

Connected to a site service (the embedded default, `--connect`), the history
is the service's: `fetch` asks /api/v1/history on the client's thread, and
its answer comes back through the same Handoff."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QDateTime
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from opsconsole.core.history import DB_NAME, SITE_KEY, HistoryReader, Series, group_key
from opsconsole.core.metrics import CATALOGUE
from opsconsole.core.storage import HISTORY, StorageError, storage_error
from opsconsole.core.store import AGGREGATES
from opsconsole.ui.handoff import Handoff
from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import Theme

RANGES = {"1 h": 3600, "24 h": 86400, "7 d": 7 * 86400, "30 d": 30 * 86400}
CUSTOM = "Custom"
# (history key, metric, since, until) -> a Future of the API's {"doc", "csv"}
Fetch = Callable[[str, str, float, float], "Future[Any]"]


class ServiceError(Exception):
    """The site service did not answer a history question (one line)."""


def api_fetch(runtime: Any) -> Fetch:
    """Fetch over a RemoteRuntime's client (ui/remote.py): its own thread."""
    from opsconsole.core.history import iso
    from opsconsole.core.history.lookup import target_of

    def fetch(key: str, metric: str, since: float, until: float) -> Future[Any]:
        return runtime.call(lambda c: c.history(target_of(key), metric, iso(since), iso(until)))
    return fetch


class HistoryDialog(QDialog):
    def __init__(self, session: SiteSession, theme: Theme, parent: QWidget | None = None,
                 clock: Callable[[], float] = time.time, fetch: Fetch | None = None):
        super().__init__(parent)
        self.fetch = fetch  # a site service's history instead of the data dir's
        self.setWindowTitle("History")
        self.resize(1000, 560)
        self.session = session
        self.clock = clock
        self.series: Series | None = None
        self.range_key = "1 h"
        self.asked = 0  # reads asked for
        self.answered = 0  # the read whose answer is shown (== asked: up to date)
        pool = ThreadPoolExecutor(1, thread_name_prefix="history-read")
        self._pool = pool
        self._answers = Handoff(self)
        self._answers.arrived.connect(self._on_answers)
        self.destroyed.connect(lambda: pool.shutdown(wait=False, cancel_futures=True))

        self.target = QComboBox()
        self.target.addItem("Site", SITE_KEY)
        for g in session.site.groups:
            self.target.addItem(f"Group {g.id}", group_key(g.id))
        for d in session.devices:
            self.target.addItem(d.id, d.id)
        self.metric_box = QComboBox()  # not `metric`: that is QPaintDevice.metric(), Qt calls it
        self.target.currentIndexChanged.connect(self._fill_metrics)
        self.metric_box.currentIndexChanged.connect(lambda _i: self.reload())
        self.buttons = QButtonGroup(self)
        bar = QHBoxLayout()
        bar.addWidget(self.target)
        bar.addWidget(self.metric_box)
        for k, label in enumerate([*RANGES, CUSTOM]):
            b = QPushButton(label)
            b.setCheckable(True)
            b.setChecked(label == self.range_key)
            self.buttons.addButton(b, k)
            b.clicked.connect(lambda _c=False, key=label: self.set_range(key))
            bar.addWidget(b)
        now = QDateTime.currentDateTime()
        self.since_edit = QDateTimeEdit(now.addSecs(-6 * 3600))
        self.until_edit = QDateTimeEdit(now)
        for e in (self.since_edit, self.until_edit):
            e.setCalendarPopup(True)
            e.setDisplayFormat("yyyy-MM-dd HH:mm")
            e.dateTimeChanged.connect(lambda _d: self.range_key == CUSTOM and self.reload())
            bar.addWidget(e)
        bar.addStretch(1)
        self.png_button = QPushButton("Export PNG…")
        self.csv_button = QPushButton("Export CSV…")
        self.png_button.clicked.connect(self._ask_png)
        self.csv_button.clicked.connect(self._ask_csv)
        bar.addWidget(self.png_button)
        bar.addWidget(self.csv_button)

        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        self.plot.setBackground(theme.plot_bg)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        for menu in (item.ctrlMenu, item.vb.menu):  # parentless in pyqtgraph: owned here
            if menu is not None and menu.parent() is None:
                menu.setParent(self, menu.windowFlags())
        colour = pg.mkColor(theme.curves[0])
        band = pg.mkColor(theme.curves[0])
        band.setAlpha(60)
        self.lo_curve = self.plot.plot(pen=None)
        self.hi_curve = self.plot.plot(pen=None)
        self.band = pg.FillBetweenItem(self.lo_curve, self.hi_curve, brush=band)
        self.plot.addItem(self.band)
        self.mean_curve = self.plot.plot(pen=pg.mkPen(colour, width=1.5))
        self.info = QLabel("")
        self.info.setObjectName("muted")
        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.info)
        self._fill_metrics()

    # -- choices --------------------------------------------------------------------
    def _metrics_for(self, key: str) -> list[str]:
        if key.startswith("@"):
            return [m for m in AGGREGATES if m != "devices_ok"] + ["devices_ok"]
        dev = self.session.site.device(key)
        kind = dev.kind if dev is not None else ""
        return [m.name for m in CATALOGUE.values() if m.numeric and kind in m.kinds]

    def _fill_metrics(self) -> None:
        self.metric_box.blockSignals(True)
        self.metric_box.clear()
        for m in self._metrics_for(str(self.target.currentData())):
            info = CATALOGUE.get(m)
            self.metric_box.addItem(f"{info.label} ({info.unit})" if info and info.unit
                                else (info.label if info else m), m)
        self.metric_box.blockSignals(False)
        self.reload()

    def select(self, key: str, metric: str) -> None:
        self.target.setCurrentIndex(max(0, self.target.findData(key)))
        self.metric_box.setCurrentIndex(max(0, self.metric_box.findData(metric)))
        self.reload()

    def set_range(self, key: str) -> None:
        self.range_key = key
        for b in self.buttons.buttons():
            b.setChecked(b.text() == key)
        self.reload()

    def span(self) -> tuple[float, float]:
        if self.range_key == CUSTOM:
            return (self.since_edit.dateTime().toSecsSinceEpoch(),
                    self.until_edit.dateTime().toSecsSinceEpoch())
        now = self.clock()
        return now - RANGES[self.range_key], now

    # -- data -------------------------------------------------------------------------
    def reload(self) -> None:
        """Ask for the chosen series; it is drawn when the read comes back."""
        key, metric = self.target.currentData(), self.metric_box.currentData()
        if key is None or metric is None:
            return
        since, until = self.span()
        self.asked += 1
        self.info.setText("Reading history…")
        if self.fetch is not None:
            self._ask_service(self.asked, str(key), str(metric), since, until)
            return
        ask = (self.asked, self.session.data_dir, str(key), str(metric), since, until)
        self._pool.submit(self._read, *ask)

    def _ask_service(self, n: int, key: str, metric: str, since: float, until: float) -> None:
        assert self.fetch is not None
        answers = self._answers
        try:
            fut = self.fetch(key, metric, since, until)
        except RuntimeError as exc:  # not connected (yet, or any more)
            answers.put((n, None, key, metric, since, until, ServiceError(str(exc))))
            return

        def done(f: Future[Any]) -> None:  # the client's thread: hand over, never draw here
            from opsconsole.core.history.lookup import series_from_doc

            got: Series | BaseException
            try:
                got = series_from_doc(f.result()["doc"])
            except Exception as exc:  # ApiError, a dropped link, cancelled, a bad answer
                got = ServiceError(str(exc) or type(exc).__name__)
            answers.put((n, None, key, metric, since, until, got))
        fut.add_done_callback(done)

    def _read(self, n: int, ddir: Path | None, key: str, metric: str, since: float,
              until: float) -> None:
        """On the history-read thread: the series (None: no database yet) or the error."""
        got: Series | BaseException | None = None
        try:
            if ddir is not None and (Path(ddir) / DB_NAME).exists():
                reader = HistoryReader(Path(ddir) / DB_NAME)
                try:
                    got = reader.series(key, metric, since, until)
                finally:
                    reader.close()
        except (StorageError, sqlite3.Error, OSError) as exc:  # corrupt or unreadable
            got = exc
        self._answers.put((n, ddir, key, metric, since, until, got))

    def _on_answers(self, answers: list[tuple[Any, ...]]) -> None:
        # the newest question's answer (a service answers concurrent questions in any order)
        n, ddir, key, metric, since, until, got = max(answers, key=lambda a: a[0])
        if n != self.asked:
            return  # an older question: the answer to the latest is on its way
        self.answered = n
        if isinstance(got, ServiceError):
            self.series = Series(key, metric, "raw")
            self.info.setText(f"History cannot be read from the site service: {got}")
        elif isinstance(got, BaseException):
            err = got if isinstance(got, StorageError) else storage_error(
                got, Path(ddir or ".") / DB_NAME, HISTORY)
            self.session.storage_faults.report_error(err)  # one log line; the banner
            self.series = Series(key, metric, "raw")
            self.info.setText(f"History cannot be read: {err.path}: {err.problem}")
        elif got is None or (self.fetch is not None and len(got) == 0):
            self.series = Series(key, metric, "raw")
            self.info.setText("No history recorded for this site yet.")
        else:
            self.series = s = got
            self.info.setText(f"{len(s)} points · resolution {s.resolution}"
                              + ("" if s.resolution == "raw" else " (min/max band, mean line)")
                              + (" · from the site service" if self.fetch is not None else ""))
        self._draw(since, until)

    def _draw(self, since: float, until: float) -> None:
        s = self.series
        assert s is not None
        x = s.ts
        bucketed = len(x) > 0 and any(lv != "raw" for lv in s.level)
        self.mean_curve.setData(x, s.mean)
        if bucketed:
            self.lo_curve.setData(x, s.min)
            self.hi_curve.setData(x, s.max)
        else:
            self.lo_curve.setData([], [])
            self.hi_curve.setData([], [])
        self.band.setVisible(bucketed)
        self.plot.setXRange(since, until, padding=0)
        if len(x) and np.isfinite(s.mean).any():
            self.plot.enableAutoRange(axis="y")

    # -- export -------------------------------------------------------------------------
    def export_csv(self, path: Path) -> None:
        if self.series is not None:
            Path(path).write_text(self.series.to_csv(), encoding="utf-8")

    def export_png(self, path: Path) -> bool:
        return self.plot.grab().save(str(path), "PNG")

    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export chart", "history.png",
                                              "PNG images (*.png)")
        if path:
            self.export_png(Path(path))

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export data", "history.csv",
                                              "CSV files (*.csv)")
        if path:
            self.export_csv(Path(path))
