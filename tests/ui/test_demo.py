"""`--demo`: the window on the built-in simulated site (real SNMP agents on
loopback, simulated GPUs), end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.ui.conftest import collector_threads
from tests.ui.windows import open_demo, shown_window


def test_demo_shows_live_numbers(qtbot, settings):
    win = open_demo(qtbot, shown_window(qtbot, settings))
    qtbot.waitUntil(lambda: not win.session._queue, timeout=5000)
    win.console.refresh()
    header = win.console.header
    assert header.hashrate.value.text().endswith(("TH/s", "PH/s", "EH/s"))
    ok, total = (int(v) for v in header.devices.value.text().split(" / "))
    assert total >= 120 and ok > 0
    assert win.console.gpus.cards, "the demo has GPUs"
    assert any(t.name == "collector" for t in __import__("threading").enumerate())
    win.close()
    assert collector_threads() == []


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["default", "--in-process"])
def test_demo_screenshot_cli(tmp_path, mode):
    """The default draws from a site service child; --in-process polls itself."""
    png = tmp_path / "demo.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    env.pop("OPSCONSOLE_EMBEDDED", None)
    env.pop("OPSCONSOLE_IN_PROCESS", None)
    extra = [] if mode == "default" else [mode]
    proc = subprocess.run([sys.executable, "-m", "opsconsole", "--demo", *extra,
                           "--screenshot", str(png)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # the child's first line, relayed on the window's stderr
    assert ("opsconsole serve: site 'Simulated site'" in proc.stderr) == (mode == "default")
    assert png.stat().st_size > 50_000
    from PySide6.QtGui import QImage

    img = QImage(str(png))
    assert (img.width(), img.height()) == (1920, 1080)


def test_invalid_config_screenshot_exits_2(tmp_path):
    bad = tmp_path / "site.toml"
    bad.write_text('[site]\nname = "Bad"\npoll_interval_s = -5\n')
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(bad),
                           "--screenshot", str(tmp_path / "x.png")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "poll_interval_s" in proc.stderr and "Traceback" not in proc.stderr
