"""Keep the wall's screen from blanking: org.freedesktop.ScreenSaver
Inhibit(app, reason) over the D-Bus session bus, UnInhibit(cookie) on exit.
Where there is no bus or no such service, one log line says so and the wall
runs on (the OS's blanking settings then decide)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

SERVICE = "org.freedesktop.ScreenSaver"
PATH = "/org/freedesktop/ScreenSaver"
APP_NAME = "opsconsole"
REASON = "wall display: always on"


def _session_interface() -> tuple[Any | None, str]:
    """The ScreenSaver interface on the session bus, or None and why not."""
    from PySide6.QtDBus import QDBusConnection, QDBusInterface

    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return None, f"no D-Bus session bus ({bus.lastError().message() or 'not connected'})"
    iface = QDBusInterface(SERVICE, PATH, SERVICE, bus)
    if not iface.isValid():
        return None, f"no {SERVICE} service ({iface.lastError().message() or 'not found'})"
    return iface, ""


class ScreenSaverInhibitor:
    def __init__(self, interface: Callable[[], tuple[Any | None, str]] = _session_interface):
        self._interface = interface
        self._iface: Any = None
        self.cookie: int | None = None
        self.fallback: str | None = None  # why blanking is not inhibited

    def inhibit(self) -> bool:
        if self.cookie is not None:
            return True
        iface, why = self._interface()
        if iface is not None:
            reply = iface.call("Inhibit", APP_NAME, REASON)
            args = reply.arguments() if hasattr(reply, "arguments") else []
            if args and isinstance(args[0], int):
                self._iface, self.cookie = iface, int(args[0])
                log.info("screen blanking inhibited over D-Bus (cookie %d)", self.cookie)
                return True
            why = f"{SERVICE}.Inhibit failed ({getattr(reply, 'errorMessage', lambda: '')()})"
        self.fallback = why
        log.warning("screen blanking NOT inhibited: %s; set the OS to never blank this "
                    "display (e.g. xset s off -dpms, or the desktop's power settings)", why)
        return False

    def release(self) -> None:
        if self._iface is not None and self.cookie is not None:
            self._iface.call("UnInhibit", self.cookie)
            log.info("screen blanking inhibition released (cookie %d)", self.cookie)
        self._iface, self.cookie = None, None
