"""The groups' duties as the journal knows them, for the wall's tiles.

The wall never constructs the duty GUI (ui.duty: client, dialogs, menus). It
asks the runtime for its DutyController with read_only=True, so any mutation
from any entry point is refused in the controller, and only reads states()
on the collector loop every STATES_EVERY_S. Without a controller (a runtime
that has none, or a journal that cannot be read) the tiles say the duty is
unknown: the site file's starting duty may be long out of date."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from opsconsole.core.storage import SWITCHING, StorageError, StorageFaults
from opsconsole.ui.handoff import Handoff

log = logging.getLogger(__name__)

STATES_EVERY_S = 5.0  # as the console's: after a switch, both agree within seconds
OK = "ok"


class ReadOnlyDutyStates(QObject):
    changed = Signal(dict)  # group id -> badge text (the duty, or switching/degraded/...)

    def __init__(self, runtime: Any, data_dir: Path | None,
                 faults: StorageFaults | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.runtime = runtime
        self.faults = faults  # a journal read that fails: the wall's banner says so
        self.controller = runtime.duty_controller(data_dir, read_only=True)
        if not self.controller.read_only:  # created earlier by someone else, writable
            raise RuntimeError("the wall needs a read-only duty controller")
        self.badges: dict[str, str] = {}
        self.states: dict[str, Any] = {}  # group id -> GroupState, the journal's last answer
        self._closed = False
        self._answers = Handoff(self)  # finished Futures, from the collector thread
        self._answers.arrived.connect(self._on_answers)
        self._timer = QTimer(self)
        self._timer.setInterval(round(STATES_EVERY_S * 1000))
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        self.poll()

    def poll(self) -> None:
        async def states() -> dict[str, Any]:  # journal reads: off the collector loop
            return await asyncio.to_thread(self.controller.states)
        try:
            fut = self.runtime.submit(states())
        except RuntimeError:  # the collector is down: keep the last known duties
            return
        fut.add_done_callback(self._answers.put)

    def _on_answers(self, futures: list[Future]) -> None:
        for fut in futures:
            self._on_arrived(fut)

    def _on_arrived(self, fut: Future) -> None:
        if self._closed or fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:  # the last known duties stay; a broken journal is said
            if isinstance(exc, StorageError) and self.faults is not None:
                self.faults.report_error(exc)
            else:
                log.warning("wall: reading the duty journal failed: %s", exc)
            return
        if self.faults is not None:
            self.faults.clear(SWITCHING)  # readable (again)
        self.take(fut.result())

    def take(self, states: dict[str, Any]) -> None:
        """New states: from the journal's answer, or pushed by a site service."""
        if self._closed:
            return
        self.states = dict(states)
        badges = {gid: st.duty if st.status == OK else st.status
                  for gid, st in self.states.items()}
        if badges != self.badges:
            self.badges = badges
            self.changed.emit(badges)

    def close(self) -> None:
        self._closed = True
        self._answers.close()
        self._timer.stop()
        try:
            self.controller.journal.close()
        except Exception:  # closing: log, never raise into Qt
            log.exception("closing the duty journal failed")
