"""Handoff: carries items from any thread (the collector's, the site
client's) to the GUI thread.

`put`/`extend` only append to a locked list and, if no wake-up is queued
yet, post ONE queued signal; the GUI thread then takes everything that
arrived in one go (`arrived(list)`). So the GUI gets at most one delivery per
event-loop turn however fast the producer is, and the producer never waits on
the GUI. After `close()` nothing more is delivered, and a producer that races
the QObject's deletion is ignored, never raised into.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal


class Handoff(QObject):
    arrived = Signal(list)  # the items, in order, on the GUI thread
    _wake = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._pending: list[Any] = []
        self._wake_posted = False
        self._closed = False
        self.held = False  # True: keep what arrives until release() (not ready for it yet)
        self.deliveries = 0  # times `arrived` was emitted
        self._wake.connect(self.drain, Qt.ConnectionType.QueuedConnection)

    # -- any thread ---------------------------------------------------------------
    def put(self, item: Any) -> None:
        self.extend((item,))

    def extend(self, items: Iterable[Any]) -> None:
        with self._lock:
            if self._closed:
                return
            self._pending.extend(items)
            if self._wake_posted:
                return
            self._wake_posted = True
            try:
                self._wake.emit()
            except RuntimeError:  # the QObject is gone (window closed)
                self._closed = True

    # -- GUI thread ---------------------------------------------------------------------
    def drain(self) -> None:
        with self._lock:
            self._wake_posted = False
            if self.held or self._closed or not self._pending:
                return
            items, self._pending = self._pending, []
        self.deliveries += 1
        self.arrived.emit(items)

    def release(self) -> None:
        """Stop holding: deliver what waited, now."""
        self.held = False
        self.drain()

    def clear(self) -> None:
        """Forget what waits (not yet delivered)."""
        with self._lock:
            self._pending.clear()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pending.clear()

    @property
    def closed(self) -> bool:
        return self._closed
