"""Kiosk habits: the idle cursor hides and comes back; screen blanking is
inhibited over D-Bus, or a fallback is logged where there is no such service."""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QGuiApplication, QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget

from opsconsole.ui.wall.cursor import IdleCursorHider
from opsconsole.ui.wall.screensaver import ScreenSaverInhibitor


def override_shape() -> Qt.CursorShape | None:
    c = QGuiApplication.overrideCursor()
    return c.shape() if c is not None else None


def test_cursor_hides_when_idle_and_returns_on_movement(qtbot):
    w = QWidget()
    qtbot.addWidget(w)
    w.show()
    hider = IdleCursorHider(idle_s=0.05)
    hider.start()
    try:
        qtbot.waitUntil(lambda: hider.hidden, timeout=2000)
        assert override_shape() == Qt.CursorShape.BlankCursor
        move = QMouseEvent(QEvent.Type.MouseMove, QPointF(5, 5), QPointF(5, 5),
                           Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                           Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(w, move)
        assert not hider.hidden and override_shape() is None
        qtbot.waitUntil(lambda: hider.hidden, timeout=2000)  # idle again: hidden again
    finally:
        hider.stop()
    assert override_shape() is None, "stop() leaves no override cursor behind"


def test_inhibit_falls_back_with_a_log_line_without_a_session_bus(qtbot, caplog, monkeypatch):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    caplog.set_level(logging.INFO, "opsconsole.ui.wall.screensaver")
    inh = ScreenSaverInhibitor()
    assert inh.inhibit() is False
    assert inh.cookie is None and inh.fallback
    assert any("screen blanking NOT inhibited" in r.getMessage() for r in caplog.records)
    inh.release()  # nothing to release: harmless


class FakeReply:
    def __init__(self, args: list) -> None:
        self._args = args

    def arguments(self) -> list:
        return self._args

    def errorMessage(self) -> str:
        return "" if self._args else "org.freedesktop.DBus.Error.ServiceUnknown"


class FakeScreenSaver:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def call(self, method: str, *args: object) -> FakeReply:
        self.calls.append((method, *args))
        return FakeReply([42] if method == "Inhibit" else [])


def test_inhibit_and_release_with_a_screensaver_service():
    svc = FakeScreenSaver()
    inh = ScreenSaverInhibitor(lambda: (svc, ""))
    assert inh.inhibit() and inh.cookie == 42
    assert svc.calls[0][:2] == ("Inhibit", "opsconsole")
    inh.release()
    assert svc.calls[-1] == ("UnInhibit", 42) and inh.cookie is None
