"""What the console's cards share: one framed look, a card that names itself
when clicked, and the frameless scroll area a page of cards sits in."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QFrame, QLayout, QScrollArea, QWidget

from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import Theme

L = TypeVar("L", bound=QLayout)


def frame_style(widget: QWidget, theme: Theme, border: str, width: int = 1) -> None:
    """The card look (base background, rounded border of `border`'s colour),
    scoped to the widget's own class so the labels inside keep theirs."""
    widget.setStyleSheet(f"{type(widget).__name__} {{ background: {theme.base}; "
                         f"border: {width}px solid {border}; border-radius: 4px; }}")


class ClickableCard(QFrame):
    """A card that emits its id on a left click."""

    clicked = Signal(str)

    def __init__(self, card_id: str, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.card_id = card_id
        self.theme = theme
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.card_id)
        super().mouseReleaseEvent(ev)


class CardScroll(QScrollArea):
    """A frameless, resizing scroll area over `inner`, the page of cards."""

    def __init__(self, session: SiteSession, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.theme = theme
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.inner = QWidget()

    @staticmethod
    def spaced(layout: L, margin: int) -> L:
        """`layout` with the cards' spacing (6 px) and an even margin."""
        layout.setContentsMargins(margin, margin, margin, margin)
        layout.setSpacing(6)
        return layout
