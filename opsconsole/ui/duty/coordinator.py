"""DutyCoordinator: duty switching wired into the console: tile badges from
the controller's group states, the per-group duty menu (tile button, tile
context menu, the window's Duty menu), the switch dialogs and the audit view."""

from __future__ import annotations

from PySide6.QtCore import QObject, QPoint, QTimer, Signal
from PySide6.QtWidgets import QMenu, QWidget

from opsconsole.core.duty import (
    DEGRADED,
    INTERRUPTED,
    OK,
    SWITCHING,
    GroupState,
    ProgressEvent,
)
from opsconsole.core.site import DUTIES
from opsconsole.ui.duty.audit_view import AuditView
from opsconsole.ui.duty.client import DutyClient
from opsconsole.ui.duty.switch_dialog import RESUME, RETRY, ROLLBACK, SWITCH, DutyDialog
from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import Theme
from opsconsole.ui.views.tiles import GroupTiles

STATES_EVERY_MS = 5000  # pick up switches made elsewhere (the CLI, another console)
READ_ONLY_TIP = ("Read-only mode (--read-only / --wall): duty switching is disabled; "
                 "the controller refuses every switch")


def badge_for(st: GroupState) -> str:
    """What a tile's badge says: the duty, or the unfinished state."""
    return st.duty if st.status == OK else st.status


class DutyCoordinator(QObject):
    tile_state_changed = Signal(str, str)  # group, badge text (duty or state)

    def __init__(self, client: DutyClient, session: SiteSession, theme: Theme,
                 window: QWidget):
        super().__init__(window)
        self.client = client
        self.session = session
        self.theme = theme
        self.window = window
        self.tiles: GroupTiles | None = None
        self.badges: dict[str, str] = {}
        self.dialogs: dict[str, DutyDialog] = {}
        self.audit: AuditView | None = None
        client.states_changed.connect(self._on_states)
        client.progress.connect(self._on_progress)
        self._timer = QTimer(self)
        self._timer.setInterval(STATES_EVERY_MS)
        self._timer.timeout.connect(client.refresh_states)
        self._timer.start()
        client.refresh_states()

    @property
    def read_only(self) -> bool:
        return self.client.read_only

    def attach(self, tiles: GroupTiles) -> None:
        """Bind (again, after a theme change rebuilt the console) to the tiles."""
        self.tiles = tiles
        tiles.enable_duty_menus(True)
        tiles.duty_menu_requested.connect(self.popup_menu)
        for gid, badge in self.badges.items():
            tiles.set_duty(gid, badge)

    # -- what the controller says -------------------------------------------------------
    def measured_kw(self) -> dict[str, float]:
        """Power now per group, from the GUI's live store (groups with data only)."""
        out: dict[str, float] = {}
        for g in self.session.site.groups:
            s = self.session.store.summary(g.id)
            if s.devices_ok and s.power_w is not None:
                out[g.id] = s.power_w / 1000.0
        return out

    def _on_states(self, states: dict[str, GroupState]) -> None:
        for gid, st in states.items():
            # hashrate alarms only when mining; duty/telemetry checks wait while not ok
            self.session.alarms.set_duty(gid, st.duty, st.status)
            self._set_badge(gid, badge_for(st))

    def _on_progress(self, events: list[ProgressEvent]) -> None:
        for ev in events:
            if ev.kind == "plan-start":
                self._set_badge(ev.group, SWITCHING)

    def _set_badge(self, gid: str, badge: str) -> None:
        if self.badges.get(gid) == badge:
            return
        self.badges[gid] = badge
        if self.tiles is not None:
            self.tiles.set_duty(gid, badge)
        self.tile_state_changed.emit(gid, badge)

    # -- menus --------------------------------------------------------------------------
    def menu_for(self, group: str, parent: QWidget | None = None) -> QMenu:
        """Switch duty, recovery of an unfinished switch, the audit."""
        g = self.session.site.group(group)
        menu = QMenu(g.name if g is not None else group, parent or self.window)
        st = self.client.states.get(group)
        status = st.status if st is not None else OK
        act = menu.addAction("Switch duty…", lambda: self.open_switch(group))
        act.setObjectName("switch")
        sub = menu.addMenu("Switch to")
        for d in DUTIES:
            sub.addAction(d.title(), lambda d=d: self.open_switch(group, duty=d))
        recovery = []
        if status == INTERRUPTED:
            recovery.append(menu.addAction("Resume interrupted switch…",
                                           lambda: self.open_switch(group, kind=RESUME)))
        if status == DEGRADED:
            recovery.append(menu.addAction("Retry failed devices…",
                                           lambda: self.open_switch(group, kind=RETRY)))
        if status in (INTERRUPTED, DEGRADED):
            recovery.append(menu.addAction("Roll back…",
                                           lambda: self.open_switch(group, kind=ROLLBACK)))
        for a in (act, sub.menuAction(), *recovery):
            a.setEnabled(not self.read_only)
            if self.read_only:
                a.setToolTip(READ_ONLY_TIP)
        menu.setToolTipsVisible(True)
        menu.addSeparator()
        menu.addAction("Audit log…", lambda: self.open_audit(group))
        return menu

    def popup_menu(self, group: str, pos: QPoint) -> None:
        menu = self.menu_for(group)
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(pos)

    # -- windows ------------------------------------------------------------------------
    def open_switch(self, group: str, duty: str | None = None,
                    kind: str = SWITCH) -> DutyDialog:
        """The group's dialog (one per group: reopening a running one shows it)."""
        dlg = self.dialogs.get(group)
        if dlg is not None and (dlg.running or dlg.isVisible()):
            if not dlg.running and (kind != dlg.kind or duty not in (None, dlg.duty)):
                if duty is not None:
                    dlg.duty_box.blockSignals(True)
                    dlg.set_duty(duty)
                    dlg.duty_box.blockSignals(False)
                dlg.set_kind(kind)
        else:
            if dlg is not None:
                dlg.deleteLater()
            dlg = DutyDialog(self.client, group, self.theme, self.measured_kw, kind=kind,
                             duty=duty, parent=self.window)
            self.dialogs[group] = dlg
        dlg.show()
        dlg.raise_()
        return dlg

    def open_audit(self, group: str | None = None) -> AuditView:
        if self.audit is None:
            self.audit = AuditView(self.client, self.theme, self.window)
        else:
            self.audit.refresh()
        if group is not None:
            self.audit.set_filters(group=group)
        self.audit.show()
        self.audit.raise_()
        return self.audit

    def close(self) -> None:
        """The site closes (the runtime has stopped): windows, timer, journal."""
        self._timer.stop()
        for dlg in self.dialogs.values():
            dlg.close()
        if self.audit is not None:
            self.audit.close()
        self.client.close()
