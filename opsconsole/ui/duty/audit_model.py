"""The audit log as a table: one row per switch (newest first), and a filter
proxy by group, outcome and free text."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor

from opsconsole.ui.duty.audit_records import local_time, step_summary, tidy
from opsconsole.ui.theme import Theme

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()
RECORD_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Time", "User", "Host", "Group", "Kind", "From", "To", "Outcome", "Steps / devices",
           "Message")
OUTCOMES = ("done", "degraded", "refused", "interrupted", "running")


class AuditModel(QAbstractTableModel):
    def __init__(self, theme: Theme, parent: Any = None):
        super().__init__(parent)
        self.records: list[dict[str, Any]] = []  # newest first
        self._rows: list[tuple[str, ...]] = []
        self._colors = {"done": QColor(theme.ok), "degraded": QColor(theme.warn),
                        "refused": QColor(theme.bad), "interrupted": QColor(theme.bad),
                        "running": theme.duty_color("switching")}

    def set_records(self, records: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self.records = list(reversed(records))
        self._rows = [(local_time(r.get("time")), r.get("user") or "", r.get("host") or "",
                       r.get("group") or "", r.get("kind") or "", r.get("from") or "",
                       r.get("to") or "", r.get("outcome") or "", step_summary(r),
                       tidy(r.get("message"))) for r in self.records]
        self.endResetModel()

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.records):
            return None
        row, c = self._rows[index.row()], index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return row[c]
        if role == Qt.ItemDataRole.ForegroundRole and c == COLUMNS.index("Outcome"):
            return self._colors.get(row[c])
        if role == RECORD_ROLE:
            return self.records[index.row()]
        return None

    def text_of(self, row: int) -> str:
        """Everything a text filter may match in one row."""
        return " ".join(self._rows[row]).lower()


class AuditFilter(QSortFilterProxyModel):
    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.group: str | None = None
        self.outcome: str | None = None
        self.text = ""

    def set_filters(self, group: str | None = None, outcome: str | None = None,
                    text: str = "") -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9: invalidateFilter is deprecated
            self.beginFilterChange()
            self.group, self.outcome, self.text = group, outcome, text.strip().lower()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.group, self.outcome, self.text = group, outcome, text.strip().lower()
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        if not isinstance(model, AuditModel):
            return True
        rec = model.records[source_row]
        if self.group and rec.get("group") != self.group:
            return False
        if self.outcome and rec.get("outcome") != self.outcome:
            return False
        return not self.text or self.text in model.text_of(source_row)

    def visible_records(self) -> list[dict[str, Any]]:
        """The records the filters let through, in the order shown."""
        return [self.index(r, 0).data(RECORD_ROLE) for r in range(self.rowCount())]
