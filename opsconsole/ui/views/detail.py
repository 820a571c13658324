"""Device detail: identity, every metric with its unit, a live plot, the last
error. Credentials appear by name and security level only, never a secret."""

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
from opsconsole.core.store import GPU_METRICS
from opsconsole.ui import units
from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import Theme


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
        self.resize(760, 560)
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
        form.addRow("Profile", QLabel(
            f"{d.profile or '–'}" + (f" — {prof.description}" if getattr(prof, "description", "")
                                     else "")))
        if creds is not None:  # name and level only: the repr never holds a secret
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

        plot_box = QWidget()
        pl = QVBoxLayout(plot_box)
        pl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Plot"))
        self.metric_box = QComboBox()
        if d.kind == "gpu":
            ringed = GPU_METRICS
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
        names = list(r.metrics) if r is not None else []
        prof = s.site.profiles.get(d.profile or "")
        for m in (prof.metrics if prof is not None else {}):
            if m not in names:
                names.append(m)  # known to the profile but missing: shown as –
        self.table.setRowCount(len(names))
        for k, name in enumerate(names):
            info = CATALOGUE.get(name)
            value = r.metrics.get(name) if r is not None else None
            for c, text in enumerate((info.label if info else name,
                                      units.metric(name, value), name)):
                item = self.table.item(k, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(k, c, item)
                item.setText(text)
        self.refresh_plot()

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
