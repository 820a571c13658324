"""`opsconsole --wall [--config FILE | --demo] [--screenshot PNG]`: the wall
window full screen, the kiosk habits (idle cursor hidden, screen blanking
inhibited), and the screenshot mode.

A wall screenshot writes PNG showing the first page, and beside it one PNG
per other page (`<stem>-<page>.png`), so every page can be looked at."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from opsconsole.ui import theme as themes
from opsconsole.ui.wall.cursor import IdleCursorHider
from opsconsole.ui.wall.screensaver import ScreenSaverInhibitor
from opsconsole.ui.wall.window import WallWindow

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
SETTLE_MS = 3000  # after the first data: a full pass lands and paints
GIVE_UP_S = 90.0


class WallScreenshot:
    def __init__(self, app: QApplication, win: WallWindow, path: Path, after_s: float | None):
        self.app, self.win, self.path = app, win, path
        self.code = EXIT_OK
        self.done = False
        if after_s is not None:
            QTimer.singleShot(int(after_s * 1000), self.shoot)
        else:
            win.first_data.connect(lambda: QTimer.singleShot(SETTLE_MS, self.shoot))
            QTimer.singleShot(int(GIVE_UP_S * 1000), lambda: self.shoot(EXIT_FAIL))

    def shoot(self, code: int = EXIT_OK) -> None:
        if self.done:
            return
        self.done = True
        win = self.win
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ok = True
        if win.rotator is not None:
            win.rotator.set_pinned(True)
            for k, name in enumerate(win.page_names):
                win.rotator.show(k)
                win.header.pin.set_text("")  # pinned only to hold still for the shot
                self.app.processEvents()
                target = self.path if k == 0 else self.path.with_name(
                    f"{self.path.stem}-{name}{self.path.suffix}")
                ok &= win.grab().save(str(target), "PNG")
            win.rotator.show(0)
        else:
            self.app.processEvents()
            ok = win.grab().save(str(self.path), "PNG")
            code = EXIT_FAIL if code == EXIT_OK and win.session is None else code
        if not ok:
            print(f"opsconsole: could not write {self.path}", file=sys.stderr)
            code = EXIT_FAIL
        elif code != EXIT_OK:
            print("opsconsole: no data arrived; the screenshot shows what there was",
                  file=sys.stderr)
        self.code = code
        win.close()
        self.app.exit(code)


def run_wall(args: argparse.Namespace, app: QApplication) -> int:
    config: Path | None = getattr(args, "config", None)
    demo = bool(getattr(args, "demo", False))
    shot: Path | None = getattr(args, "screenshot", None)
    if config is None and not demo:
        print("opsconsole: --wall needs --config FILE or --demo", file=sys.stderr)
        return EXIT_USAGE
    if config is not None and not demo:
        from opsconsole.core.errors import ConfigError
        from opsconsole.ui.main_window import load_site_file

        try:  # a wall that cannot start says why at once (later losses it rides out)
            load_site_file(config)
        except ConfigError as exc:
            for line in exc.errors:
                print(line, file=sys.stderr)
            return EXIT_USAGE
        except OSError as exc:
            print(f"{config}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    if not logging.getLogger().handlers:  # a wall runs unattended: its log is its record
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    themes.apply(app, themes.DARK)
    win = WallWindow(data_dir=getattr(args, "data_dir", None))
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
    if demo:
        win.open_demo()
    else:
        assert config is not None
        win.open_file(config)
    win.showFullScreen()
    try:
        code = app.exec()
    finally:
        inhibitor.release()
        cursor.stop()
        win.close_site()
    return screenshot.code if screenshot is not None else int(code)
