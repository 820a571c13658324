"""A tiny line chart painted directly (cheaper than a plot widget per card)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QWidget


class Sparkline(QWidget):
    def __init__(self, color: str, lo: float = 0.0, hi: float = 100.0,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.color = QColor(color)
        self.lo, self.hi = lo, hi
        self.values = np.array([], dtype=np.float64)
        self.setMinimumHeight(26)

    def sizeHint(self) -> QSize:
        return QSize(160, 30)

    def set_values(self, values: np.ndarray) -> None:
        self.values = np.asarray(values, dtype=np.float64)
        self.update()

    def paintEvent(self, ev: QPaintEvent) -> None:
        v = self.values
        if v.size < 2:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width() - 2, self.height() - 2
        span = (self.hi - self.lo) or 1.0
        xs = np.linspace(1, w, v.size)
        ys = 1 + h - (np.clip(v, self.lo, self.hi) - self.lo) / span * h
        p.setPen(QPen(self.color, 1.2))
        fill = QColor(self.color)
        fill.setAlpha(40)
        run: list[QPointF] = []
        for x, y in zip(xs, ys, strict=True):  # gaps (NaN) break the line
            if np.isfinite(y):
                run.append(QPointF(float(x), float(y)))
                continue
            self._draw(p, run, fill, h)
            run = []
        self._draw(p, run, fill, h)
        p.end()

    def _draw(self, p: QPainter, run: list[QPointF], fill: QColor, h: int) -> None:
        if len(run) < 2:
            return
        area = QPolygonF([QPointF(run[0].x(), h + 1), *run, QPointF(run[-1].x(), h + 1)])
        p.save()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(fill)
        p.drawPolygon(area)
        p.restore()
        p.drawPolyline(QPolygonF(run))
