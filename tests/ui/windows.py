"""The console's main window as the UI tests open it: sized, shown and handed
to qtbot; on the demo, once its first data has come."""

from __future__ import annotations

from typing import Any

from opsconsole.ui.main_window import MainWindow
from opsconsole.ui.settings import Settings


def shown_window(qtbot: Any, settings: Settings, size: tuple[int, int] = (1280, 800),
                 **kw: Any) -> MainWindow:
    """A MainWindow (`kw`: its factories, data dir, read-only...), shown."""
    win = MainWindow(settings, **kw)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    return win


def open_demo(qtbot: Any, win: MainWindow) -> MainWindow:
    """`win` on the demo site, once its first readings are in."""
    with qtbot.waitSignal(win.first_data, timeout=30000):
        assert win.open_demo()
    return win
