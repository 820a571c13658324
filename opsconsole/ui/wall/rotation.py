"""Which wall page shows: auto-rotation every rotate_s, pinning, and
direct choice (number keys, arrows). No widgets: the window listens."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal


class PageRotator(QObject):
    changed = Signal(int, bool)  # current page index, pinned

    def __init__(self, count: int, rotate_s: float, parent: QObject | None = None):
        super().__init__(parent)
        self.count = max(1, count)
        self.current = 0
        self.pinned = False
        self._timer = QTimer(self)
        self._timer.setInterval(max(1, round(rotate_s * 1000)))
        self._timer.timeout.connect(self.next)
        if self.count > 1:
            self._timer.start()

    @property
    def rotate_ms(self) -> int:
        return self._timer.interval()

    @property
    def rotating(self) -> bool:
        return self._timer.isActive()

    def show(self, index: int) -> None:
        """Go to a page; the full rotate_s runs again from here."""
        self.current = index % self.count
        self._restart()
        self.changed.emit(self.current, self.pinned)

    def next(self) -> None:
        self.show(self.current + 1)

    def previous(self) -> None:
        self.show(self.current - 1)

    def set_pinned(self, on: bool) -> None:
        self.pinned = on
        self._restart()
        self.changed.emit(self.current, self.pinned)

    def toggle_pin(self) -> None:
        self.set_pinned(not self.pinned)

    def _restart(self) -> None:
        if self.pinned or self.count < 2:
            self._timer.stop()
        else:
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
