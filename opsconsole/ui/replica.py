"""ReplicaFeed: applies what the site service pushes (beside readings) to a
replica session on the GUI thread, for the console and the wall alike:
the active alarms, alarm events, duty states (their switching groups hold
the duty checks), two-person requests, the service's storage faults (the
same banner as a console polling itself), its data dir, and the link's
state for the "disconnected since" banner.

On connecting (and reconnecting) it backfills the trends: the last hour of
the site's and the groups' aggregates comes from the service's history
(/api/v1/history, on the client's thread), so charts and sparklines of a
new window start with the hour, not empty."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from opsconsole.core.alarms import Alarm, Event
from opsconsole.core.store import AGGREGATES, SITE
from opsconsole.ui import units
from opsconsole.ui.handoff import Handoff
from opsconsole.ui.remote import RemoteRuntime
from opsconsole.ui.session import SiteSession

log = logging.getLogger(__name__)

# the aggregates the charts, the wall's charts and the inference sparklines draw
BACKFILL_METRICS = tuple(m for m in ("hashrate_ths", "power_w", "temp_c", "util_pct",
                                     "tokens_per_s") if m in AGGREGATES)
BACKFILL_GROUPS = 64  # the site and at most this many groups (a request each per metric)
BACKFILL_PARALLEL = 8  # requests in flight at once
BACKFILL_RETRY_MS, BACKFILL_TRIES = 500, 60  # waiting for the store's first slot


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
        self.backfilled = 0  # ring slots filled from the service's history
        self.backfills = 0  # backfills applied (tests)
        self._history = Handoff(self)  # backfill answers, from the client's thread
        self._history.arrived.connect(self._on_history)
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
                if self.snapshots == 1 or not self.connected:  # new, or back after a gap
                    self._backfill()
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

    # -- trend backfill -------------------------------------------------------------
    def _backfill(self) -> None:
        store = self.session.store
        scopes = [SITE, *[g.id for g in self.session.site.groups][:BACKFILL_GROUPS]]
        asks = [(scope, metric) for scope in scopes for metric in BACKFILL_METRICS]
        since = time.time() - store.capacity * store.interval

        async def fetch(client: Any) -> list[tuple[str, str, Any]]:
            from opsconsole.core.history import iso
            from opsconsole.core.history.lookup import SITE_WORD, series_from_doc

            gate = asyncio.Semaphore(BACKFILL_PARALLEL)

            async def one(scope: str, metric: str) -> tuple[str, str, Any] | None:
                async with gate:
                    try:
                        doc = await client.history(SITE_WORD if scope == SITE else scope,
                                                   metric, iso(since))
                    except Exception as exc:  # an old service, a metric it refuses
                        log.debug("no backfill of %s %s: %s", scope, metric, exc)
                        return None
                return scope, metric, series_from_doc(doc["doc"])
            got = await asyncio.gather(*(one(s, m) for s, m in asks))
            return [g for g in got if g is not None]

        try:
            fut = self.runtime.call(fetch)
        except RuntimeError:
            return
        handoff = self._history

        def done(f: Future[Any]) -> None:  # the client's thread
            if not f.cancelled() and f.exception() is None:
                handoff.put(f.result())
            elif not f.cancelled():
                log.info("trends start empty: the service's history did not answer (%s)",
                         f.exception())
        fut.add_done_callback(done)

    def _on_history(self, answers: list[list[tuple[str, str, Any]]], tries: int = 0) -> None:
        store = self.session.store
        if store.newest_col() < 0:  # the snapshot's readings are not in yet
            if tries < BACKFILL_TRIES:
                QTimer.singleShot(BACKFILL_RETRY_MS,
                                  lambda: self._on_history(answers, tries + 1))
            return
        for answer in answers:
            for scope, metric, series in answer:
                self.backfilled += store.backfill(scope, metric, series.ts, series.mean)
            self.backfills += 1
        log.info("trends backfilled from the site service's history (%d slots)",
                 self.backfilled)

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
