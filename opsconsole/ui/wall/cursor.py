"""Kiosk cursor: hidden after a few idle seconds, back on the first move.

An application-wide event filter sees every mouse move (any widget), and one
override cursor is pushed at most once, so restore always balances it."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QCursor, QGuiApplication

IDLE_HIDE_S = 3.0
_MOVES = (QEvent.Type.MouseMove, QEvent.Type.HoverMove, QEvent.Type.MouseButtonPress)


class IdleCursorHider(QObject):
    def __init__(self, idle_s: float = IDLE_HIDE_S, parent: QObject | None = None):
        super().__init__(parent)
        self.hidden = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(max(1, round(idle_s * 1000)))
        self._timer.timeout.connect(self.hide_cursor)
        self._installed = False

    def start(self) -> None:
        app = QGuiApplication.instance()
        if app is not None and not self._installed:
            app.installEventFilter(self)
            self._installed = True
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        app = QGuiApplication.instance()
        if app is not None and self._installed:
            app.removeEventFilter(self)
            self._installed = False
        self.show_cursor()

    def hide_cursor(self) -> None:
        if not self.hidden:
            QGuiApplication.setOverrideCursor(QCursor(Qt.CursorShape.BlankCursor))
            self.hidden = True

    def show_cursor(self) -> None:
        if self.hidden:
            QGuiApplication.restoreOverrideCursor()
            self.hidden = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _MOVES:
            self.show_cursor()
            self._timer.start()
        return False
