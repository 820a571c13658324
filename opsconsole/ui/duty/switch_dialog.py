"""The "Switch duty" dialog: plan preview (steps, devices, power against the
budget, warnings, refusals), typed confirmation for big groups, live
progress per step and device, cancel, the result, and the recovery actions
(retry failed, roll back, resume) that continue from it.

Nothing here decides what is allowed: the controller plans, refuses and
executes; the dialog shows what it says. Read-only mode disables the
Execute button as a courtesy, but `execute()` still asks the controller,
which refuses (and audits the refusal)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from opsconsole.core.duty import (
    DEGRADED,
    DONE,
    INTERRUPTED,
    READ_ONLY,
    REFUSED,
    GroupState,
    Plan,
    ProgressEvent,
    SwitchResult,
)
from opsconsole.core.site import DUTIES
from opsconsole.core.wire import iso_ts
from opsconsole.ui import units
from opsconsole.ui.duty.audit_records import tidy
from opsconsole.ui.duty.client import DutyClient
from opsconsole.ui.duty.power_bar import PowerBar, kw
from opsconsole.ui.duty.progress_model import SwitchProgressModel
from opsconsole.ui.theme import Theme

SWITCH, RETRY, RESUME, ROLLBACK = "switch", "retry", "resume", "rollback"
CONFIRM_ABOVE = 10  # groups with more devices need their id typed to confirm
FLUSH_MS = 100  # progress events are applied to the tree at most this often
MAX_FAILURES_SHOWN = 12

MeasuredKw = Callable[[], dict[str, float]]


class DutyDialog(QDialog):
    planned = Signal(object)  # Plan (or None when planning failed)
    switch_finished = Signal(object)  # SwitchResult (or None when the call failed)

    def __init__(self, client: DutyClient, group: str, theme: Theme, measured: MeasuredKw,
                 *, kind: str = SWITCH, duty: str | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.client = client
        self.group = group
        self.theme = theme
        self.measured = measured
        self.kind = kind
        self.plan: Plan | None = None
        self.result: SwitchResult | None = None
        self.running = False
        self._plan_seq = 0
        self._queued: list[ProgressEvent] = []
        g = client.controller.site.group(group)
        self.group_name = g.name if g is not None else group
        self.group_size = client.group_size(group)
        self.setWindowTitle(f"Duty: {self.group_name}")
        self.setObjectName("dutyDialog")

        self.heading = QLabel()
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.duty_box = QComboBox()
        for d in DUTIES:
            self.duty_box.addItem(d.title(), d)
        self.summary = QLabel("Planning…")
        self.summary.setWordWrap(True)
        self.power_bar = PowerBar(theme)
        self.power_label = QLabel()
        self.power_label.setWordWrap(True)
        self.power_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet(f"color: {theme.warn};")
        self.refusal = QLabel()
        self.refusal.setWordWrap(True)
        self.refusal.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refusal.setStyleSheet(f"color: {theme.bad}; font-weight: 600;")
        self.model = SwitchProgressModel(theme, self)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)  # cheap layout for 500-device steps
        self.tree.setAlternatingRowColors(True)
        hh = self.tree.header()
        hh.setStretchLastSection(True)
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("muted")
        self.confirm_label = QLabel()
        self.confirm_edit = QLineEdit()
        self.confirm_edit.setPlaceholderText(group)
        self.confirm_edit.textChanged.connect(lambda _t: self._update_buttons())
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.hide()

        self.resume_button = QPushButton("Resume…")
        self.retry_button = QPushButton("Retry failed…")
        self.rollback_button = QPushButton("Roll back…")
        self.execute_button = QPushButton("Execute")
        self.execute_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel switch")
        self.cancel_button.setToolTip("Stop after the current step: the group is left degraded")
        self.close_button = QPushButton("Close")
        self.resume_button.clicked.connect(lambda: self.set_kind(RESUME))
        self.retry_button.clicked.connect(lambda: self.set_kind(RETRY))
        self.rollback_button.clicked.connect(lambda: self.set_kind(ROLLBACK))
        self.execute_button.clicked.connect(self.execute)
        self.cancel_button.clicked.connect(self.cancel_switch)
        self.close_button.clicked.connect(self.close)

        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        self.duty_caption = QLabel("Switch to")
        top.addWidget(self.duty_caption)
        top.addWidget(self.duty_box)
        lay.addLayout(top)
        lay.addWidget(self.summary)
        lay.addWidget(self.power_bar)
        lay.addWidget(self.power_label)
        lay.addWidget(self.warnings)
        lay.addWidget(self.refusal)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.progress_label)
        lay.addWidget(self.result_label)
        confirm = QHBoxLayout()
        confirm.addWidget(self.confirm_label)
        confirm.addWidget(self.confirm_edit, 1)
        lay.addLayout(confirm)
        buttons = QHBoxLayout()
        for b in (self.resume_button, self.retry_button, self.rollback_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        for b in (self.execute_button, self.cancel_button, self.close_button):
            buttons.addWidget(b)
        lay.addLayout(buttons)
        self.needs_typing = self.group_size > CONFIRM_ABOVE
        self.confirm_label.setText(f"{self.group_size} devices: type <b>{html.escape(group)}</b> "
                                   "to confirm")
        for w in (self.confirm_label, self.confirm_edit):
            w.setVisible(self.needs_typing)

        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(FLUSH_MS)
        self._flush.timeout.connect(self._apply_events)
        client.progress.connect(self._on_progress)
        client.states_changed.connect(lambda _s: self._update_heading())

        state = client.states.get(group)
        if duty is None:  # the first duty other than the current one
            current = state.duty if state is not None else None
            duty = next((d for d in DUTIES if d != current), DUTIES[0])
        self.duty_box.setCurrentIndex(max(0, self.duty_box.findData(duty)))
        self.duty_box.currentIndexChanged.connect(lambda _i: self.replan())
        self.resize(1120, 720)
        self.set_kind(kind)

    # -- planning ---------------------------------------------------------------------
    @property
    def duty(self) -> str:
        return str(self.duty_box.currentData())

    def set_duty(self, duty: str) -> None:
        self.duty_box.setCurrentIndex(self.duty_box.findData(duty))

    def set_kind(self, kind: str) -> None:
        if self.running:
            return
        self.kind = kind
        for w in (self.duty_caption, self.duty_box):
            w.setVisible(kind == SWITCH)
        self.replan()

    def replan(self) -> None:
        if self.running:
            return
        self._plan_seq += 1
        seq, group, duty, kind = self._plan_seq, self.group, self.duty, self.kind
        measured = self.measured()
        self.plan = None
        self.result = None
        self.result_label.hide()
        self.summary.setText("Planning…")
        self._update_heading()
        self._update_buttons()

        def make(ctl: Any) -> Any:
            if kind == RETRY:
                return ctl.plan_retry(group, measured)
            if kind == RESUME:
                return ctl.plan_resume(group, measured)
            if kind == ROLLBACK:
                return ctl.plan_rollback(group, measured)
            return ctl.plan(group, duty, measured)

        self.client.call(make, lambda p, e: self._on_plan(seq, p, e))

    def _on_plan(self, seq: int, plan: Plan | None, err: BaseException | None) -> None:
        if seq != self._plan_seq:
            return  # a newer request is on its way
        self.plan = plan
        self.model.set_plan(plan)
        self.power_bar.set_plan(plan)
        if plan is None:
            self.summary.setText(f"Could not plan: {err}")
            self.power_label.clear()
            self.warnings.clear()
            self.refusal.clear()
        else:
            self._show_plan(plan)
        self._update_buttons()
        self.planned.emit(plan)

    def _show_plan(self, p: Plan) -> None:
        what = {SWITCH: "Switch", RETRY: "Retry", RESUME: "Resume",
                ROLLBACK: "Roll back"}.get(p.kind, p.kind)
        self.summary.setText(
            f"<b>{what}</b> {html.escape(p.group)}: <b>{p.from_duty}</b> → <b>{p.to_duty}</b> · "
            f"{len(p.steps)} step(s) · {p.device_count} device(s) acted on "
            f"(group of {self.group_size})")
        budget = "no budget set" if p.budget_kw is None else f"budget {kw(p.budget_kw)}"
        site = p.site_after_kw
        pct = (f" ({site / p.budget_kw:.0%})" if site is not None and p.budget_kw else "")
        self.power_label.setText(
            f"{html.escape(p.group)}: {kw(p.power_now_kw)} ({p.power_now_source}) → "
            f"{kw(p.power_after_kw)} ({p.power_after_source}) · other groups "
            f"{kw(p.others_kw)} · site after {kw(site)}{pct} of {budget}")
        self.warnings.setText("\n".join(f"⚠ {w}" for w in p.warnings))
        self.warnings.setVisible(bool(p.warnings))
        self.refusal.setText("\n".join(f"✖ Refused: {r}" for r in p.refusals))
        self.refusal.setVisible(bool(p.refusals))
        for pos, s in enumerate(p.steps):
            if 0 < len(s.devices) <= 40:
                self.tree.expand(self.model.index(pos, 0))
        self.tree.resizeColumnToContents(0)
        self.tree.setColumnWidth(0, min(self.tree.columnWidth(0), 660))
        self.tree.setColumnWidth(1, 110)

    # -- execution ------------------------------------------------------------------
    def confirmed(self) -> bool:
        return not self.needs_typing or self.confirm_edit.text().strip() == self.group

    def can_execute(self) -> bool:
        """A plan is shown, the controller did not refuse it, it has not run
        yet, and the typed confirmation matches (read-only is the controller's
        to refuse)."""
        return (not self.running and self.plan is not None and self.plan.ok
                and self.result is None and self.confirmed())

    def execute(self) -> bool:
        if not self.can_execute():
            return False
        plan = self.plan
        assert plan is not None
        self.running = True
        self._queued.clear()
        self.progress_label.setText("Starting…")
        self._update_heading()
        self.client.call(lambda ctl: ctl.execute(plan), self._on_result)
        return True

    def cancel_switch(self) -> bool:
        if not self.running:
            return False
        ok = self.client.cancel(self.group)
        if ok:
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Cancelling: the switch stops after the current step…")
        return ok

    def _on_progress(self, events: list[ProgressEvent]) -> None:
        if not self.running:
            return
        mine = [e for e in events if e.group == self.group]
        if mine:
            self._queued.extend(mine)
            if not self._flush.isActive():
                self._flush.start()

    def _apply_events(self) -> None:
        events, self._queued = self._queued, []
        if not events:
            return
        self.model.apply(events)
        last = next((e for e in reversed(events) if e.pos is not None), None)
        if last is not None and self.running:
            step = self.model.steps[last.pos] if last.pos < len(self.model.steps) else None
            if step is not None:
                done, failed = step.counts()
                what = (f"{done}/{len(step.devices)} device(s) done"
                        + (f", {failed} failed" if failed else "")) if step.devices else (
                    "group action")
                self.progress_label.setText(
                    f"Step {last.pos + 1} of {last.steps_total} ({last.action})"
                    f": {step.status} · {what}")
                if len(step.devices) <= 40:
                    self.tree.expand(self.model.index(last.pos, 0))

    def _on_result(self, res: SwitchResult | None, err: BaseException | None) -> None:
        self._flush.stop()
        self._apply_events()
        self.running = False
        self.result = res
        self._update_heading()
        if res is None:
            self._show_result("bad", f"✖ The switch could not be run: {html.escape(str(err))}")
        else:
            self.model.apply_result(res.steps)
            self._show_result(*self.describe_result(res))
            for pos, st in enumerate(self.model.steps):
                if any(d.status == "failed" for d in st.devices):
                    self.tree.expand(self.model.index(pos, 0))
        self.progress_label.clear()
        self._update_buttons()
        self.switch_finished.emit(res)

    def describe_result(self, res: SwitchResult) -> tuple[str, str]:
        """(theme colour name, rich text) for the result banner."""
        sid = f" (switch #{res.switch_id})" if res.switch_id is not None else ""
        if res.outcome == DONE:
            return "ok", f"✔ <b>Done</b>{sid}: {html.escape(tidy(res.message))}"
        req = (res.plan.approval or {}).get("request")
        if res.outcome == REFUSED and req is not None:  # the two-person rule
            return "warn", (f"⏳ <b>Waiting for a second person</b>: request #{req['id']} "
                            f"({html.escape(str(req.get('user')))}), until "
                            f"{units.clock(iso_ts(req.get('expires_at')))}. Another operator "
                            "approves or rejects it in the console's Requests tab (or "
                            f"<tt>opsconsole duty approve {req['id']}</tt>).")
        if res.outcome == REFUSED:
            why = ("read-only mode: the controller refuses every duty switch"
                   if res.message == READ_ONLY else res.message)
            return "bad", f"✖ <b>Refused</b>{sid}: {html.escape(why)}"
        fails = res.failures
        lines = [f"⚠ <b>Degraded</b>{sid}"
                 + (" — cancelled by the operator" if res.cancelled else "")
                 + f": {html.escape(tidy(res.message))}"]
        for f in fails[:MAX_FAILURES_SHOWN]:
            lines.append(f"&nbsp;&nbsp;• <b>{html.escape(f.device)}</b>: {html.escape(f.message)}")
        if len(fails) > MAX_FAILURES_SHOWN:
            lines.append(f"&nbsp;&nbsp;… and {len(fails) - MAX_FAILURES_SHOWN} more")
        lines.append("Retry the failed devices or roll back to the previous duty.")
        return "warn", "<br>".join(lines)

    def _show_result(self, colour: str, text: str) -> None:
        c = getattr(self.theme, colour)
        self.result_label.setText(text)
        self.result_label.setStyleSheet(
            f"border: 1px solid {c}; border-radius: 4px; padding: 6px; color: {self.theme.text};")
        self.result_label.show()

    # -- chrome -----------------------------------------------------------------------
    def _state(self) -> GroupState | None:
        return self.client.states.get(self.group)

    def _update_heading(self) -> None:
        st = self._state()
        if self.running and self.plan is not None:  # fresher than the last state refresh
            state, label = "switching", f"switching ({self.plan.from_duty} → {self.plan.to_duty})"
        elif st is not None:
            state = st.status if st.status != "ok" else st.duty
            label = st.label.replace(" -> ", " → ")
        else:
            state, label = "idle", "…"
        colour = self.theme.duty_color(state)
        label = html.escape(label)
        self.heading.setText(f"<b style='font-size:12pt'>{html.escape(self.group_name)}</b> "
                             f"({html.escape(self.group)}, {self.group_size} devices) · now "
                             f"<b style='color:{colour.name()}'>{label}</b>")
        self._update_buttons()

    def _update_buttons(self) -> None:
        st = self._state()
        status = st.status if st is not None else "ok"
        idle = not self.running
        self.resume_button.setVisible(idle and status == INTERRUPTED)
        self.retry_button.setVisible(idle and status == DEGRADED)
        self.rollback_button.setVisible(idle and status in (INTERRUPTED, DEGRADED))
        read_only = self.client.read_only
        self.execute_button.setEnabled(self.can_execute() and not read_only)
        self.execute_button.setText(self._execute_text())
        self.execute_button.setToolTip(
            "Read-only mode (--read-only / --wall): the controller refuses every duty switch"
            if read_only else "" if self.confirmed() else f"Type {self.group} to confirm")
        self.execute_button.setVisible(idle)
        self.cancel_button.setVisible(self.running)
        self.cancel_button.setEnabled(self.running)
        self.duty_box.setEnabled(idle)
        self.confirm_edit.setEnabled(idle)

    def _execute_text(self) -> str:
        p = self.plan
        if p is None:
            return "Execute"
        return {SWITCH: f"Switch to {p.to_duty}", RETRY: "Retry failed devices",
                RESUME: f"Resume to {p.to_duty}",
                ROLLBACK: f"Roll back to {p.to_duty}"}.get(p.kind, "Execute")

    def closeEvent(self, ev: QCloseEvent) -> None:
        # a running switch goes on without the dialog (its tile shows SWITCHING)
        self._flush.stop()
        super().closeEvent(ev)
