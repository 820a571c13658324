"""Device detail: identity, every metric with its unit, a live plot, the last
error. Credentials appear by name and security level only, never a secret.
Miners read over their own API add firmware, model and a per-board table;
a power the firmware does not report says so ("not reported")."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from opsconsole.core.metrics import CATALOGUE
from opsconsole.core.store import GPU_METRICS, MINER_METRICS
from opsconsole.ui import units
from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import Theme

# shown in the form (firmware, model) or the boards table, not as metric rows
_SHOWN_APART = ("firmware", "model", "board_hashrate_ths", "board_temp_c", "board_chips")


class DeviceDetail(QDialog):
    def __init__(self, session: SiteSession, device_id: str, theme: Theme,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.theme = theme
        self.device = session.site.device(device_id)
        assert self.device is not None
        self.i = session.store.index[device_id]
        d = self.device
        self.setWindowTitle(f"{d.id} — {d.kind}")
        self.resize(760, 640 if d.api is not None else 560)
        lay = QVBoxLayout(self)
        self.heading = QLabel()
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.heading)

        info = QWidget()
        form = QFormLayout(info)
        form.setContentsMargins(0, 0, 0, 0)
        prof = session.site.profiles.get(d.profile or "")
        creds = session.site.credentials.get(d.credentials or "")
        form.addRow("Group", QLabel(d.group))
        form.addRow("Address", QLabel(d.address))
        self.firmware = QLabel()
        self.model = QLabel()
        if d.api is not None:  # the miner's own API: no profile, the firmware says what it reports
            form.addRow("API", QLabel(f"{d.api} JSON API, TCP port {d.port}"))
            form.addRow("Firmware", self.firmware)
            form.addRow("Model", self.model)
        else:
            form.addRow("Profile", QLabel(
                f"{d.profile or '–'}" + (f" — {prof.description}"
                                         if getattr(prof, "description", "") else "")))
        if creds is not None and creds.version == "api":  # a miner login: its name only
            form.addRow("Credentials", QLabel(f"{creds.id} (miner login)"))
        elif creds is not None:  # name and level only: the repr never holds a secret
            form.addRow("Credentials", QLabel(f"{creds.id} (SNMP v{creds.version}, "
                                              f"{creds.security_level})"))
        place = f"rack {d.rack or '–'}, position {d.position if d.position is not None else '–'}"
        if d.pdu:
            place += f"; fed by {d.pdu} outlet {d.outlet}"
        form.addRow("Location", QLabel(place))
        self.polled = QLabel()
        form.addRow("Last reading", self.polled)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Last error", self.error)
        self.alarm = QLabel()
        self.alarm.setWordWrap(True)
        form.addRow("Alarms", self.alarm)
        lay.addWidget(info)

        split = QSplitter(Qt.Orientation.Vertical)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Metric", "Value", "Name"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        split.addWidget(self.table)
        self.boards = QTableWidget(0, 4)  # per hash board, where the firmware lists them
        self.boards.setHorizontalHeaderLabels(["Board", "Hashrate", "Temperature", "Chips"])
        self.boards.verticalHeader().hide()
        self.boards.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.boards.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.boards.setVisible(False)
        split.addWidget(self.boards)

        plot_box = QWidget()
        pl = QVBoxLayout(plot_box)
        pl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Plot"))
        self.metric_box = QComboBox()
        if d.kind == "gpu":
            ringed = GPU_METRICS
        elif d.api is not None:
            ringed = MINER_METRICS
        else:
            ringed = [m for m in (prof.metrics if prof is not None else {})
                      if CATALOGUE.get(m) is not None and CATALOGUE[m].numeric]
        for m in ringed:
            self.metric_box.addItem(CATALOGUE[m].label + (f" ({CATALOGUE[m].unit})"
                                                          if CATALOGUE[m].unit else ""), m)
        for pref in ("hashrate_ths", "util_pct", "power_w"):
            k = self.metric_box.findData(pref)
            if k >= 0:
                self.metric_box.setCurrentIndex(k)
                break
        self.metric_box.currentIndexChanged.connect(self.refresh_plot)
        row.addWidget(self.metric_box, 1)
        pl.addLayout(row)
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        self.plot.setBackground(theme.plot_bg)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setMenuEnabled(False)
        self.curve = self.plot.plot(pen=pg.mkPen(theme.curves[0], width=1), symbol="o",
                                    symbolSize=4, symbolBrush=theme.curves[0], symbolPen=None)
        pl.addWidget(self.plot, 1)
        split.addWidget(plot_box)
        for k, stretch in enumerate((3, 2, 2)):  # metrics first; boards; the plot
            split.setStretchFactor(k, stretch)
        split.setSizes([300, 150, 220])  # every metric row visible without scrolling
        lay.addWidget(split, 1)
        session.updated.connect(self._on_updated)
        self.refresh()

    def _on_updated(self, changed: list[int]) -> None:
        if self.i in changed:
            self.refresh()

    def refresh(self) -> None:
        s, d = self.session, self.device
        assert d is not None
        r = s.store.latest[self.i]
        status = s.status_of(self.i)
        colour = self.theme.status_color(status).name()
        self.heading.setText(f"<span style='font-size:15pt; font-weight:600'>{d.id}</span>"
                             f"&nbsp;&nbsp;<span style='color:{colour}'>{status.upper()}</span>"
                             f"&nbsp;&nbsp;<span style='color:{self.theme.muted}'>{d.kind}"
                             "</span>")
        self.polled.setText(f"{units.clock(r.ts)}, took {units.duration(r.duration_s)}"
                            if r is not None else "none yet")
        self.error.setText(r.error if r is not None and r.error else "none")
        per = s.alarms.active.get(d.id, {})
        self.alarm.setText("; ".join(a.message for a in per.values()) or "none")
        self.alarm.setStyleSheet(f"color: {self.theme.bad};" if per else "")
        names = [m for m in (r.metrics if r is not None else ()) if m not in _SHOWN_APART]
        prof = s.site.profiles.get(d.profile or "")
        for m in (prof.metrics if prof is not None else {}):
            if m not in names:
                names.append(m)  # known to the profile but missing: shown as –
        answered = r is not None and status in ("ok", "partial")
        if d.api is not None and answered and "power_w" not in names:
            names.append("power_w")  # the firmware gives none: say so, never estimate
        if d.api is not None and r is not None:
            self.firmware.setText(str(r.metrics.get("firmware") or d.firmware or "–"))
            self.model.setText(str(r.metrics.get("model") or "not reported"))
        self.table.setRowCount(len(names))
        for k, name in enumerate(names):
            info = CATALOGUE.get(name)
            value = r.metrics.get(name) if r is not None else None
            shown = units.metric(name, value)
            if value is None and d.api is not None and name == "power_w" and answered:
                shown = units.NOT_REPORTED
            for c, text in enumerate((info.label if info else name, shown, name)):
                item = self.table.item(k, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(k, c, item)
                item.setText(text)
        self._refresh_boards(r.metrics if r is not None else {})
        self.refresh_plot()

    def _refresh_boards(self, metrics: dict) -> None:
        cols = [metrics.get(m) for m in ("board_hashrate_ths", "board_temp_c", "board_chips")]
        n = max((len(c) for c in cols if isinstance(c, list)), default=0)
        self.boards.setVisible(n > 0)
        self.boards.setRowCount(n)
        for b in range(n):
            vals = [c[b] if isinstance(c, list) and b < len(c) else None for c in cols]
            texts = (str(b + 1), units.hashrate(vals[0]), units.temp(vals[1]),
                     units.NA if vals[2] is None else str(vals[2]))
            for c, text in enumerate(texts):
                item = self.boards.item(b, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.boards.setItem(b, c, item)
                item.setText(text)

    def refresh_plot(self) -> None:
        metric = self.metric_box.currentData()
        if not metric:
            return
        x, y = self.session.store.series(self.device.id if self.device else "", metric, 3600)
        y = y.astype(np.float64)
        finite = np.isfinite(y)
        self.curve.setData(x[finite], y[finite])  # dots joined: gaps stay visible as jumps
        info = CATALOGUE.get(metric)
        self.plot.setLabel("left", info.label if info else metric,
                           units=info.unit if info else "")
