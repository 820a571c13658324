"""`run_gui(args)`: the GUI entry point behind `opsconsole [--config FILE]`,
`--demo`, `--wall` and `--screenshot PNG [--screenshot-after SECONDS]`."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from opsconsole.core.errors import ConfigError
from opsconsole.core.paths import resources_dir
from opsconsole.ui import theme as themes
from opsconsole.ui.main_window import MainWindow, load_site_file
from opsconsole.ui.screenshot import ScreenshotJob, unwritable
from opsconsole.ui.services import configure as configure_services
from opsconsole.ui.settings import Settings

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
SCREENSHOT_SIZE = (1920, 1080)  # override: OPSCONSOLE_WINDOW_SIZE=1280x800


def _window_size() -> tuple[int, int]:
    raw = os.environ.get("OPSCONSOLE_WINDOW_SIZE", "")
    try:
        w, h = (int(v) for v in raw.lower().split("x"))
        return w, h
    except ValueError:
        return SCREENSHOT_SIZE


def _app() -> QApplication:
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    app = QApplication(sys.argv[:1])
    app.setOrganizationName("opsconsole")
    app.setApplicationName("opsconsole")
    app.setApplicationDisplayName("opsconsole")
    app.setDesktopFileName("opsconsole")  # Wayland matches the window to its .desktop entry
    icon = resources_dir() / "icons" / "opsconsole.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    return app


class Screenshot(ScreenshotJob):
    """The console's shot: after the first data, once it is all taken in."""

    def __init__(self, app: QApplication, win: MainWindow, path: Path, after_s: float | None):
        super().__init__(app, win, path, after_s, win.first_data, win.site_failed)
        self.main = win

    def busy(self) -> bool:
        session = self.main.session
        return session is not None and bool(session._queue)  # a big first pass

    def capture(self, code: int) -> tuple[bool, int]:
        if self.main.console is not None:
            self.main.console.refresh()
            self.main.console.charts.refresh()
        return super().capture(code)


def run_gui(args: argparse.Namespace) -> int:
    config: Path | None = getattr(args, "config", None)
    demo = bool(getattr(args, "demo", False))
    wall = bool(getattr(args, "wall", False))
    shot: Path | None = getattr(args, "screenshot", None)
    shot_after: float | None = getattr(args, "screenshot_after", None)
    read_only = bool(getattr(args, "read_only", False)) or wall
    connect: str | None = getattr(args, "connect", None)
    token = None
    ca_file: Path | None = getattr(args, "ca_file", None)
    if connect is not None:  # a site service: the token first, a bad one is a usage error
        from opsconsole.client import ApiError, read_token
        from opsconsole.client.api import check_url, tls_context

        try:
            connect = check_url(connect)
            tls_context(ca_file)  # a bad --ca-file is a usage error, at once
            # an unattended wall shows a missing token file on screen and reads it
            # again at each retry; the console and commands stop at once
            token_file = getattr(args, "token_file", None)
            token = "" if wall and token_file else read_token(token_file)
        except ApiError as exc:
            print(f"opsconsole: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if config is not None or demo:
            print("opsconsole: --connect draws the service's site: no --config or --demo "
                  "with it", file=sys.stderr)
            return EXIT_USAGE

    problem = unwritable(shot) if shot is not None else None
    if problem is not None:  # at once: not after a site start that may take a minute
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    # In screenshot mode an invalid file is a usage error (exit 2, one line
    # per problem); interactively it is a dialog.
    preloaded = None
    if shot is not None and config is not None and not demo and not wall:
        try:
            preloaded = load_site_file(config)
        except ConfigError as exc:
            for line in exc.errors:
                print(line, file=sys.stderr)
            return EXIT_USAGE

    app = _app()
    if wall:  # its own window: no menus, no controls, no duty GUI (ui/wall)
        from opsconsole.ui.wall.run import run_wall

        return run_wall(args, app, connect=(connect, token, ca_file)
                        if connect and token is not None else None)
    settings = Settings()
    themes.apply(app, themes.get(settings.theme))
    win = MainWindow(settings, read_only=read_only, data_dir=getattr(args, "data_dir", None))
    # A site file or the demo runs in a site service, a child of this process
    # (ui/embedded.py), or another window's for the same site; --in-process or
    # OPSCONSOLE_EMBEDDED=0 polls in this process instead.
    from opsconsole.ui.embedded import embedded_requested

    win.embedded = embedded_requested(bool(getattr(args, "in_process", False)))
    configure_services(win, args)  # --metrics-port
    if shot is not None:
        win.resize(*_window_size())
    else:
        win.resize(win.sizeHint())
        win.restore_geometry()
    # Ctrl-C in the terminal: let Python see the signal between Qt events.
    signal.signal(signal.SIGINT, lambda *_: win.close())
    keepalive = QTimer()
    keepalive.start(250)
    keepalive.timeout.connect(lambda: None)

    if connect is not None and token is not None:
        win.open_remote(connect, token, ca_file)
    elif demo:
        win.open_demo()
    elif preloaded is not None:
        win.open_file(config, preloaded)
    elif config is not None:  # parsed off the GUI thread: the first frame never waits on it
        win.open_file_in_background(config)
    elif settings.last_site is not None and settings.last_site.exists() and shot is None:
        win.open_file_in_background(settings.last_site)
    else:
        win.show_first_run()

    screenshot = Screenshot(app, win, shot, shot_after) if shot is not None else None
    if screenshot is not None and win.bridge is None and shot_after is None:
        QTimer.singleShot(1000, screenshot.shoot)  # nothing to wait for: the first-run page
    if wall:
        win.menuBar().hide()
        win.showFullScreen()
    else:
        win.show()
    code = app.exec()
    win.close_site()
    return screenshot.code if screenshot is not None else int(code)
