"""ReplicaFeed: applies what the site service pushes (beside readings) to a
replica session on the GUI thread, for the console and the wall alike:
the active alarms, alarm events, duty states (their switching groups hold
the duty checks), two-person requests, and the link's state for the
"disconnected since" banner."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from opsconsole.core.alarms import Alarm, Event
from opsconsole.ui import units
from opsconsole.ui.remote import RemoteRuntime
from opsconsole.ui.session import SiteSession

log = logging.getLogger(__name__)


def disconnected_text(since: float, url: str, error: str = "") -> str:
    """The banner's line: persistent while the service is away."""
    if error:
        return (f"Disconnected since {units.clock(since)}: the site service at {url} "
                f"refused this token ({error})")
    return (f"Disconnected since {units.clock(since)}: the site service at {url} does not "
            "answer; reconnecting by itself")


class ReplicaFeed(QObject):
    link_changed = Signal(bool, float, str)  # connected, since (Unix), why it gave up
    requests_changed = Signal(list)  # pending two-person requests (dicts), GUI thread
    states_changed = Signal()  # the service's duty states changed
    data_dir_known = Signal(str)  # the service's data dir (each snapshot)

    def __init__(self, runtime: RemoteRuntime, session: SiteSession,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.session = session
        self.connected = runtime.runner is not None and runtime.runner.connected
        self.since = time.time()
        self.error = ""
        self.snapshots = 0
        self.data_dir = ""  # where the service keeps journal, history and alarm log
        session.acknowledger = self.acknowledge
        runtime.extras.arrived.connect(self._apply)
        runtime.extras.release()  # what came before this feed existed

    def _apply(self, msgs: list[dict[str, Any]]) -> None:
        """Messages prepared on the client's thread (RemoteRuntime: alarms and
        events are objects already). Each `alarms` message is the whole active
        set, so of several that came together only the last is applied."""
        session = self.session
        requests = states = False
        alarms: list[Alarm] | None = None
        events: list[Event] = []
        for msg in msgs:
            kind = msg.get("type")
            if kind == "snapshot":
                self.snapshots += 1
                alarms = msg.get("alarms") or []
                events.extend(msg.get("events") or [])
                requests = states = True
                self._faults(msg.get("faults") or [])
                if msg.get("data_dir") and msg["data_dir"] != self.data_dir:
                    self.data_dir = str(msg["data_dir"])
                    self.data_dir_known.emit(self.data_dir)
                if not self.connected:
                    self._link(True, time.time(), "")
            elif kind == "alarms":
                alarms = msg.get("alarms") or []
            elif kind == "events":
                events.extend(msg.get("events") or [])
            elif kind == "faults":
                self._faults(msg.get("faults") or [])
            elif kind == "groups":
                states = True
            elif kind == "request":
                requests = True
            elif kind == "link":
                self._link(bool(msg["connected"]), float(msg["since"]), str(msg.get("error", "")))
        if alarms is not None:
            session.apply_alarms(alarms)
        session.add_events(events)
        if states:
            for gid, st in self.runtime.states.items():  # duty checks wait during a switch
                session.alarms.set_duty(gid, st.duty, st.status)
            self.states_changed.emit()
        if requests:
            self.requests_changed.emit(self.runtime.pending_requests())

    def _faults(self, docs: list[dict[str, Any]]) -> None:
        """The service's storage faults become this session's: the same banner
        (and, for the journal, tiles at DUTY ?) as a console polling itself."""
        faults = self.session.storage_faults
        areas = {str(d.get("area")) for d in docs}
        for old in faults.current():
            if old.area not in areas:
                faults.clear(old.area)
        for d in docs:
            faults.report(Path(str(d.get("path", ""))), str(d.get("area", "")),
                          str(d.get("problem", "")))

    def _link(self, connected: bool, since: float, error: str) -> None:
        if connected == self.connected and not error:
            return
        self.connected, self.since, self.error = connected, since, error
        if not connected:
            log.warning("%s", disconnected_text(since, self.runtime.url, error))
        else:
            log.info("connected to the site service at %s", self.runtime.url)
        self.link_changed.emit(connected, since, error)

    def banner_text(self) -> str:
        return "" if self.connected else disconnected_text(self.since, self.runtime.url,
                                                           self.error)

    def acknowledge(self, subject: str, key: str, comment: str) -> None:
        try:
            fut = self.runtime.call(lambda c: c.acknowledge(subject, key, comment))
        except RuntimeError as exc:
            log.warning("acknowledging %s %s: %s", subject, key, exc)
            return
        fut.add_done_callback(lambda f: f.cancelled() or f.exception() is None
                              or log.warning("acknowledging %s %s: %s", subject, key,
                                             f.exception()))
