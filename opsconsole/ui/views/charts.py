"""Live trends from the store's aggregate rings: site (and selected group)
hashrate, power, hottest temperature and mean GPU utilisation.

Plots are redrawn on a timer, not per batch: setData on the ring's numpy
view, clipped to the view and peak-downsampled, at most every 2 s."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from opsconsole.core.store import SITE
from opsconsole.ui import units
from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import Theme
from opsconsole.ui.views.title_bar import title_bar

WINDOWS = {"5 min": 300, "1 h": 3600}
# (aggregate metric, title, axis unit, scale to that unit, SI prefixes?)
# smallest y span shown, in display units (°C and % points)
MIN_SPAN = {"temp_c": 10.0, "util_pct": 20.0}

PLOTS = [
    ("hashrate_ths", "Hashrate", "H/s", 1e12, True),
    ("power_w", "Power", "W", 1.0, True),
    ("temp_c", "Hottest temperature", "°C", 1.0, False),
    ("util_pct", "GPU utilisation (mean)", "%", 1.0, False),
]


def _fmt(metric: str, v: float) -> str:
    return units.metric(metric, v) if np.isfinite(v) else units.NA


class ChartsPanel(QWidget):
    def __init__(self, session: SiteSession, theme: Theme, window_s: int = 300,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.theme = theme
        self.group: str | None = None
        self.window_s = window_s if window_s in WINDOWS.values() else 300
        self.paused = False
        self._dirty = True
        self._data: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = {}

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        bar = title_bar("TRENDS")
        self.readout = QLabel("")
        self.readout.setObjectName("muted")
        bar.addWidget(self.readout, 1)
        self.window_box = QComboBox()
        for label, secs in WINDOWS.items():
            self.window_box.addItem(label, secs)
        self.window_box.setCurrentIndex(list(WINDOWS.values()).index(self.window_s))
        self.window_box.currentIndexChanged.connect(self._on_window)
        bar.addWidget(self.window_box)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self.set_paused)
        bar.addWidget(self.pause_button)
        lay.addLayout(bar)

        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(theme.plot_bg)
        self.glw.ci.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.glw, 1)
        fg = pg.mkColor(theme.plot_fg)
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self.cursors: list[pg.InfiniteLine] = []
        first: pg.PlotItem | None = None
        for k, (metric, label, unit, _scale, si) in enumerate(PLOTS):
            axis = pg.DateAxisItem(orientation="bottom")
            p = self.glw.addPlot(row=k // 2, col=k % 2, axisItems={"bottom": axis})
            p.setTitle(label, color=theme.plot_fg, size="9pt")
            p.showGrid(x=True, y=True, alpha=0.15)
            p.setMenuEnabled(False)
            p.hideButtons()
            left = p.getAxis("left")
            left.setLabel(units=unit)
            left.enableAutoSIPrefix(si)
            left.setWidth(66)  # room for the SI-prefixed unit label beside the ticks
            for name in ("left", "bottom"):
                ax = p.getAxis(name)
                ax.setPen(fg)
                ax.setTextPen(fg)
            p.setClipToView(True)
            p.setDownsampling(auto=True, mode="peak")
            site_curve = p.plot(pen=pg.mkPen(theme.curves[0], width=1), name="site")
            group_curve = p.plot(pen=pg.mkPen(theme.curves[1], width=1), name="group")
            line = pg.InfiniteLine(angle=90, movable=False,
                                   pen=pg.mkPen(theme.muted, width=1, style=pg.QtCore.Qt
                                                .PenStyle.DashLine))
            line.hide()
            p.addItem(line, ignoreBounds=True)
            self.cursors.append(line)
            if first is None:
                first = p
            else:
                p.setXLink(first)
            self.plots[metric] = p
            self.curves[metric] = (site_curve, group_curve)
        self.glw.scene().sigMouseMoved.connect(self._on_mouse)
        self._timer = QTimer(self)
        self._timer.setInterval(2000)
        self._timer.timeout.connect(self.refresh_in_steps)
        self._timer.start()
        self._steps: list[int] = []  # plots (indices into PLOTS) a staged refresh has left
        self._step_timer = QTimer(self)  # the next plot, on the next event-loop turn
        self._step_timer.setSingleShot(True)
        self._step_timer.setInterval(0)
        self._step_timer.timeout.connect(self._next_step)
        session.updated.connect(self._mark_dirty)
        self.refresh()

    def _mark_dirty(self, _changed: list[int]) -> None:
        self._dirty = True

    def _on_window(self, _i: int) -> None:
        self.window_s = int(self.window_box.currentData())
        self._dirty = True
        self.refresh()

    def set_paused(self, on: bool) -> None:
        self.paused = on
        self.pause_button.setChecked(on)
        self.pause_button.setText("Resume" if on else "Pause")
        if not on:
            self._dirty = True
            self.refresh()

    def set_group(self, group: str | None) -> None:
        self.group = group
        self._dirty = True
        self.refresh()

    def refresh(self) -> None:
        """Every plot, now."""
        if self.paused or not self._dirty:
            return
        self._dirty = False
        self._steps = []
        self.glw.setUpdatesEnabled(True)
        for k in range(len(PLOTS)):
            self._refresh_plot(k)

    def refresh_in_steps(self) -> None:
        """The same, one plot per event-loop turn (the timer): four plots of a
        20,000-device site took 28 ms together on a loaded machine."""
        if self.paused or not self._dirty or self._steps:
            return
        self._dirty = False
        self._steps = list(range(len(PLOTS)))
        self.glw.setUpdatesEnabled(False)  # one paint when all four are set, not four
        self._next_step()

    def _next_step(self) -> None:
        if self._steps and not self.paused:
            self._refresh_plot(self._steps.pop(0))
        else:
            self._steps = []
        if self._steps:
            self._step_timer.start()
        else:
            self.glw.setUpdatesEnabled(True)

    def _refresh_plot(self, k: int) -> None:
        store = self.session.store
        now = time.time()
        scopes = [SITE] + ([self.group] if self.group else [])
        for metric, _label, _unit, scale, _si in PLOTS[k:k + 1]:
            site_curve, group_curve = self.curves[metric]
            self._data[metric] = []
            for scope, curve in zip(scopes, (site_curve, group_curve), strict=False):
                x, y = store.agg_series(scope, metric, self.window_s)
                yy = y.astype(np.float64) * scale
                # Few points (just started): dots, since a line needs two.
                finite = np.isfinite(yy)
                sparse = int(np.count_nonzero(finite)) < 4
                curve.setSymbol("o" if sparse else None)
                curve.setSymbolSize(5)
                curve.setSymbolBrush(curve.opts["pen"].color())
                curve.setSymbolPen(None)
                if sparse:
                    curve.setData(x[finite], yy[finite])
                else:
                    curve.setData(x, yy, connect="finite")
                self._data[metric].append((scope, x, y.astype(np.float64)))
            if not self.group:
                group_curve.setData([], [])
            self.plots[metric].setXRange(now - self.window_s, now, padding=0)
            self._set_y_range(metric, scale)

    def _set_y_range(self, metric: str, scale: float) -> None:
        """Autorange, but never zoom into noise: a 0.05 % wiggle in site hashrate
        drawn full height reads as a crash. The span is at least 10 % of the
        level (or MIN_SPAN in the metric's display unit)."""
        vals = [y[np.isfinite(y)] * scale for _s, _x, y in self._data[metric]]
        vals = [v for v in vals if v.size]
        if not vals:
            return
        both = np.concatenate(vals)
        lo, hi = float(both.min()), float(both.max())
        need = max(0.10 * max(abs(lo), abs(hi)), MIN_SPAN.get(metric, 1.0))
        if hi - lo >= need:
            self.plots[metric].enableAutoRange(axis="y")
            return
        mid = (lo + hi) / 2
        self.plots[metric].setYRange(mid - need / 2, mid + need / 2, padding=0.05)

    # -- cursor readout ---------------------------------------------------------------
    def _on_mouse(self, pos: QPointF) -> None:
        for metric, p in self.plots.items():
            vb = p.vb
            if not vb.sceneBoundingRect().contains(pos):
                continue
            x = vb.mapSceneToView(pos).x()
            for line in self.cursors:
                line.setPos(x)
                line.show()
            self.readout.setText(self.readout_at(x, metric))
            return
        for line in self.cursors:
            line.hide()
        self.readout.setText("")

    def readout_at(self, x: float, focus: str | None = None) -> str:
        """The values of every plot at time x (nearest slot)."""
        parts = [units.clock(x)]
        for metric, _label, _unit, _scale, _si in PLOTS:
            for scope, xs, ys in self._data.get(metric, []):
                if not len(xs):
                    continue
                k = int(np.clip(np.searchsorted(xs, x), 0, len(xs) - 1))
                if k > 0 and abs(xs[k - 1] - x) < abs(xs[k] - x):
                    k -= 1
                who = "site" if scope == SITE else scope
                text = f"{who} {_fmt(metric, float(ys[k]))}"
                parts.append(f"<b>{text}</b>" if metric == focus else text)
        return " · ".join(parts)
