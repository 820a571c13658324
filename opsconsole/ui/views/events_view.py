"""Tables for the event log and the active alarms."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from opsconsole.ui.models.devices import DEVICE_ID_ROLE


class DeviceListView(QTableView):
    """A read-only table whose rows name a device; activating one opens it."""

    device_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        hh = self.horizontalHeader()
        hh.setStretchLastSection(True)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.doubleClicked.connect(self._activated)

    def set_widths(self, widths: list[int]) -> None:
        for c, w in enumerate(widths):
            self.setColumnWidth(c, w)

    def _activated(self, index: QModelIndex) -> None:
        dev = index.data(DEVICE_ID_ROLE)
        if dev:
            self.device_activated.emit(str(dev))
