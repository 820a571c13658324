"""Site power now and after a switch, against the budget: two stacked bars
(other groups + this group) with the budget drawn as a line."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from opsconsole.core.duty import Plan
from opsconsole.ui.theme import Theme


def kw(v: float | None) -> str:
    return "?" if v is None else f"{v:,.1f} kW"


class PowerBar(QWidget):
    def __init__(self, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.theme = theme
        self.plan: Plan | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(520, self.fontMetrics().height() * 4 + 14)

    def minimumSizeHint(self) -> QSize:
        return QSize(300, self.sizeHint().height())

    def set_plan(self, plan: Plan | None) -> None:
        self.plan = plan
        self.update()

    def rows(self) -> list[tuple[str, float | None, float | None]]:
        """(label, other groups kW, this group kW) for now and after."""
        p = self.plan
        if p is None:
            return []
        return [("now", p.others_kw, p.power_now_kw), ("after", p.others_kw, p.power_after_kw)]

    def paintEvent(self, _ev: QPaintEvent) -> None:
        p = self.plan
        if p is None:
            return
        t = self.theme
        qp = QPainter(self)
        qp.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = self.fontMetrics()
        lh = fm.height()
        label_w = fm.horizontalAdvance("after") + 10
        value_w = fm.horizontalAdvance("00,000.0 kW of 00,000 kW") + 10
        x0, x1 = float(label_w), float(self.width() - value_w)
        totals = [(o or 0.0) + (g or 0.0) for _, o, g in self.rows()]
        scale = max([*totals, p.budget_kw or 0.0, 1e-9]) * 1.08
        span = max(10.0, x1 - x0)
        group_colour = QColor(t.duty_color(p.to_duty))
        for row, (label, others, group) in enumerate(self.rows()):
            y = 4 + row * (lh + 8)
            qp.setPen(QColor(t.muted))
            qp.drawText(QRectF(0, y, label_w - 6, lh), Qt.AlignmentFlag.AlignRight, label)
            qp.fillRect(QRectF(x0, y + 2, span, lh - 4), QColor(t.alt_base))
            ow = span * (others or 0.0) / scale
            gw = span * (group or 0.0) / scale
            qp.fillRect(QRectF(x0, y + 2, ow, lh - 4), QColor(t.border).lighter(130))
            colour = group_colour if row else QColor(t.duty_color(p.from_duty))
            qp.fillRect(QRectF(x0 + ow, y + 2, gw, lh - 4), colour)
            total = (others or 0.0) + (group or 0.0)
            over = p.budget_kw is not None and total > p.budget_kw
            qp.setPen(QColor(t.bad) if over else QColor(t.text))
            qp.drawText(QRectF(x1 + 8, y, value_w, lh), Qt.AlignmentFlag.AlignLeft,
                        kw(None if group is None else total))
        if p.budget_kw is not None:
            bx = x0 + span * p.budget_kw / scale
            qp.setPen(QPen(QColor(t.bad), 2, Qt.PenStyle.DashLine))
            bottom = 4 + 2 * (lh + 8)
            qp.drawLine(int(bx), 2, int(bx), bottom - 6)
            qp.setPen(QColor(t.bad))
            text = f"budget {kw(p.budget_kw)}"
            tw = fm.horizontalAdvance(text)
            qp.drawText(QRectF(min(bx - tw / 2, x1 - tw), bottom - 4, tw + 4, lh),
                        Qt.AlignmentFlag.AlignLeft, text)
        qp.end()
