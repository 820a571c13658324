"""The wall's full-screen page for a site it cannot show: which file, every
problem the loader found (one line each, as `check-config` prints them), and
that it keeps checking and starts by itself once the file is fixed. A wall
never goes black: across a room this page says what to fix."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from opsconsole.ui import units
from opsconsole.ui.wall.scale import WallScale
from opsconsole.ui.wall.widgets import WallLabel

MAX_LINES = 12  # more would not be read from across the room; check-config lists them all
ZWSP = "\u200b"


def breakable(text: str) -> str:
    """Long paths may wrap after a "/" (a label wraps only at spaces)."""
    return text.replace("/", "/" + ZWSP)


class SiteProblemPage(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("wallProblemPage")
        lay = QVBoxLayout(self)
        self._lay = lay
        self.title = WallLabel("", "wallProblemTitle")
        self.file = WallLabel("", "wallTitle")
        self.note = WallLabel("", "wallDetail")
        self.lines = WallLabel("", "wallProblemLines")
        self.status = WallLabel("", "wallRowStrong")
        self.hint = WallLabel("", "wallDetail")
        for w in (self.title, self.file, self.note, self.lines, self.status, self.hint):
            w.setWordWrap(True)
            w.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
            # a long line wraps; it never widens the window past the screen
            w.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            w.setMinimumWidth(1)
        lay.addWidget(self.title)
        lay.addWidget(self.file)
        lay.addWidget(self.note)
        lay.addWidget(self.lines)
        lay.addStretch(1)
        lay.addWidget(self.status)
        lay.addWidget(self.hint)
        self.path: Path | None = None
        self.problems: list[str] = []

    def apply_scale(self, s: WallScale) -> None:
        m = s.px(2.0)
        self._lay.setContentsMargins(m, m, m, m)
        self._lay.setSpacing(s.px(0.8))

    def show_problems(self, path: Path, problems: list[str], note: str = "") -> None:
        self.path, self.problems = path, list(problems)
        n = len(problems)
        self.title.set_text("THE WALL CANNOT SHOW THIS SITE" if n else "READING THE SITE FILE…")
        self.file.set_text(breakable(f"Site file: {path}"))
        self.note.set_text(note)
        self.note.setVisible(bool(note))
        shown = problems[:MAX_LINES]
        text = "\n".join(f"•  {breakable(line)}" for line in shown)
        if n > len(shown):
            text += f"\n…  and {n - len(shown)} more"
        self.lines.set_text(text)
        self.hint.set_text(breakable(f"See every problem with:  opsconsole check-config {path}")
                           if n else "")

    def show_status(self, checked_at: float | None, loading: bool, every_s: float) -> None:
        if loading:
            self.status.set_text("Reading the file now…")
            return
        when = f"last checked {units.clock(checked_at)}" if checked_at else "not checked yet"
        self.status.set_text(f"Checking the file every {every_s:g} s ({when}); the wall "
                             "starts by itself once it is fixed.")
