"""Small display-only pieces shared by the wall pages: labels whose colour
is set only when it changes (no style-sheet churn every tick), a caption
over a value, and a duty pill."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from opsconsole.ui import units
from opsconsole.ui.theme import Theme, duty_label


class WallLabel(QLabel):
    def __init__(self, text: str = "", role: str = "wallBody", parent: QWidget | None = None):
        super().__init__(text, parent)
        self.setObjectName(role)  # the wall style sheet sizes fonts by role
        self._colour: str | None = None
        self.setTextFormat(Qt.TextFormat.PlainText)

    def set_colour(self, colour: str | None) -> None:
        if colour != self._colour:
            self._colour = colour
            self.setStyleSheet(f"color: {colour};" if colour else "")

    def set_text(self, text: str) -> None:
        if text != self.text():
            self.setText(text)


class CaptionValue(QWidget):
    """A caption over a big value, with a detail line under it."""

    def __init__(self, caption: str, value_role: str = "wallValue",
                 parent: QWidget | None = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.caption = WallLabel(caption.upper(), "wallCaption")
        self.value = WallLabel(units.NA, value_role)
        self.detail = WallLabel("", "wallDetail")
        for w in (self.caption, self.value, self.detail):
            lay.addWidget(w)

    def set(self, value: str, detail: str = "", colour: str | None = None) -> None:
        self.value.set_text(value)
        self.value.set_colour(colour)
        self.detail.set_text(detail)


class DutyPill(WallLabel):
    def __init__(self, theme: Theme, parent: QWidget | None = None):
        super().__init__("", "wallPill", parent)
        self.theme = theme
        self.duty = ""
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)

    def set_duty(self, duty: str) -> None:
        if duty == self.duty:
            return
        self.duty = duty
        colour = self.theme.duty_color(duty)
        text = "#111" if colour.lightness() > 140 else "#fff"
        self.setText(duty_label(duty))
        self.setStyleSheet(f"background: {colour.name()}; color: {text};")
