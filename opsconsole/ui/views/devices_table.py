"""The devices table panel: search box, column chooser, the table."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from opsconsole.ui.models.devices import (
    COLUMN_KEYS,
    COLUMNS,
    DEFAULT_COLUMNS,
    DEVICE_ID_ROLE,
    DevicesModel,
    DevicesProxy,
)
from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import Theme
from opsconsole.ui.views.title_bar import title_bar

KIND_TITLES = {"": "General", "miner": "Miners", "gpu": "GPUs", "pdu": "PDUs",
               "inference": "Inference servers"}


class DevicesPanel(QWidget):
    device_activated = Signal(str)

    def __init__(self, session: SiteSession, theme: Theme, columns: list[str],
                 on_columns_changed: Callable[[list[str]], None] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.model = DevicesModel(session, theme, self)
        self.proxy = DevicesProxy(self.model, self)
        self._on_columns_changed = on_columns_changed
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        bar = title_bar("DEVICES")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search id, address, group, profile…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search)
        bar.addWidget(self.search, 1)
        self.count = QLabel()
        self.count.setObjectName("muted")
        bar.addWidget(self.count)
        self.columns_button = QToolButton()
        self.columns_button.setText("Columns")
        self.columns_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.columns_menu = QMenu(self.columns_button)
        self.columns_button.setMenu(self.columns_menu)
        bar.addWidget(self.columns_button)
        lay.addLayout(bar)

        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.setShowGrid(False)
        vh = self.view.verticalHeader()
        vh.hide()
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(self.fontMetrics().height() + 6)
        hh = self.view.horizontalHeader()
        hh.setSectionsMovable(True)
        hh.setStretchLastSection(True)
        hh.setHighlightSections(False)
        # Fixed widths: ResizeToContents would measure every row on each update.
        widths = {"id": 110, "group": 80, "kind": 54, "status": 84, "alarm": 120,
                  "address": 140, "error": 200, "throttle_reasons": 140}
        for c, col in enumerate(COLUMNS):
            hh.resizeSection(c, widths.get(col.key, max(64, self.fontMetrics()
                                                        .horizontalAdvance(col.label) + 22)))
        self.view.doubleClicked.connect(self._on_double_click)
        self.view.activated.connect(self._on_double_click)
        lay.addWidget(self.view, 1)
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)
        self._build_columns_menu()
        self.set_columns(columns)
        self._update_count()

    # -- columns ------------------------------------------------------------------
    def _build_columns_menu(self) -> None:
        self._actions: dict[str, QAction] = {}
        by_kind: dict[str, list[int]] = {}
        for c, col in enumerate(COLUMNS):
            kind = col.kinds[0] if len(col.kinds) == 1 else ""
            by_kind.setdefault(kind, []).append(c)
        for kind in KIND_TITLES:
            if kind not in by_kind:
                continue
            self.columns_menu.addSection(KIND_TITLES[kind])
            for c in by_kind[kind]:
                act = QAction(COLUMNS[c].label, self.columns_menu)
                act.setCheckable(True)
                act.toggled.connect(self._on_column_toggled)
                self.columns_menu.addAction(act)
                self._actions[COLUMNS[c].key] = act
        self.columns_menu.addSeparator()
        reset = self.columns_menu.addAction("Default columns")
        reset.triggered.connect(lambda: self.set_columns(DEFAULT_COLUMNS, notify=True))

    def visible_columns(self) -> list[str]:
        hh = self.view.horizontalHeader()
        shown = [(hh.visualIndex(c), COLUMNS[c].key) for c in range(len(COLUMNS))
                 if not hh.isSectionHidden(c)]
        return [k for _, k in sorted(shown)]

    def set_columns(self, keys: list[str], notify: bool = False) -> None:
        keys = [k for k in keys if k in COLUMN_KEYS] or list(DEFAULT_COLUMNS)
        hh = self.view.horizontalHeader()
        for c, col in enumerate(COLUMNS):
            hh.setSectionHidden(c, col.key not in keys)
            act = self._actions[col.key]
            act.blockSignals(True)
            act.setChecked(col.key in keys)
            act.blockSignals(False)
        for pos, key in enumerate(keys):  # the remembered order
            hh.moveSection(hh.visualIndex(COLUMN_KEYS.index(key)), pos)
        if notify and self._on_columns_changed:
            self._on_columns_changed(self.visible_columns())

    def _on_column_toggled(self, _on: bool) -> None:
        keys = [k for k in COLUMN_KEYS if self._actions[k].isChecked()]
        order = [k for k in self.visible_columns() if k in keys]
        self.set_columns(order + [k for k in keys if k not in order], notify=True)

    # -- filtering ------------------------------------------------------------------
    def _on_search(self, text: str) -> None:
        self.proxy.set_search(text)
        self._update_count()

    def set_group(self, group: str | None) -> None:
        self.proxy.set_group(group)
        self._update_count()

    def _update_count(self, *_: object) -> None:
        self.count.setText(f"{self.proxy.rowCount()} of {self.model.rowCount()}")

    def _on_double_click(self, index: QModelIndex) -> None:
        dev = index.data(DEVICE_ID_ROLE)
        if dev:
            self.device_activated.emit(str(dev))

    def select_device(self, device_id: str) -> None:
        i = self.session.store.index.get(device_id)
        if i is None:
            return
        src = self.model.index(self.model.row_of(i), 0)
        idx = self.proxy.mapFromSource(src)
        if idx.isValid():
            self.view.selectRow(idx.row())
            self.view.scrollTo(idx)
