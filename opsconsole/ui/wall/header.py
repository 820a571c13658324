"""The always-visible strip: site name, page indicator (with PINNED),
the time of the newest reading, and the clock."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QVBoxLayout, QWidget

from opsconsole.ui import units
from opsconsole.ui.wall.freshness import Freshness
from opsconsole.ui.wall.scale import WallScale
from opsconsole.ui.wall.widgets import WallLabel


class WallHeader(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("wallHeader")
        lay = QHBoxLayout(self)
        self._lay = lay
        self.site = WallLabel("opsconsole", "wallTitle")
        lay.addWidget(self.site)
        self.pages_box = QHBoxLayout()
        self.page_labels: list[WallLabel] = []
        self.pin = WallLabel("", "wallPillText")
        lay.addStretch(1)
        lay.addLayout(self.pages_box)
        lay.addWidget(self.pin)
        lay.addStretch(1)
        data = QVBoxLayout()
        data.setSpacing(0)
        self.data_caption = WallLabel("NEWEST READING", "wallCaption")
        self.data_time = WallLabel(units.NA, "wallRowStrong")
        for w in (self.data_caption, self.data_time):
            w.setAlignment(Qt.AlignmentFlag.AlignRight)
            data.addWidget(w)
        lay.addLayout(data)
        self.clock = WallLabel("--:--:--", "wallClock")
        lay.addWidget(self.clock)

    def apply_scale(self, s: WallScale) -> None:
        m = s.px(0.8)
        self._lay.setContentsMargins(m, s.px(0.3), m, s.px(0.3))
        self._lay.setSpacing(s.px(1.2))
        self.pages_box.setSpacing(s.px(0.3))

    def set_pages(self, titles: list[str]) -> None:
        for w in self.page_labels:
            self.pages_box.removeWidget(w)
            w.deleteLater()
        self.page_labels = [WallLabel(f"{k + 1}  {t}", "wallPage") for k, t in enumerate(titles)]
        for w in self.page_labels:
            self.pages_box.addWidget(w)

    def show_page(self, index: int, pinned: bool) -> None:
        for k, w in enumerate(self.page_labels):
            role = "wallPageOn" if k == index else "wallPage"
            if w.objectName() != role:
                w.setObjectName(role)
                w.style().unpolish(w)
                w.style().polish(w)
        self.pin.set_text("PINNED" if pinned else "")

    def show_time(self, now: float, fresh: Freshness, warn: str, ok: str) -> None:
        self.clock.set_text(time.strftime("%H:%M:%S", time.localtime(now)))
        if fresh.newest_ts is None:
            self.data_time.set_text("none yet")
            self.data_time.set_colour(warn if fresh.stale else None)
            return
        age = fresh.age_s or 0.0
        ago = "now" if age < 1.5 else f"{units.duration(age)} ago"
        self.data_time.set_text(f"{units.clock(fresh.newest_ts)} · {ago}")
        self.data_time.set_colour(warn if fresh.stale else ok)
