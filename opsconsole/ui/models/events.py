"""The event log (newest first, capped) and the list of active alarms."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from opsconsole.core.alarms import AlarmTracker, Event, EventKind
from opsconsole.ui import units
from opsconsole.ui.models.devices import DEVICE_ID_ROLE
from opsconsole.ui.theme import Theme

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()  # the invisible root: a flat table has no children
MAX_EVENTS = 5000
ALARM_ROLE = Qt.ItemDataRole.UserRole + 20  # the row's core.alarms.Alarm


def _kind_colors(theme: Theme) -> dict[str, QColor]:
    return {EventKind.UNREACHABLE: QColor(theme.stale), EventKind.FAULT: QColor(theme.bad),
            EventKind.BACK: QColor(theme.ok), EventKind.ALARM: QColor(theme.bad),
            EventKind.CLEARED: QColor(theme.ok)}


class _RowsModel(QAbstractTableModel):
    """A flat table over `self.rows` with fixed `HEADERS`."""

    HEADERS: tuple[str, ...] = ()
    rows: list[Any]

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(self.HEADERS)):
            return self.HEADERS[section]
        return None


class EventLogModel(_RowsModel):
    HEADERS = ("Time", "Device", "Event", "Detail")

    def __init__(self, theme: Theme, parent: Any = None, max_rows: int = MAX_EVENTS):
        super().__init__(parent)
        self.rows: list[Event] = []  # newest first
        self.max_rows = max_rows
        self._colors = _kind_colors(theme)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        ev = self.rows[index.row()]
        c = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return (units.clock(ev.ts), ev.device, ev.kind.value, ev.message)[c]
        if role == Qt.ItemDataRole.ForegroundRole and c == 2:
            return self._colors.get(ev.kind)
        if role == DEVICE_ID_ROLE:
            return ev.device
        return None

    def add(self, events: list[Event]) -> None:
        if not events:
            return
        new = sorted(events, key=lambda e: e.ts, reverse=True)
        self.beginInsertRows(QModelIndex(), 0, len(new) - 1)
        self.rows[:0] = new
        self.endInsertRows()
        if len(self.rows) > self.max_rows:
            self.beginRemoveRows(QModelIndex(), self.max_rows, len(self.rows) - 1)
            del self.rows[self.max_rows:]
            self.endRemoveRows()


class AlarmsModel(_RowsModel):
    """Active alarms, most recent first; rebuilt when the set changes (it is
    small: alarms are the exception)."""

    HEADERS = ("Device", "Alarm", "Since", "Detail", "State", "Acknowledged")

    def __init__(self, tracker: AlarmTracker, theme: Theme, parent: Any = None):
        super().__init__(parent)
        self.tracker = tracker
        self.rows = []
        self._bad = QColor(theme.bad)
        self._stale = QColor(theme.stale)
        self.refresh()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        a = self.rows[index.row()]
        c = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if c == 2:
                return f"{units.clock(a.since)} ({units.duration(time.time() - a.since)})"
            if c == 5:  # who acknowledged, when, and why
                if a.acked_by is None:
                    return ""
                return (f"{a.acked_by} at {units.clock(a.acked_at)}"
                        + (f": {a.comment}" if a.comment else ""))
            return (a.device, a.kind.value, "", a.message, a.state)[c]
        if role == Qt.ItemDataRole.ForegroundRole and c == 1:
            return self._stale if a.kind.value == "unreachable" else self._bad
        if role == DEVICE_ID_ROLE:
            return a.device
        if role == ALARM_ROLE:
            return a
        return None

    def refresh(self) -> None:
        self.beginResetModel()
        self.rows = sorted(self.tracker.alarms(), key=lambda a: (-a.since, a.device))
        self.endResetModel()
