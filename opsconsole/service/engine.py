"""The site engine: everything `opsconsole serve` owns for one site, on one
asyncio loop. The poller feeds core.sitestate.SiteState (live store, alarm
evaluation and its log, history writer, /metrics collector, the same code the
GUI uses); the DutyController with its journal, audit and the two-person desk
runs switches; every change is published to the push stream's hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import Any

from opsconsole.collectors.duty_actions import EXECUTORS
from opsconsole.collectors.poller import CycleStats, Poller
from opsconsole.core.alarmlog import AlarmLog
from opsconsole.core.alarms import Alarm, Event
from opsconsole.core.duty import DutyController, GroupState, Journal, ProgressEvent
from opsconsole.core.duty.approvals import Approvals
from opsconsole.core.duty.desk import DutyDesk
from opsconsole.core.prometheus import ReadingsCollector
from opsconsole.core.readings import Reading
from opsconsole.core.report import device_entry, poll_doc, scope_entry
from opsconsole.core.site import Site
from opsconsole.core.sitestate import SiteState
from opsconsole.core.storage import StorageError, StorageFault
from opsconsole.core.store import SITE
from opsconsole.service.hub import Hub

log = logging.getLogger(__name__)

EVENTS_KEPT = 1000  # recent alarm events served by /api/v1/events
FIRST_PASS_WAIT_S = 120.0
DUTIES_FIRST_WAIT_S = 5.0
DUTIES_RETRY_S = 5.0


def alarm_dict(a: Alarm, log: AlarmLog | None = None) -> dict[str, Any]:
    """An alarm for the API; `log_id` is its row in the alarm log (None while
    the writer thread has not written it yet, or when its record was lost)."""
    d = asdict(a)
    d["kind"] = str(a.kind)
    key = d.pop("log_key")
    d["log_id"] = log.row_id(key) if log is not None and key is not None else None
    return d


def event_dict(e: Event) -> dict[str, Any]:
    return {"ts": e.ts, "device": e.device, "kind": str(e.kind), "message": e.message}


def state_dict(st: GroupState) -> dict[str, Any]:
    return asdict(st) | {"label": st.label}


def fault_dict(f: StorageFault) -> dict[str, Any]:
    return {"area": f.area, "path": str(f.path), "problem": f.problem, "since": f.since}


class SiteEngine:
    def __init__(self, site: Site, data_dir: Path, *, read_only: bool = False,
                 batch_interval_s: float = 0.5, simulated_nvml: Any = None) -> None:
        """`simulated_nvml`: what `nvml = "simulated"` polls (sim.nvml_sim.SimNvml,
        handed in by cli/serve.py: the service never imports sim)."""
        self.site = site
        self.simulated_nvml = simulated_nvml
        self.data_dir = Path(data_dir)
        self.read_only = read_only
        self.batch_interval_s = batch_interval_s
        self.hub = Hub()
        self.state = SiteState(site)
        self.collector = ReadingsCollector(site)
        self.devices = {d.id: d for d in site.devices()}
        self.events: deque[dict[str, Any]] = deque(maxlen=EVENTS_KEPT)
        self.cycles = 0  # full poll cycles reported by the poller
        self.batches = 0
        self.readings_in = 0
        self.cycle_s = 0.0
        self.last_cycle: CycleStats | None = None
        self.first_pass = asyncio.Event()
        self.started_at = time.time()
        self.poller: Poller | None = None
        self.ctl: DutyController | None = None
        self.desk: DutyDesk | None = None
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        self._expiring: asyncio.Task | None = None

    # -- life -------------------------------------------------------------------
    async def start(self) -> None:
        """Open the data dir's files, then poll in the background. A journal or
        approvals file that cannot be used turns duty switching off (ctl and
        desk stay None) and is a storage fault, like a bad history or alarm
        log: the service runs on and every client shows the fault."""
        loop = asyncio.get_running_loop()

        def faults_changed(_faults: list[StorageFault]) -> None:  # any thread (the writer's)
            loop.call_soon_threadsafe(self._publish_faults)
        self.state.storage_faults.add_listener(faults_changed)
        # SQLite files are opened in a worker thread (a journal from before
        # `origin_host` is migrated: a write); nothing runs on this loop yet.
        opened = await asyncio.to_thread(self._open_storage)
        self.state.exporter = self.collector
        self.poller = Poller(self.site, self._on_batch, on_cycle=self._on_cycle,
                             batch_interval_s=self.batch_interval_s,
                             simulated_nvml=self.simulated_nvml)
        if opened is None:  # switching is off (the fault says why): poll, record, serve
            self._tasks = [asyncio.create_task(self._poll_forever(), name="poller"),
                           asyncio.create_task(self._tick_forever(), name="alarm-tick")]
            return
        journal, approvals = opened
        self.ctl = DutyController(self.site, journal, self.poller, executors=EXECUTORS,
                                  read_only=self.read_only)
        self.ctl.add_listener(self._on_progress)
        self.desk = DutyDesk(self.ctl, approvals, measure=self.measured_kw)
        self.desk.add_listener(self._on_request)
        duties = asyncio.create_task(self._load_duties(), name="duties")
        # alarms judge a group by its journal duty (no hashrate alarm while idle): give
        # the journal a moment before the first pass, never another process's whole lock
        await asyncio.wait({duties}, timeout=DUTIES_FIRST_WAIT_S)
        self._tasks = [duties, asyncio.create_task(self._poll_forever(), name="poller"),
                       asyncio.create_task(self._tick_forever(), name="alarm-tick")]

    async def _load_duties(self) -> None:
        """The journal's duty per group for the alarms. Polling does not wait
        for it: another process may hold the journal's lock (its busy timeout,
        then again) and the site file's duties stand meanwhile."""
        assert self.ctl is not None
        while True:
            try:
                states = await asyncio.to_thread(self.ctl.states)
            except Exception as exc:  # locked too long, unreadable: say so, try again
                log.warning("duty states not read yet: %s", exc)
                await asyncio.sleep(DUTIES_RETRY_S)
                continue
            for gid, st in states.items():
                self.state.alarms.set_duty(gid, st.duty, st.status)
            return

    def _open_storage(self) -> tuple[Journal, Approvals] | None:
        """The journal and approvals, or None (a storage fault) when they cannot be used."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.state.attach_storage(self.data_dir)  # history / alarm log faults: logged, run on
        try:
            journal = Journal.in_dir(self.data_dir)
        except StorageError as exc:  # one log line (StorageFaults), no traceback
            self.state.storage_faults.report_error(exc)
            return None
        try:
            approvals = Approvals.in_dir(self.data_dir)
        except StorageError as exc:
            journal.close()
            self.state.storage_faults.report_error(exc)
            return None
        except BaseException:
            journal.close()
            raise
        return journal, approvals

    def _close_storage(self) -> None:
        """Write what the alarm log and history still queue, then close every file."""
        self.state.close()
        if self.desk is not None and self.desk.approvals is not None:
            self.desk.approvals.close()
        if self.ctl is not None:
            self.ctl.journal.close()

    async def stop(self) -> None:
        if self._expiring is not None:
            self._tasks.append(self._expiring)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.poller is not None:
            await self.poller.close()
        self.state.exporter = None
        await asyncio.to_thread(self._close_storage)

    async def _poll_forever(self) -> None:
        assert self.poller is not None
        t0 = time.monotonic()
        first = await self.poller.poll_once()  # a full pass at once: clients see data in seconds
        self.cycle_s = time.monotonic() - t0
        self._on_batch(first)
        self.collector.publish(cycle_s=self.cycle_s)
        self.first_pass.set()
        await self.poller.run()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self.alarm_events(self.state.tick())
                if self.desk is not None and self.desk.approvals is not None and (
                        self._expiring is None or self._expiring.done()):
                    # its own task: a locked approvals file must not hold up the alarm tick
                    self._expiring = asyncio.create_task(self._expire_requests())
            except Exception:  # one bad tick must not end alarm evaluation
                log.exception("alarm tick failed")

    async def _expire_requests(self) -> None:
        """Requests past their time (SQLite writes: in a worker thread)."""
        assert self.desk is not None and self.desk.approvals is not None
        approvals = self.desk.approvals
        try:
            for req in await asyncio.to_thread(
                    lambda: [approvals.get(rid) for rid in approvals.expire()]):
                self._on_request(req)
        except Exception:
            log.exception("expiring approval requests failed")

    # -- what happens -------------------------------------------------------------
    def _on_batch(self, batch: list[Reading]) -> None:
        if not batch:
            return
        self.batches += 1
        self.readings_in += len(batch)
        _, events = self.state.ingest(batch)
        if self.hub.subscribers:
            groups = {self.devices[r.device].group for r in batch if r.device in self.devices}
            self.hub.publish("readings",
                             devices=[{**device_entry(self.site, r, self.devices), "ts": r.ts}
                                      for r in batch if r.device in self.devices],
                             groups=[{"id": g, **scope_entry(self.state.store, g)}
                                     for g in sorted(groups)],
                             totals={"id": "site", **scope_entry(self.state.store, SITE)})
        self.alarm_events(events)

    def alarm_events(self, events: list[Event]) -> None:
        if not events:
            return
        docs = [event_dict(e) for e in events]
        self.events.extend(docs)
        self.hub.publish("events", events=docs)
        self.hub.publish("alarms", alarms=self.alarms())

    def _on_cycle(self, stats: CycleStats) -> None:
        self.cycles += 1
        self.last_cycle = stats
        self.cycle_s = stats.duration_s
        self.collector.publish(cycle_s=stats.duration_s)
        self.hub.publish("cycle", cycle=stats.cycle, duration_s=round(stats.duration_s, 3),
                         polled=stats.polled, skipped=stats.skipped, late=stats.late,
                         counts=dict(stats.counts))

    def _on_progress(self, ev: ProgressEvent) -> None:
        self.hub.publish("duty", event=asdict(ev))
        if ev.kind in ("plan-start", "done"):
            task = asyncio.get_running_loop().create_task(self._duty_changed(ev.group))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _duty_changed(self, group: str) -> None:
        """A switch began or ended: alarms follow the journal's duty; clients hear it."""
        states = await self.group_states()
        for st in states:
            if st["group"] == group:
                self.state.alarms.set_duty(group, st["duty"], st["status"])
        self.hub.publish("groups", groups=states)

    def faults(self) -> list[dict[str, Any]]:
        """The data dir's storage faults now (journal, history, alarm log)."""
        return [fault_dict(f) for f in sorted(self.state.storage_faults.current(),
                                              key=lambda f: f.area)]

    def _publish_faults(self) -> None:
        self.hub.publish("faults", faults=self.faults())

    def _on_request(self, req: dict[str, Any] | None) -> None:
        if req is not None:
            self.hub.publish("request", request=req)

    # -- what clients read ----------------------------------------------------------
    def measured_kw(self) -> dict[str, float]:
        """Power now per group (kW) from the live store: groups with data only."""
        out: dict[str, float] = {}
        for g in self.site.groups:
            s = self.state.store.summary(g.id)
            if s.devices_ok and s.power_w is not None:
                out[g.id] = s.power_w / 1000.0
        return out

    async def group_states(self) -> list[dict[str, Any]]:
        """Each group's duty and switch state from the journal (read in a thread:
        another process may hold the file's lock)."""
        if self.ctl is None:  # switching is off: no duty is known (a storage fault)
            return []
        states = await asyncio.to_thread(self.ctl.states)
        return [state_dict(st) for st in states.values()]

    def alarms(self) -> list[dict[str, Any]]:
        return [alarm_dict(a, self.state.alarm_log) for a in self.state.alarms.alarms()]

    async def snapshot(self) -> dict[str, Any]:
        """The `poll --once --format json` document of the latest readings."""
        states = await asyncio.to_thread(self.ctl.states) if self.ctl is not None else {}
        readings = [r for r in self.state.store.latest if r is not None]
        return poll_doc(self.site, self.state.store, readings, self.cycle_s, states)

    async def stream_snapshot(self, user: str, role: str) -> dict[str, Any]:
        """The push stream's first message (and its answer to an overflow)."""
        seq = self.hub.seq
        return {"type": "snapshot", "seq": seq, "user": user, "role": role,
                "read_only": self.read_only, "poll": await self.snapshot(),
                "duty": await self.group_states(), "alarms": self.alarms(),
                "requests": await self.desk.requests() if self.desk is not None else [],
                "events": list(self.events)[-100:], "faults": self.faults(),
                "data_dir": str(self.data_dir)}

    async def wait_first_pass(self, timeout: float = FIRST_PASS_WAIT_S) -> bool:
        try:
            await asyncio.wait_for(self.first_pass.wait(), timeout)
        except TimeoutError:
            return False
        return True
