"""`opsconsole --wall [--config FILE | --demo] [--screenshot PNG]`: the wall
window full screen, the kiosk habits (idle cursor hidden, screen blanking
inhibited), and the screenshot mode.

A wall screenshot writes PNG showing the first page, and beside it one PNG
per other page (`<stem>-<page>.png`), so every page can be looked at. A site
file the wall cannot load is no reason to exit: the wall shows the file and
its problems full screen until it is fixed; a screenshot then captures that
page and exits 2 with the problems on stderr, one a line.

Started without --config (the menu entry), the wall watches the kiosk's
site file (core.paths.default_site_file) and says so."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from opsconsole.core.paths import default_site_file
from opsconsole.core.siteload import load_site
from opsconsole.ui import theme as themes
from opsconsole.ui.screenshot import ScreenshotJob
from opsconsole.ui.wall.cursor import IdleCursorHider
from opsconsole.ui.wall.screensaver import ScreenSaverInhibitor
from opsconsole.ui.wall.window import WallWindow

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
PROBLEM_SETTLE_MS = 500  # the problem page lays out before it is captured


class WallScreenshot(ScreenshotJob):
    """Every page of the wall: PNG for the first, PNG-<page> beside it."""

    settle_ms = 3000

    def __init__(self, app: QApplication, win: WallWindow, path: Path, after_s: float | None):
        super().__init__(app, win, path, after_s, win.first_data)
        self.wall = win
        if after_s is None:
            win.site_problems.connect(
                lambda _p: QTimer.singleShot(PROBLEM_SETTLE_MS, lambda: self.shoot(EXIT_USAGE)))

    def capture(self, code: int) -> tuple[bool, int]:
        win = self.wall
        if win.problems:  # the problem page: what the wall shows is what is captured
            for line in win.problems:
                print(line, file=sys.stderr)
            ok, _ = super().capture(code)
            return ok, EXIT_USAGE
        if win.rotator is None:  # the site never opened
            ok, code = super().capture(code)
            return ok, EXIT_FAIL if code == EXIT_OK and win.session is None else code
        ok = True
        win.rotator.set_pinned(True)
        for k, name in enumerate(win.page_names):
            win.rotator.show(k)
            win.header.pin.set_text("")  # pinned only to hold still for the shot
            self.app.processEvents()
            target = self.path if k == 0 else self.path.with_name(
                f"{self.path.stem}-{name}{self.path.suffix}")
            ok &= self.save(target)
        win.rotator.show(0)
        return ok, code


def run_wall(args: argparse.Namespace, app: QApplication,
             connect: tuple[str, str, Path | None] | None = None) -> int:
    """`connect`: (URL, token, CA file) of a site service to draw (a viewer
    token is enough); an empty token: read `--token-file` at each start."""
    config: Path | None = getattr(args, "config", None)
    demo = bool(getattr(args, "demo", False))
    shot: Path | None = getattr(args, "screenshot", None)
    note = ""
    if config is None and not demo and connect is None:
        config = default_site_file()
        note = ("Started without --config: the wall shows this file once it exists and is "
                "valid, or start it with  opsconsole --wall --config FILE")
    if not logging.getLogger().handlers:  # a wall runs unattended: its log is its record
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if shot is not None:  # a one-shot command: its problems go to stderr once, plainly
        logging.getLogger("opsconsole.ui.wall").setLevel(logging.ERROR)
    themes.apply(app, themes.DARK)
    win = WallWindow(data_dir=getattr(args, "data_dir", None))
    from opsconsole.ui.embedded import embedded_requested

    win.embedded = embedded_requested(bool(getattr(args, "in_process", False)))  # as the console's
    signal.signal(signal.SIGINT, lambda *_: win.close())
    keepalive = QTimer()  # lets Python see Ctrl-C between Qt events
    keepalive.start(250)
    keepalive.timeout.connect(lambda: None)
    cursor = IdleCursorHider()
    inhibitor = ScreenSaverInhibitor()
    screenshot = None
    if shot is not None:
        screenshot = WallScreenshot(app, win, shot, getattr(args, "screenshot_after", None))
    else:
        cursor.start()
        inhibitor.inhibit()
    if connect is not None:
        url, token, ca_file = connect
        win.open_remote(url, token, ca_file,
                        token_file=None if token else getattr(args, "token_file", None))
    elif demo:
        win.open_demo()
    else:  # parsed once, off the GUI thread: the first frame never waits for it
        win.open_file(config, note=note, load_site=load_site)
    win.showFullScreen()
    try:
        code = app.exec()
    finally:
        inhibitor.release()
        cursor.stop()
        win.close_site()
    return screenshot.code if screenshot is not None else int(code)
