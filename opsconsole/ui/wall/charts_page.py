"""Page "charts": the last hour of the site's hashrate, power, hottest
temperature and mean GPU utilisation, with thick pens and big axis text.
Curves are created once; refresh() only hands them the ring's newest view."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QVBoxLayout, QWidget

from opsconsole.core.store import SITE
from opsconsole.ui import units
from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import Theme
from opsconsole.ui.views.charts import MIN_SPAN, PLOTS
from opsconsole.ui.wall.scale import WallScale

WINDOW_S = 3600
NOW_TEXT = {"hashrate_ths": units.hashrate, "power_w": units.power, "temp_c": units.temp,
            "util_pct": units.pct}  # the latest value beside each title


class ChartsPage(QWidget):
    title = "Last hour"

    def __init__(self, session: SiteSession, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.theme = theme
        self.scale = WallScale.for_height(1080)
        lay = QVBoxLayout(self)
        self._lay = lay
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(theme.window)
        lay.addWidget(self.glw)
        scene = self.glw.scene()
        for action in scene.contextMenu:  # pyqtgraph's "Export..." for a right-click menu
            action.setParent(None)
        scene.contextMenu = []
        # Axes, view box and title by hand rather than a PlotItem: a PlotItem
        # always builds its options menu and form (check boxes, spin boxes),
        # and the wall constructs no control at all.
        self.views: dict[str, pg.ViewBox] = {}
        self.axes: dict[str, tuple[pg.AxisItem, pg.AxisItem]] = {}
        self.labels: dict[str, pg.LabelItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.titles: dict[str, str] = {}
        fg = pg.mkColor(theme.plot_fg)
        for k, (metric, label, unit, _scale, si) in enumerate(PLOTS):
            cell = self.glw.addLayout(row=k // 2, col=k % 2)
            vb = pg.ViewBox(enableMenu=False, enableMouse=False)
            left = pg.AxisItem("left")
            bottom = pg.DateAxisItem(orientation="bottom")
            for ax in (left, bottom):
                ax.linkToView(vb)
                ax.setPen(fg)
                ax.setTextPen(fg)
                ax.setGrid(50)
            left.setLabel(units=unit)
            left.enableAutoSIPrefix(si)
            title = pg.LabelItem(label)
            cell.addItem(title, row=0, col=1)
            cell.addItem(left, row=1, col=0)
            cell.addItem(vb, row=1, col=1)
            cell.addItem(bottom, row=2, col=1)
            curve = pg.PlotDataItem(pen=pg.mkPen(theme.curves[k % len(theme.curves)], width=3))
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")
            vb.addItem(curve)
            self.views[metric] = vb
            self.axes[metric] = (left, bottom)
            self.labels[metric] = title
            self.curves[metric] = curve
            self.titles[metric] = label
        self.apply_scale(self.scale)

    def apply_scale(self, s: WallScale) -> None:
        self.scale = s
        m = s.px(0.8)
        self._lay.setContentsMargins(m, m // 2, m, m // 2)
        self.glw.ci.setSpacing(s.px(1.0))
        font = QFont(self.font())
        font.setPixelSize(s.body)
        fg = self.theme.plot_fg
        for k, (metric, _label, _unit, _scale, _si) in enumerate(PLOTS):
            left, bottom = self.axes[metric]
            for ax in (left, bottom):
                ax.setStyle(tickFont=font, tickTextOffset=s.px(0.4), tickLength=-s.px(0.4))
            left.label.setFont(font)
            left.setWidth(s.px(5.5))
            left.labelStyle = {"color": fg, "font-size": f"{s.body}px"}
            left._updateLabel()
            bottom.setHeight(s.px(2.0))
            self._set_title(metric)
            colour = self.theme.curves[k % len(self.theme.curves)]
            self.curves[metric].setPen(pg.mkPen(colour, width=s.pen))

    def _set_title(self, metric: str, now_text: str = "") -> None:
        text = f"{self.titles[metric]}   <b>{now_text}</b>" if now_text else self.titles[metric]
        self.labels[metric].setText(text, color=self.theme.text, size=f"{self.scale.px(1.3)}px")

    def refresh(self) -> None:
        store = self.session.store
        now = time.time()
        for metric, _label, _unit, scale, _si in PLOTS:
            x, y = store.agg_series(SITE, metric, WINDOW_S)
            yy = y.astype(np.float64) * scale
            finite = np.isfinite(yy)
            curve = self.curves[metric]
            if int(np.count_nonzero(finite)) < 2:  # one point: a dot, a line needs two
                curve.setData(x[finite], yy[finite], symbol="o", symbolSize=self.scale.px(0.5),
                              symbolBrush=curve.opts["pen"].color(), symbolPen=None)
            else:
                curve.setData(x, yy, connect="finite", symbol=None)
            last = float(yy[finite][-1] / scale) if finite.any() else None
            self._set_title(metric, NOW_TEXT[metric](last))
            self.views[metric].setXRange(now - WINDOW_S, now, padding=0)
            self._set_y_range(metric, yy[finite])

    def _set_y_range(self, metric: str, vals: np.ndarray) -> None:
        """As the console does: never zoom a 0.05 % wiggle to full height."""
        if not vals.size:
            return
        lo, hi = float(vals.min()), float(vals.max())
        need = max(0.10 * max(abs(lo), abs(hi)), MIN_SPAN.get(metric, 1.0))
        vb = self.views[metric]
        if hi - lo >= need:
            vb.enableAutoRange(axis="y")
        else:
            mid = (lo + hi) / 2
            vb.setYRange(mid - need / 2, mid + need / 2, padding=0.05)
