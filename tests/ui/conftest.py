"""UI test set-up: offscreen Qt, settings in a temporary folder, a guard
that fails any test leaving a collector thread behind, and qtbot waits that
are hang guards, never speed checks."""

from __future__ import annotations

import os
import threading
import time

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings

from opsconsole.ui.settings import Settings

COLLECTOR_THREADS = ("collector", "nvml")
# A wait gives up only after this long: it returns as soon as its condition
# holds, so a loaded machine is slower, never failed (tests state what they
# wait for, not how fast it must come).
HANG_GUARD_MS = 30_000


def collector_threads() -> list[str]:
    return [t.name for t in threading.enumerate()
            if t.is_alive() and t.name.startswith(COLLECTOR_THREADS)]


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    # the demo's duty journal defaults to the user's data dir: never the real one
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    yield


@pytest.fixture
def qtbot(qtbot, monkeypatch):
    """pytest-qt's qtbot, whose raising waits allow at least HANG_GUARD_MS."""

    def guarded(name: str):
        wait = getattr(qtbot, name)

        def call(*args, timeout: int = 5000, **kw):
            if kw.get("raising", True) is not False:
                timeout = max(timeout, HANG_GUARD_MS)
            return wait(*args, timeout=timeout, **kw)

        return call

    for name in ("waitUntil", "waitSignal", "waitSignals", "waitCallback"):
        monkeypatch.setattr(qtbot, name, guarded(name))
    return qtbot


@pytest.fixture(autouse=True)
def _no_dangling_threads():
    yield
    deadline = time.monotonic() + HANG_GUARD_MS / 1000
    while collector_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not collector_threads(), f"threads left running: {collector_threads()}"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(QSettings(str(tmp_path / "opsconsole.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def window(qtbot, settings):
    """The main window on a fake collector (tests/ui/fakes.py), not yet on a site."""
    from tests.ui.fakes import FakeRuntime
    from tests.ui.windows import shown_window

    win = shown_window(qtbot, settings, runtime_factory=FakeRuntime)
    yield win
    win.close()
