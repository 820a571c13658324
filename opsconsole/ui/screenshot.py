"""`--screenshot PNG [--screenshot-after S]`: render a window once it shows
data (or after a fixed delay), write the PNG, and quit with an exit code.
Shared by the console and the wall; each says how it captures."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer, SignalInstance
from PySide6.QtWidgets import QApplication, QWidget

EXIT_OK, EXIT_FAIL = 0, 1
GIVE_UP_S = 90.0  # no data by then: take what there is, exit 1


class ScreenshotJob:
    settle_ms = 2500  # after the first data: let a full pass land and paint

    def __init__(self, app: QApplication, win: QWidget, path: Path, after_s: float | None,
                 first_data: SignalInstance, failed: SignalInstance | None = None):
        self.app, self.win, self.path = app, win, path
        self.code = EXIT_OK
        self.done = False
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

    def capture(self, code: int) -> tuple[bool, int]:
        """Write the PNG(s); whether it worked, and the exit code to use."""
        self.app.processEvents()
        return self.win.grab().save(str(self.path), "PNG"), code

    def shoot(self, code: int = EXIT_OK) -> None:
        if self.done:
            return
        if code == EXIT_OK and self.busy():
            QTimer.singleShot(200, self.shoot)
            return
        self.done = True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ok, code = self.capture(code)
        if not ok:
            print(f"opsconsole: could not write {self.path}", file=sys.stderr)
            code = EXIT_FAIL
        elif code != EXIT_OK:
            print("opsconsole: no data arrived; the screenshot shows what there was",
                  file=sys.stderr)
        self.code = code
        self.win.close()
        self.app.exit(code)
