"""The live progress of one switch: a two-level tree model, steps with their
devices as children.

Events are applied in batches (`apply(events)`), and each batch ends in one
dataChanged per touched step's children and one for the step rows, so a
500-device step costs a handful of view updates per batch, not 500."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from opsconsole.core.duty import Plan, ProgressEvent, StepResult
from opsconsole.core.duty.planner import SKIPPED
from opsconsole.ui.theme import Theme

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()

PENDING, RUNNING, OK, PARTIAL, FAILED, SKIPPED_ST, NOT_RUN = (
    "pending", "running", "ok", "partial", "failed", "skipped", "not run")
GLYPH = {PENDING: "○", RUNNING: "◐", OK: "✔", PARTIAL: "◑", FAILED: "✖", SKIPPED_ST: "–",
         NOT_RUN: "–"}
STEP_STATUS = {"ok": OK, "partial": PARTIAL, "failed": FAILED, "skipped": SKIPPED_ST,
               "not_run": NOT_RUN, "running": RUNNING}


class _Device:
    __slots__ = ("id", "message", "status")

    def __init__(self, device_id: str) -> None:
        self.id, self.status, self.message = device_id, PENDING, ""


class _Step:
    __slots__ = ("devices", "label", "message", "rows", "status")

    def __init__(self, label: str, devices: tuple[str, ...]) -> None:
        self.label = label
        self.status, self.message = PENDING, ""
        self.devices = [_Device(d) for d in devices]
        self.rows = {d: i for i, d in enumerate(devices)}

    def counts(self) -> tuple[int, int]:
        done = sum(d.status in (OK, FAILED, SKIPPED_ST) for d in self.devices)
        failed = sum(d.status in (FAILED, SKIPPED_ST) for d in self.devices)
        return done, failed


class SwitchProgressModel(QAbstractItemModel):
    HEADERS = ("Step / device", "Status", "Detail")

    def __init__(self, theme: Theme, parent: Any = None):
        super().__init__(parent)
        self.steps: list[_Step] = []
        self.switch_id: int | None = None
        self.updates = 0  # dataChanged signals sent (tests check the batching)
        self._colors = {
            PENDING: QColor(theme.muted), RUNNING: QColor(theme.duty_color("switching")),
            OK: QColor(theme.ok), PARTIAL: QColor(theme.warn), FAILED: QColor(theme.bad),
            SKIPPED_ST: QColor(theme.muted), NOT_RUN: QColor(theme.muted)}

    # -- content --------------------------------------------------------------------
    def set_plan(self, plan: Plan | None) -> None:
        self.beginResetModel()
        self.switch_id = None
        self.steps = [] if plan is None else [
            _Step(f"{i + 1}. {s.describe()}", s.devices) for i, s in enumerate(plan.steps)]
        self.endResetModel()

    def apply(self, events: list[ProgressEvent]) -> None:
        touched: set[int] = set()
        for ev in events:
            if ev.kind == "plan-start":
                self.switch_id = ev.switch_id
            pos = ev.pos
            if pos is None or not 0 <= pos < len(self.steps):
                continue
            st = self.steps[pos]
            touched.add(pos)
            if ev.kind == "step-start":
                st.status = RUNNING
                for d in st.devices:
                    if d.status == PENDING:
                        d.status = RUNNING
            elif ev.kind == "device" and ev.device is not None:
                row = st.rows.get(ev.device)
                if row is not None:
                    d = st.devices[row]
                    d.status = OK if ev.ok else SKIPPED_ST if ev.message == SKIPPED else FAILED
                    d.message = ev.message
            elif ev.kind == "step-end":
                done, failed = st.counts()
                st.status = OK if ev.ok else PARTIAL if done > failed else FAILED
                st.message = ev.message
        self._changed(touched)

    def apply_result(self, results: list[StepResult]) -> None:
        """The switch's own account (authoritative: includes steps not run)."""
        touched: set[int] = set()
        for r in results:
            if not 0 <= r.pos < len(self.steps):
                continue
            st = self.steps[r.pos]
            st.status = STEP_STATUS.get(r.status, st.status)
            st.message = r.message or st.message
            for dr in r.devices:
                row = st.rows.get(dr.device)
                if row is not None:
                    d = st.devices[row]
                    d.status = (OK if dr.ok else SKIPPED_ST if dr.message == SKIPPED
                                else FAILED)
                    d.message = dr.message
            if st.status == NOT_RUN:
                for d in st.devices:
                    if d.status in (PENDING, RUNNING):
                        d.status = NOT_RUN
            touched.add(r.pos)
        self._changed(touched)

    def _changed(self, touched: set[int]) -> None:
        if not touched:
            return
        last = self.columnCount() - 1
        for pos in sorted(touched):
            n = len(self.steps[pos].devices)
            if n:
                parent = self.index(pos, 0)
                self.dataChanged.emit(self.index(0, 0, parent), self.index(n - 1, last, parent))
                self.updates += 1
        self.dataChanged.emit(self.index(min(touched), 0), self.index(max(touched), last))
        self.updates += 1

    def failed_devices(self) -> list[tuple[str, str]]:
        return [(d.id, d.message) for s in self.steps for d in s.devices if d.status == FAILED]

    def step_status(self, pos: int) -> str:
        return self.steps[pos].status

    def device_status(self, pos: int, device: str) -> str:
        st = self.steps[pos]
        return st.devices[st.rows[device]].status

    # -- QAbstractItemModel -------------------------------------------------------------
    def index(self, row: int, column: int, parent: Index = _ROOT) -> QModelIndex:
        if not parent.isValid():
            if 0 <= row < len(self.steps):
                return self.createIndex(row, column, 0)
            return QModelIndex()
        if parent.internalId() != 0:
            return QModelIndex()  # devices have no children
        pos = parent.row()
        if 0 <= pos < len(self.steps) and 0 <= row < len(self.steps[pos].devices):
            return self.createIndex(row, column, pos + 1)
        return QModelIndex()

    def parent(self, index: Index = _ROOT) -> QModelIndex:  # type: ignore[override]
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)

    def rowCount(self, parent: Index = _ROOT) -> int:
        if not parent.isValid():
            return len(self.steps)
        if parent.internalId() == 0 and parent.column() == 0:
            return len(self.steps[parent.row()].devices)
        return 0

    def columnCount(self, parent: Index = _ROOT) -> int:
        return len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        c = index.column()
        if index.internalId() == 0:
            st = self.steps[index.row()]
            status, text = st.status, st.label
            detail = st.message or self._step_detail(st)
        else:
            d = self.steps[index.internalId() - 1].devices[index.row()]
            status, text, detail = d.status, d.id, d.message
        if role == Qt.ItemDataRole.DisplayRole:
            return (text, f"{GLYPH[status]} {status}", detail)[c]
        if role == Qt.ItemDataRole.ToolTipRole:
            return (text, status, detail)[c] or None
        if role == Qt.ItemDataRole.ForegroundRole and c == 1:
            return self._colors[status]
        return None

    @staticmethod
    def _step_detail(st: _Step) -> str:
        if not st.devices:
            return "group action"
        done, failed = st.counts()
        if st.status == PENDING:
            return f"{len(st.devices)} device(s)"
        return f"{done} of {len(st.devices)} done" + (f", {failed} failed" if failed else "")
