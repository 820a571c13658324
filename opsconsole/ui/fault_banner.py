"""Faults seen, not whispered: a persistent banner naming each file of the
data dir that is off (switching, history, alarm log) and what is wrong with
it, for as long as it is wrong, in the console and on the wall.

The faults live in core (`SiteSession.storage_faults`, a StorageFaults that
logs each fault once, without a traceback). Its listeners run on whichever
thread reported (the history writer's too): FaultFeed hands the snapshots to
the GUI thread through a Handoff (ui/handoff.py). FaultBanner shows the lines; the wall
styles the same lines at its own size (fault_lines)."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QWidget

from opsconsole.core.storage import StorageFault, StorageFaults
from opsconsole.ui.handoff import Handoff
from opsconsole.ui.theme import Theme

WHAT_STOPS = {  # what the operator loses while the file is off
    "switching": "duty switching is off",
    "history": "history is not being recorded",
    "alarm log": "alarms are not being recorded",
    "data dir": "nothing is being recorded",
}


def fault_lines(faults: Iterable[StorageFault]) -> list[str]:
    """One line per fault: what stopped, the file, what is wrong with it."""
    return [f"{WHAT_STOPS.get(f.area, f'{f.area} is off').capitalize()}: {f.path}: {f.problem}"
            for f in sorted(faults, key=lambda f: f.area)]


class FaultFeed(QObject):
    """A StorageFaults' snapshots, on the GUI thread."""

    changed = Signal(list)  # list[StorageFault]

    def __init__(self, faults: StorageFaults, parent: QObject | None = None):
        super().__init__(parent)
        self.faults = faults
        self._snapshots = Handoff(self)  # from whichever thread found the fault
        self._snapshots.arrived.connect(self._deliver)
        faults.add_listener(self._on_any_thread)

    def _on_any_thread(self, snapshot: list[StorageFault]) -> None:
        self._snapshots.put(list(snapshot))

    def _deliver(self, snapshots: list[list[StorageFault]]) -> None:
        self.changed.emit(snapshots[-1])  # the newest says it all

    def current(self) -> list[StorageFault]:
        return self.faults.current()

    def close(self) -> None:
        self._snapshots.close()


class FaultBanner(QLabel):
    """The console's banner: red, one line per fault, hidden when all is
    well; a warning line (e.g. two data dirs for one site) in amber."""

    def __init__(self, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.theme = theme
        self.setObjectName("faultBanner")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.faults: list[StorageFault] = []
        self.warnings: list[str] = []
        self.feed: FaultFeed | None = None
        self.hide()

    def watch(self, faults: StorageFaults | None, warnings: list[str] | None = None) -> None:
        """Follow an open site's faults (None: no site open)."""
        if self.feed is not None:
            self.feed.close()
            self.feed.deleteLater()
            self.feed = None
        self.warnings = list(warnings or [])
        if faults is not None:
            self.feed = FaultFeed(faults, self)
            self.feed.changed.connect(self.show_faults)
        self.show_faults(faults.current() if faults is not None else [])

    def set_warnings(self, warnings: list[str]) -> None:
        self.warnings = list(warnings)
        self.show_faults(self.faults)

    def show_faults(self, faults: list[StorageFault]) -> None:
        self.faults = list(faults)
        lines = fault_lines(self.faults) + self.warnings
        if not lines:
            self.hide()
            return
        colour = self.theme.bad if self.faults else self.theme.warn
        self.setStyleSheet(f"QLabel#faultBanner {{ background: {colour}; color: #ffffff; "
                           "font-weight: 700; padding: 6px 10px; }")
        self.setText("\n".join(lines))
        self.show()
