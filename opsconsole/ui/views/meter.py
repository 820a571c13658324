"""A thin horizontal meter with a caption (memory, power against the limit).

Not a QProgressBar: its setValue() repaints synchronously (about a
millisecond each on this class of machine), and GPU cards set several per
batch. This one only schedules a paint, like every other live widget.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from opsconsole.ui.theme import Theme


class MeterBar(QWidget):
    def __init__(self, theme: Theme, maximum: int = 1000, parent: QWidget | None = None):
        super().__init__(parent)
        self.theme = theme
        self.maximum = maximum
        self._value = 0
        self._text = ""
        self._colour: str | None = None  # None: the theme's accent
        self.setFixedHeight(15)
        f = QFont(self.font())
        f.setPointSizeF(max(7.0, f.pointSizeF() * 0.85))
        self.setFont(f)

    def sizeHint(self) -> QSize:
        return QSize(160, 15)

    def value(self) -> int:
        return self._value

    def text(self) -> str:
        return self._text

    def setValue(self, v: int) -> None:
        v = max(0, min(self.maximum, int(v)))
        if v != self._value:
            self._value = v
            self.update()

    def setFormat(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.update()

    def set_colour(self, colour: str | None) -> None:
        if colour != self._colour:
            self._colour = colour
            self.update()

    def paintEvent(self, ev: QPaintEvent) -> None:
        p = QPainter(self)
        r = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        p.setPen(QPen(QColor(self.theme.border), 1))
        p.setBrush(QColor(self.theme.base))
        p.drawRoundedRect(r, 2, 2)
        if self._value > 0:
            fill = QRectF(r.x() + 1, r.y() + 1, (r.width() - 2) * self._value / self.maximum,
                          r.height() - 2)
            accent = QColor(self._colour or self.theme.accent)
            accent.setAlpha(150)  # the caption stays readable over the fill
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(accent)
            p.drawRect(fill)
        if self._text:
            p.setPen(QColor(self.theme.text))
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, self._text)
        p.end()
