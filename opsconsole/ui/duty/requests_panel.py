"""The two-person rule in the console: pending switch requests, visible to
every operator (who asked, what, the power it moves, until when), and
Approve / Reject for a second person. Only with a site service (the
requests live there); the service decides: nobody approves their own
request, a viewer approves nothing, an expired or decided one is refused
(409) and the reason is shown."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from opsconsole.core.wire import iso_ts
from opsconsole.ui import units
from opsconsole.ui.handoff import Handoff
from opsconsole.ui.remote import OPERATOR_ROLES, RemoteRuntime

log = logging.getLogger(__name__)

COLUMNS = ("#", "Group", "Switch", "Power", "Asked by", "Asked at", "Expires")
EXPIRY_CHECK_MS = 5000


def _kw(v: Any) -> str:
    return "?" if v is None else f"{float(v):.1f} kW"


async def _outcome(lines: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    last: dict[str, Any] = {}
    async for line in lines:
        if line.get("type") == "outcome":
            last = line
    return last


class RequestsPanel(QWidget):
    count_changed = Signal(int)
    decided = Signal(str)  # one line: what came of an approval or a rejection

    def __init__(self, runtime: RemoteRuntime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.requests: list[dict[str, Any]] = []
        self.may_decide = runtime.role in OPERATOR_ROLES and not runtime.read_only
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._sync)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.approve_button = QPushButton("Approve…")
        self.reject_button = QPushButton("Reject…")
        self.approve_button.clicked.connect(self.ask_approve)
        self.reject_button.clicked.connect(self.ask_reject)
        bar = QHBoxLayout()
        bar.addWidget(self.hint, 1)
        bar.addWidget(self.approve_button)
        bar.addWidget(self.reject_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.addWidget(self.table, 1)
        lay.addLayout(bar)
        self._answers = Handoff(self)  # (line, ok) from the client's thread
        self._answers.arrived.connect(self._on_answers)
        self._expiry = QTimer(self)  # an expired request leaves the list by itself
        self._expiry.setInterval(EXPIRY_CHECK_MS)
        self._expiry.timeout.connect(lambda: self.set_requests(runtime.pending_requests()))
        self._expiry.start()
        self.set_requests(runtime.pending_requests())

    # -- the list ------------------------------------------------------------------------
    def set_requests(self, requests: list[dict[str, Any]]) -> None:
        keep = self.selected()
        self.requests = list(requests)
        self.table.setRowCount(len(self.requests))
        for row, r in enumerate(self.requests):
            cells = (f"{r['id']}", str(r.get("group", "")),
                     f"{r.get('from', '?')} → {r.get('to', '?')}",
                     f"{_kw(r.get('power_now_kw'))} → {_kw(r.get('power_after_kw'))}",
                     f"{r.get('user', '?')}@{r.get('host', '?')}",
                     units.clock(iso_ts(r.get("created_at"))),
                     units.clock(iso_ts(r.get("expires_at"))))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setData(Qt.ItemDataRole.UserRole, r["id"])
                self.table.setItem(row, col, item)
            if keep is not None and r["id"] == keep["id"]:
                self.table.selectRow(row)
        self.count_changed.emit(len(self.requests))
        self._sync()

    def selected(self) -> dict[str, Any] | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        row = rows[0].row()
        return self.requests[row] if 0 <= row < len(self.requests) else None

    def select_id(self, rid: int) -> None:
        for row, r in enumerate(self.requests):
            if r["id"] == rid:
                self.table.selectRow(row)

    def can_decide(self, req: dict[str, Any] | None) -> bool:
        return req is not None and self.may_decide and req.get("user") != self.runtime.user

    def _sync(self) -> None:
        req = self.selected()
        ok = self.can_decide(req)
        self.approve_button.setEnabled(ok)
        self.reject_button.setEnabled(ok)
        if not self.requests:
            self.hint.setText("No switch waits for a second person.")
        elif not self.may_decide:
            self.hint.setText(f"{len(self.requests)} waiting; a viewer token ({self.runtime.user})"
                              " cannot decide")
        elif req is not None and req.get("user") == self.runtime.user:
            self.hint.setText("Your own request: another operator approves or rejects it")
        else:
            self.hint.setText(f"{len(self.requests)} waiting for a second person")

    # -- deciding -------------------------------------------------------------------------------
    def ask_approve(self) -> None:
        req = self.selected()
        if not self.can_decide(req):
            return
        assert req is not None
        text, ok = QInputDialog.getText(
            self, f"Approve request #{req['id']}",
            f"{req.get('user')} asks to switch {req.get('group')} from {req.get('from')} to "
            f"{req.get('to')} ({_kw(req.get('power_now_kw'))} → "
            f"{_kw(req.get('power_after_kw'))}).\nThe switch runs as you. Type the group id "
            "to approve:")
        if ok and text.strip() == req.get("group"):
            self.approve(req["id"])

    def ask_reject(self) -> None:
        req = self.selected()
        if not self.can_decide(req):
            return
        assert req is not None
        comment, ok = QInputDialog.getText(self, f"Reject request #{req['id']}",
                                           "Why (kept in the audit):")
        if ok:
            self.reject(req["id"], comment.strip())

    def approve(self, rid: int) -> None:
        self.hint.setText(f"Approving #{rid}: the switch runs on the service…")
        self._send(rid, lambda c: _outcome(c.approve(rid)), "approved")

    def reject(self, rid: int, comment: str) -> None:
        self._send(rid, lambda c: c.reject(rid, comment), "rejected")

    def _send(self, rid: int, call: Any, verb: str) -> None:
        try:
            fut = self.runtime.call(call)
        except RuntimeError as exc:
            self._answers.put((f"Request #{rid}: {exc}", False))
            return

        def done(f: Any) -> None:  # the client's thread
            exc = None if f.cancelled() else f.exception()
            if f.cancelled() or exc is not None:
                self._answers.put((f"Request #{rid} not {verb}: {exc or 'cancelled'}", False))
                return
            doc = f.result() or {}
            msg = doc.get("message") or ((doc.get("result") or {}).get("message")) or ""
            self._answers.put((f"Request #{rid} {verb}" + (f": {msg}" if msg else ""), True))

        fut.add_done_callback(done)

    def _on_answers(self, answers: list[tuple[str, bool]]) -> None:
        self.set_requests(self.runtime.pending_requests())
        for line, ok in answers:
            (log.info if ok else log.warning)("%s", line)
            self.hint.setText(line)
            self.decided.emit(line)

    def close_panel(self) -> None:
        self._expiry.stop()
        self._answers.close()
