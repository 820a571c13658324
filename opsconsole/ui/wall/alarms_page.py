"""Page "alarms": the active alarms, worst first, as many rows as fit and a
"+N more" line. The rows are a fixed pool of labels filled in place."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QGridLayout, QVBoxLayout, QWidget

from opsconsole.core.alarms import Alarm, AlarmKind
from opsconsole.ui import units
from opsconsole.ui.session import STATUS_CODES, SiteSession
from opsconsole.ui.theme import Theme
from opsconsole.ui.wall.scale import WallScale
from opsconsole.ui.wall.widgets import WallLabel

MAX_ROWS = 30
_ORDER = {AlarmKind.TEMP: 0, AlarmKind.UNREACHABLE: 1, AlarmKind.GROUP_POWER: 2,
          AlarmKind.RULE: 3, AlarmKind.HASHRATE: 4}
_KIND_TEXT = {AlarmKind.TEMP: "HOT", AlarmKind.UNREACHABLE: "DOWN",
              AlarmKind.HASHRATE: "SLOW", AlarmKind.GROUP_POWER: "POWER",
              AlarmKind.RULE: "RULE"}


def ordered(alarms: list[Alarm]) -> list[Alarm]:
    """Unacknowledged before acknowledged, critical first, then the worst
    kind, then the longest-standing."""
    return sorted(alarms, key=lambda a: (getattr(a, "state", "raised") != "raised",
                                         getattr(a, "severity", "warning") != "critical",
                                         _ORDER.get(a.kind, 9), a.since, a.device))


class AlarmsPage(QWidget):
    title = "Active alarms"

    def __init__(self, session: SiteSession, theme: Theme,
                 clock: Callable[[], float] = time.time, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.theme = theme
        self.clock = clock
        self.scale = WallScale.for_height(1080)
        lay = QVBoxLayout(self)
        self._lay = lay
        self.summary = WallLabel("", "wallValue")
        lay.addWidget(self.summary)
        self.detail = WallLabel("", "wallDetail")
        lay.addWidget(self.detail)
        self.grid = QGridLayout()
        self.rows: list[tuple[WallLabel, WallLabel, WallLabel, WallLabel]] = []
        for r in range(MAX_ROWS):
            row = (WallLabel("", "wallAlarmKind"), WallLabel("", "wallAlarmStrong"),
                   WallLabel("", "wallAlarm"), WallLabel("", "wallAlarmMuted"))
            for c, w in enumerate(row):
                self.grid.addWidget(w, r, c)
                w.hide()
            self.rows.append(row)
        self.grid.setColumnStretch(2, 1)
        lay.addLayout(self.grid)
        self.more = WallLabel("", "wallDetail")
        lay.addWidget(self.more)
        lay.addStretch(1)
        self.shown = 0

    def apply_scale(self, s: WallScale) -> None:
        self.scale = s
        m = s.px(0.8)
        self._lay.setContentsMargins(m, m // 2, m, m // 2)
        self._lay.setSpacing(s.px(0.6))
        self.grid.setHorizontalSpacing(s.px(1.2))
        self.grid.setVerticalSpacing(s.px(0.35))

    def _fits(self) -> int:
        row_h = self.scale.px(1.5) * 1.4 + self.scale.px(0.35)
        free = self.height() - self.scale.value * 1.4 - self.scale.body * 2.5 - self.scale.px(2)
        return max(1, min(MAX_ROWS, int(free // row_h)))

    def resizeEvent(self, ev: Any) -> None:
        super().resizeEvent(ev)
        self.refresh()  # how many rows fit depends on the height

    def refresh(self) -> None:
        s = self.session
        t = self.theme
        alarms = ordered(s.alarms.alarms())
        n = len(alarms)
        if n:
            devices = len({a.device for a in alarms})
            self.summary.set_text(f"{n} active alarm{'s' * (n != 1)} on {devices} "
                                  f"device{'s' * (devices != 1)}")
            self.summary.set_colour(t.bad)
        else:
            self.summary.set_text("No active alarms")
            self.summary.set_colour(t.ok)
        th = s.alarms.thresholds
        down = int((s.status_code >= STATUS_CODES["unreachable"]).sum())
        self.detail.set_text(
            f"{down} device{'s' * (down != 1)} not answering · alarm when miners > "
            f"{th.miner_temp_c:.0f} °C, GPUs > {th.gpu_temp_c:.0f} °C, hashrate < "
            f"{th.hashrate_min_pct:.0f} % of nominal, silent > "
            f"{th.unreachable_intervals:g} polls")
        now = self.clock()
        group_of = {d.id: d.group for d in s.devices} if n else {}
        fit = min(n, self._fits())
        for k, (kind, dev, msg, since) in enumerate(self.rows):
            if k < fit:
                a = alarms[k]
                kind.set_text(_KIND_TEXT.get(a.kind, a.kind.value.upper()))
                acked = getattr(a, "acked_by", None)
                hot = a.kind is AlarmKind.TEMP or getattr(a, "severity", "") == "critical"
                kind.set_colour(t.muted if acked else t.bad if hot else t.warn)
                where = "group" if getattr(a, "scope", "device") == "group" else \
                    group_of.get(a.device, "?")
                dev.set_text(f"{a.device}  ({where})")
                # who took it on: the room sees an alarm is being handled
                msg.set_text(f"{a.message} · ack {acked}" if acked else a.message)
                age = now - a.since
                since.set_text(f"for {units.duration(age)}" if age >= 1 else "just now")
            for w in (kind, dev, msg, since):
                w.setVisible(k < fit)
        self.shown = fit
        self.more.set_text(f"+ {n - fit} more" if n > fit else "")
