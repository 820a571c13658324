"""Dialogs: an invalid site file's errors (one line each, never a traceback)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)


class ProblemsDialog(QDialog):
    """A heading and a read-only list of problems, one per line."""

    def __init__(self, title: str, heading: str, lines: list[str],
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("problemsDialog")
        self.setWindowTitle(title)
        self.lines = list(lines)
        lay = QVBoxLayout(self)
        label = QLabel(heading)
        label.setWordWrap(True)
        lay.addWidget(label)
        self.text = QPlainTextEdit("\n".join(self.lines))
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        lay.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.resize(760, 320)


def config_errors_dialog(path: Path | None, errors: list[str],
                         parent: QWidget | None = None) -> ProblemsDialog:
    n = len(errors)
    where = str(path) if path else "The site file"
    heading = (f"<b>{where}</b> is not a valid site file ({n} problem{'s' * (n != 1)}). "
               "Fix it and open it again; nothing was started.")
    return ProblemsDialog("Invalid site file", heading, errors, parent)
