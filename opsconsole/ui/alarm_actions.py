"""Acting on alarms in the GUI: the alarms tab's Acknowledge button and its
comment dialog, the optional sound / desktop notification on new alarms, and
the menu that toggles them (saved in QSettings)."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenuBar,
    QPushButton,
    QSystemTrayIcon,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from opsconsole.core.alarms import RAISED, Alarm, Event, EventKind
from opsconsole.ui.models.events import ALARM_ROLE, AlarmsModel
from opsconsole.ui.session import SiteSession
from opsconsole.ui.settings import Settings

SOUND_KEY, NOTIFY_KEY = "alarms/sound", "alarms/notify"


class AckDialog(QDialog):
    """Acknowledge one alarm: who (the OS user) is shown, a comment is asked."""

    def __init__(self, alarm: Alarm, user: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Acknowledge alarm")
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(f"<b>{alarm.device}</b>: {alarm.message}"))
        lay.addWidget(QLabel(f"Acknowledged by <b>{user}</b>"))
        self.comment = QLineEdit()
        self.comment.setPlaceholderText("Comment (what is being done about it)")
        lay.addWidget(self.comment)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel)
        box.button(QDialogButtonBox.StandardButton.Ok).setText("Acknowledge")
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        lay.addWidget(box)


class AlarmsPanel(QWidget):
    """The alarms table with an Acknowledge button above it."""

    def __init__(self, session: SiteSession, view: QTableView, model: AlarmsModel,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.session, self.view, self.model = session, view, model
        self.dialog: AckDialog | None = None  # the open one (tests drive it)
        self.ack_button = QPushButton("Acknowledge…")
        self.ack_button.setEnabled(False)
        self.ack_button.clicked.connect(self.ask_ack)
        self.hint = QLabel("")
        self.hint.setObjectName("muted")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.ack_button)
        bar.addWidget(self.hint, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(view, 1)
        view.selectionModel().selectionChanged.connect(lambda *_: self._sync())
        model.modelReset.connect(self._sync)
        session.alarms_changed.connect(model.refresh)

    def selected(self) -> Alarm | None:
        rows = self.view.selectionModel().selectedRows()
        if not rows:
            return None
        a = rows[0].data(ALARM_ROLE)
        return a if isinstance(a, Alarm) else None

    def _sync(self) -> None:
        a = self.selected()
        self.ack_button.setEnabled(a is not None and a.state == RAISED)
        n = self.session.alarms.unacknowledged()
        self.hint.setText(f"{n} not acknowledged" if n else "")

    def ask_ack(self) -> None:
        from opsconsole.core.duty.journal import os_user

        a = self.selected()
        if a is None:
            return
        self.dialog = AckDialog(a, os_user(), self)
        self.dialog.accepted.connect(lambda a=a: self.acknowledge(a, self.dialog.comment.text()
                                                                  if self.dialog else ""))
        self.dialog.open()

    def acknowledge(self, alarm: Alarm, comment: str) -> None:
        self.session.acknowledge(alarm.device, alarm.key or alarm.kind.value, comment.strip())
        self.model.refresh()


class AlarmNotifier(QObject):
    """A beep and/or a desktop notification when an alarm is raised."""

    def __init__(self, session: SiteSession, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings
        self.tray: QSystemTrayIcon | None = None
        self.sent: list[str] = []  # what was notified (tests, the status bar)
        session.events.connect(self.on_events)

    def on_events(self, events: list[Event]) -> None:
        new = [e for e in events if e.kind is EventKind.ALARM]
        if not new:
            return
        text = "; ".join(f"{e.device}: {e.message}" for e in new[:3]) + (
            f" (+{len(new) - 3} more)" if len(new) > 3 else "")
        self.sent.append(text)
        if flag(self.settings, SOUND_KEY):
            QApplication.beep()
        if flag(self.settings, NOTIFY_KEY) and QSystemTrayIcon.isSystemTrayAvailable():
            if self.tray is None:
                self.tray = QSystemTrayIcon(QApplication.windowIcon(), self)
                self.tray.show()
            self.tray.showMessage("opsconsole alarm", text, QSystemTrayIcon.MessageIcon.Warning)


def flag(settings: Settings, key: str) -> bool:
    return str(settings.q.value(key, "false")).lower() in ("true", "1")


def build_alarm_menu(menubar: QMenuBar, settings: Settings) -> None:
    m = menubar.addMenu("&Alarms")
    for key, label in ((SOUND_KEY, "&Sound on new alarms"),
                       (NOTIFY_KEY, "&Desktop notification on new alarms")):
        act = QAction(label, m, checkable=True)
        act.setChecked(flag(settings, key))
        act.toggled.connect(lambda on, k=key: settings.q.setValue(k, bool(on)))
        m.addAction(act)
    if not QSystemTrayIcon.isSystemTrayAvailable():
        m.actions()[-1].setToolTip("no system tray here: notifications are not shown")
