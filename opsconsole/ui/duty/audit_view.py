"""The audit view: every duty switch, run or refused, with filters, the
step and device results of the selected one, and CSV / JSON export."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from opsconsole.core.duty import ProgressEvent
from opsconsole.ui.duty.audit_model import (
    COLUMNS,
    OUTCOMES,
    RECORD_ROLE,
    AuditFilter,
    AuditModel,
)
from opsconsole.ui.duty.audit_records import export_csv, export_json, local_time, tidy
from opsconsole.ui.duty.client import DutyClient
from opsconsole.ui.duty.power_bar import kw
from opsconsole.ui.theme import Theme

STATUS_COLOUR = {"ok": "ok", "partial": "warn", "failed": "bad", "skipped": "muted",
                 "not_run": "muted", "running": "bad"}


class AuditView(QDialog):
    loaded = Signal(int)  # records now in the model

    def __init__(self, client: DutyClient, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.client = client
        self.theme = theme
        self.setWindowTitle("Duty audit log")
        self.setObjectName("auditView")
        self.model = AuditModel(theme, self)
        self.proxy = AuditFilter(self)
        self.proxy.setSourceModel(self.model)

        self.group_box = QComboBox()
        self.group_box.addItem("All groups", None)
        for g in client.controller.site.groups:
            self.group_box.addItem(f"{g.name} ({g.id})", g.id)
        self.outcome_box = QComboBox()
        self.outcome_box.addItem("All outcomes", None)
        for o in OUTCOMES:
            self.outcome_box.addItem(o, o)
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("Filter: user, host, device, message…")
        self.text_edit.setClearButtonEnabled(True)
        self.count_label = QLabel()
        self.count_label.setObjectName("muted")
        refresh = QPushButton("Refresh")
        csv_button = QPushButton("Export CSV…")
        json_button = QPushButton("Export JSON…")
        refresh.clicked.connect(self.refresh)
        csv_button.clicked.connect(lambda: self.choose_export("csv"))
        json_button.clicked.connect(lambda: self.choose_export("json"))
        for w in (self.group_box, self.outcome_box):
            w.currentIndexChanged.connect(lambda _i: self._apply_filters())
        self.text_edit.textChanged.connect(lambda _t: self._apply_filters())

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        hh = self.table.horizontalHeader()
        hh.setStretchLastSection(True)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, w in zip(COLUMNS, (150, 80, 110, 80, 70, 75, 75, 85, 200), strict=False):
            self.table.setColumnWidth(COLUMNS.index(col), w)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)

        self.detail_head = QLabel("Select a switch to see its steps and device results.")
        self.detail_head.setWordWrap(True)
        self.detail_head.setTextFormat(Qt.TextFormat.RichText)
        self.detail_head.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail = QTreeWidget()
        self.detail.setHeaderLabels(["Step / device", "Status", "Detail"])
        self.detail.setAlternatingRowColors(True)
        self.detail.setUniformRowHeights(True)
        self.detail.header().setStretchLastSection(True)
        self.detail.setColumnWidth(0, 420)
        self.detail.setColumnWidth(1, 90)

        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Group"))
        bar.addWidget(self.group_box)
        bar.addWidget(QLabel("Outcome"))
        bar.addWidget(self.outcome_box)
        bar.addWidget(self.text_edit, 1)
        bar.addWidget(self.count_label)
        bar.addWidget(refresh)
        bar.addWidget(csv_button)
        bar.addWidget(json_button)
        lay.addLayout(bar)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.detail_head)
        bl.addWidget(self.detail, 1)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay.addWidget(split, 1)
        self.resize(1400, 800)
        client.progress.connect(self._on_progress)
        self.refresh()

    # -- data -----------------------------------------------------------------------------
    def refresh(self) -> None:
        self.client.call_sync(lambda ctl: ctl.audit(), self._on_records)

    def _on_records(self, records: list[dict[str, Any]] | None, err: BaseException | None) -> None:
        if records is None:
            self.count_label.setText(f"could not read the audit log: {err}")
            return
        selected = self.selected_record()
        self.model.set_records(records)
        self._update_count()
        if selected is not None:
            self.select_id(selected["id"])
        self.loaded.emit(len(records))

    def _on_progress(self, events: list[ProgressEvent]) -> None:
        if any(e.kind == "done" for e in events):
            self.refresh()

    def set_filters(self, group: str | None = None, outcome: str | None = None,
                    text: str = "") -> None:
        self.group_box.setCurrentIndex(max(0, self.group_box.findData(group)))
        self.outcome_box.setCurrentIndex(max(0, self.outcome_box.findData(outcome)))
        self.text_edit.setText(text)
        self._apply_filters()

    def _apply_filters(self) -> None:
        self.proxy.set_filters(self.group_box.currentData(), self.outcome_box.currentData(),
                               self.text_edit.text())
        self._update_count()

    def _update_count(self) -> None:
        self.count_label.setText(f"{self.proxy.rowCount()} of {self.model.rowCount()}")

    def visible_records(self) -> list[dict[str, Any]]:
        return self.proxy.visible_records()

    # -- detail -----------------------------------------------------------------------------
    def selected_record(self) -> dict[str, Any] | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(RECORD_ROLE) if rows else None

    def select_id(self, switch_id: int) -> bool:
        for r in range(self.proxy.rowCount()):
            idx = self.proxy.index(r, 0)
            if idx.data(RECORD_ROLE)["id"] == switch_id:
                self.table.selectRow(r)
                return True
        return False

    def _on_selection(self, _sel: QItemSelection, _desel: QItemSelection) -> None:
        self.show_detail(self.selected_record())

    def show_detail(self, rec: dict[str, Any] | None) -> None:
        self.detail.clear()
        if rec is None:
            self.detail_head.setText("Select a switch to see its steps and device results.")
            return
        plan = rec.get("plan", {})
        e = html.escape
        parent = f" · continues #{rec['parent']}" if rec.get("parent") else ""
        self.detail_head.setText(
            f"<b>#{rec['id']} {e(rec.get('kind') or '')} {e(rec.get('group') or '')}: "
            f"{e(rec.get('from') or '')} → {e(rec.get('to') or '')}</b> · "
            f"<b>{e(rec.get('outcome') or '')}</b>{parent}<br>"
            f"{local_time(rec.get('time'))} → {local_time(rec.get('ended')) or '…'} by "
            f"{e(rec.get('user') or '?')}@{e(rec.get('host') or '?')}<br>"
            f"Power {kw(plan.get('power_now_kw'))} → {kw(plan.get('power_after_kw'))}, site "
            f"after {kw(plan.get('site_after_kw'))} of budget {kw(plan.get('budget_kw'))}<br>"
            f"{e(tidy(rec.get('message')))}")
        results = {s["pos"]: s for s in rec.get("steps", [])}
        for pos, ps in enumerate(plan.get("steps", [])):
            res = results.get(pos)
            status = res["status"] if res else "not_run"
            item = QTreeWidgetItem([f"{pos + 1}. {ps['action']} ({len(ps['devices'])} "
                                    f"device(s))" if ps["devices"] else
                                    f"{pos + 1}. {ps['action']}", status.replace("_", " "),
                                    (res or {}).get("message", "")])
            self._colour(item, STATUS_COLOUR.get(status, "muted"))
            output = (res or {}).get("output")
            if output:
                item.setToolTip(2, output)
            for d in (res or {}).get("devices", []):
                child = QTreeWidgetItem([d["device"], "ok" if d["ok"] else "failed",
                                         d["message"]])
                self._colour(child, "ok" if d["ok"] else "bad")
                item.addChild(child)
            self.detail.addTopLevelItem(item)
            if res and any(not d["ok"] for d in res.get("devices", [])):
                item.setExpanded(True)

    def _colour(self, item: QTreeWidgetItem, name: str) -> None:
        item.setForeground(1, QColor(getattr(self.theme, name)))

    # -- export -----------------------------------------------------------------------------
    def export_csv(self, path: Path) -> int:
        """The records the filters show, one row each."""
        return export_csv(self.visible_records(), Path(path))

    def export_json(self, path: Path) -> int:
        return export_json(self.visible_records(), Path(path))

    def choose_export(self, fmt: str) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export the audit log ({fmt.upper()})", f"opsconsole-audit.{fmt}",
            "CSV files (*.csv)" if fmt == "csv" else "JSON files (*.json)")
        if path:
            n = (self.export_csv if fmt == "csv" else self.export_json)(Path(path))
            self.count_label.setText(f"exported {n} record(s) to {Path(path).name}")
