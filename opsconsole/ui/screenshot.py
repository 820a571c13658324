"""`--screenshot PNG [--screenshot-after S]`: render a window once it shows
data (or after a fixed delay), write the PNG, and quit with an exit code.
Shared by the console and the wall; each says how it captures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QTimer, SignalInstance
from PySide6.QtWidgets import QApplication, QWidget

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
GIVE_UP_S = 90.0  # no data by then: take what there is, exit 1


def unwritable(path: Path) -> str | None:
    """Why a PNG cannot be written at `path` (one line naming it), or None.
    Checked before anything starts, so a bad path fails at once (exit 2)
    instead of after the first data. Writing is tried for real: as root,
    permission bits say nothing, and a read-only mount only shows on open."""
    if path.is_dir():
        return f"{path}: is a directory, not a PNG file"
    parent = path.parent
    if not parent.exists():
        return f"{path}: folder {parent} does not exist"
    if not parent.is_dir():
        return f"{path}: {parent} is not a folder"
    existed = path.exists()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.close(fd)
    except OSError as exc:
        return f"{path}: cannot be written ({exc.strerror or exc})"
    if not existed:
        path.unlink(missing_ok=True)
    return None


class ScreenshotJob:
    settle_ms = 2500  # after the first data: let a full pass land and paint

    def __init__(self, app: QApplication, win: QWidget, path: Path, after_s: float | None,
                 first_data: SignalInstance, failed: SignalInstance | None = None):
        self.app, self.win, self.path = app, win, path
        self.code = EXIT_OK
        self.done = False
        self.problem = ""  # why a PNG was not written, one line
        self.unrendered = False  # the window, not the path, was the problem
        if after_s is not None:
            QTimer.singleShot(int(after_s * 1000), self.shoot)
        else:
            first_data.connect(lambda: QTimer.singleShot(self.settle_ms, self.shoot))
            if failed is not None:
                failed.connect(lambda _e: self.shoot(EXIT_FAIL))
            QTimer.singleShot(int(GIVE_UP_S * 1000), lambda: self.shoot(EXIT_FAIL))

    def busy(self) -> bool:
        """Still taking in data: try again shortly."""
        return False

    def save(self, target: Path) -> bool:
        """The window to `target`; on failure `problem` says which part failed."""
        pix = self.win.grab()
        if pix.isNull():  # e.g. a window grown past what a pixmap may hold
            self.problem = (f"opsconsole: the window ({self.win.width()}x{self.win.height()}) "
                            "could not be rendered")
            self.unrendered = True
            return False
        if not pix.save(str(target), "PNG"):
            self.problem = f"{target}: could not be written"
            return False
        return True

    def capture(self, code: int) -> tuple[bool, int]:
        """Write the PNG(s); whether it worked, and the exit code to use."""
        self.app.processEvents()
        return self.save(self.path), code

    def shoot(self, code: int = EXIT_OK) -> None:
        if self.done:
            return
        if code == EXIT_OK and self.busy():
            QTimer.singleShot(200, self.shoot)
            return
        self.done = True
        ok, code = self.capture(code)
        if not ok:  # the path was checked at start (unwritable): it went away since
            print(self.problem or f"{self.path}: could not be written", file=sys.stderr)
            code = EXIT_FAIL if self.unrendered else EXIT_USAGE
        elif code == EXIT_FAIL:
            print("opsconsole: no data arrived; the screenshot shows what there was",
                  file=sys.stderr)
        self.code = code
        self.win.close()
        self.app.exit(code)
