"""`opsconsole --wall --demo --screenshot` on virtual screens of 1920x1080
and 3840x2160 (offscreen platform with a configfile), and type that scales
with the screen rather than staying at desk size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

from opsconsole.ui.wall.window import WallWindow
from tests.ui.wall_support import RuntimeLog

PAGES = ("rackmap", "charts", "alarms")


def screen_file(tmp_path: Path, w: int, h: int) -> Path:
    path = tmp_path / f"screen-{w}x{h}.json"
    path.write_text(json.dumps({"screens": [{"name": "wall", "x": 0, "y": 0, "width": w,
                                             "height": h, "logicalDpi": 96, "logicalBpi": 96,
                                             "dpr": 1}]}))
    return path


def wall_screenshot(tmp_path: Path, w: int, h: int, after_s: float | None = None) -> Path:
    png = tmp_path / f"wall-{w}x{h}.png"
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={screen_file(tmp_path, w, h)}",
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_DATA_HOME": str(tmp_path / "data")}
    argv = [sys.executable, "-m", "opsconsole", "--wall", "--demo", "--screenshot", str(png)]
    if after_s is not None:
        argv += ["--screenshot-after", str(after_s)]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return png


@pytest.mark.slow
@pytest.mark.parametrize(("w", "h"), [(1920, 1080), (3840, 2160)])
def test_wall_screenshot_fills_the_screen(tmp_path, w, h):
    png = wall_screenshot(tmp_path, w, h)
    shots = [png] + [png.with_name(f"{png.stem}-{p}.png") for p in PAGES]
    for shot in shots:
        img = QImage(str(shot))
        assert (img.width(), img.height()) == (w, h), shot.name
    # not blank: the totals page has text and coloured numbers
    img = QImage(str(png))
    colours = {img.pixel(x, y) for x in range(0, w, 7) for y in range(0, h, 7)}
    assert len(colours) > 50
    # no stale banner under the header (the banner is the theme's "bad" red)
    red = QColor("#ef5350").rgb()
    row = round(h * 0.06)
    assert sum(img.pixel(x, row) == red for x in range(0, w, 4)) < w // 40


def test_type_scales_with_the_screen(qtbot):
    win = WallWindow(runtime_factory=RuntimeLog())
    qtbot.addWidget(win)
    sizes = {}
    for w, h in ((1920, 1080), (3840, 2160)):
        win.resize(w, h)
        win.show()
        qtbot.waitUntil(lambda h=h: win.height() == h, timeout=2000)
        clock = win.header.clock
        clock.ensurePolished()
        sizes[h] = (win.scale.unit, clock.font().pixelSize())
    assert sizes[1080] == (20, 40)
    assert sizes[2160] == (40, 80), "a 4K wall gets twice the pixels, not the same text"
    win.close()
