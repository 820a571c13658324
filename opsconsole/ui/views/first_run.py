"""The first-run page (no site file given and none remembered), and the page
shown while a site starts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class FirstRunPage(QWidget):
    demo_requested = Signal()
    open_requested = Signal()
    recent_requested = Signal(object)  # Path

    def __init__(self, recent: Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.addStretch(2)
        box = QVBoxLayout()
        box.setSpacing(14)
        title = QLabel("<span style='font-size:24pt; font-weight:600'>opsconsole</span>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel("Watch a hybrid site: ASIC miners and PDUs over SNMP, GPUs over NVML, "
                      "one power budget.<br>Start with the built-in simulated site, or open "
                      "your site file (TOML).")
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setWordWrap(True)
        text.setObjectName("muted")
        box.addWidget(title)
        box.addWidget(text)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.demo_button = QPushButton("Open the demo site")
        self.demo_button.setDefault(True)
        self.demo_button.clicked.connect(self.demo_requested)
        self.open_button = QPushButton("Open a site file…")
        self.open_button.clicked.connect(self.open_requested)
        for b in (self.demo_button, self.open_button):
            b.setMinimumSize(190, 38)
            buttons.addWidget(b)
        buttons.addStretch(1)
        box.addLayout(buttons)
        self.recent_button: QPushButton | None = None
        if recent is not None:
            self.recent_button = QPushButton(f"Reopen {recent}")
            self.recent_button.setFlat(True)
            self.recent_button.clicked.connect(lambda: self.recent_requested.emit(recent))
            box.addWidget(self.recent_button, 0, Qt.AlignmentFlag.AlignCenter)
        outer.addLayout(box)
        outer.addStretch(3)


class StartingPage(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        self.label = QLabel("Starting…")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setObjectName("muted")
        lay.addWidget(self.label)

    def set_text(self, text: str) -> None:
        self.label.setText(text)
