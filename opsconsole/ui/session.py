"""The GUI-side state of one open site: the LiveStore, the alarm tracker and
the last cycle's stats, fed by the bridge's batches.

Why the store lives on the GUI thread: every view reads it (rings for plots,
latest readings for tables), and LiveStore has no locks; ingest is a short,
vectorised step. Keeping one owner avoids locking every read. A big batch (the
first full pass of a 5,000-device site) is taken in slices, one per event-loop
turn, so no single step stalls the window.
"""

from __future__ import annotations

import gc
import sys
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from opsconsole.collectors.poller import CycleStats
from opsconsole.core.alarms import Alarm, AlarmThresholds, AlarmTracker, Event, EventKind
from opsconsole.core.dutycheck import Contradiction, contradictions
from opsconsole.core.readings import Reading
from opsconsole.core.site import DUTIES, Site
from opsconsole.core.sitestate import SiteState
from opsconsole.core.storage import StorageFaults
from opsconsole.core.store import SITE, LiveStore
from opsconsole.core.store import STATUS_CODES as store_status_codes

SLICE = 1000  # readings per event-loop turn, at most
SLICE_MIN = 200  # ... and at least (each ingest has a fixed cost over all devices)
SLICE_BUDGET_S = 0.006  # a slice aims at this much GUI-thread time (a 16 ms frame's share)
GIL_SWITCH_S = 0.001  # the collector and history threads share the GIL with the GUI
GC_GEN0 = 5000  # objects allocated between young collections (Python's default: 700)


def tune_interpreter() -> None:
    """Settings for a GUI thread that shares the process with busy threads.

    - GIL switch interval 1 ms (default 5): when the GUI thread gives up the
      GIL (any Qt or numpy call that releases it), it waits at most a switch
      interval for a CPU-bound collector or history thread to hand it back.
      An interval set on purpose (not the default) is left alone.
    - Fewer young-generation collections: a batch of readings allocates
      thousands of objects; at the default threshold that is a collection
      every few hundred microseconds of work."""
    if sys.getswitchinterval() == 0.005:
        sys.setswitchinterval(GIL_SWITCH_S)
    t0, t1, t2 = gc.get_threshold()
    if 0 < t0 < GC_GEN0:
        gc.set_threshold(GC_GEN0, t1, t2)


def freeze_heap() -> None:
    """Move every object alive now (the site, its views, the collector's
    per-device state) out of the collector's reach. A full collection scans
    every tracked object: at 20,000 devices that was 600 ms with the window
    frozen; afterwards it scans only what changed since (the readings), a few
    milliseconds. Frozen objects are still freed by reference counting; only
    cycles among them wait for `gc.unfreeze()` (SiteSession.stop)."""
    gc.freeze()


_ALARM_EVENTS = (EventKind.ALARM, EventKind.CLEARED, EventKind.ACKNOWLEDGED)
STATUS_CODES = store_status_codes  # views colour and count by these codes


class SiteSession(QObject):
    updated = Signal(list)  # device indices whose reading or alarm state changed
    events = Signal(list)  # list[core.alarms.Event]
    cycle_done = Signal(object)  # CycleStats
    first_data = Signal()
    alarms_changed = Signal()  # an alarm was raised, acknowledged or cleared

    def __init__(self, site: Site, *, demo: bool = False, history_s: float = 3600.0,
                 thresholds: AlarmThresholds | None = None, replica: bool = False,
                 parent: QObject | None = None):
        super().__init__(parent)
        tune_interpreter()
        self.site = site
        self.demo = demo
        # replica: fed by a site service (ui/remote.py), which evaluates alarms and keeps
        # history; this session only stores readings and shows the service's alarms
        self.replica = replica
        self.acknowledger: Any = None  # replica: (subject, key, comment) -> sent to the service
        # store, alarms, history, alarm log and /metrics: core.sitestate, shared with the service
        self.state = SiteState(site, history_s=history_s, thresholds=thresholds)
        self.devices = site.devices()
        self.kinds = np.array([d.kind for d in self.devices])
        self.group_ids = [g.id for g in site.groups]
        self.alarmed = np.zeros(len(self.devices), dtype=bool)
        self.last_cycle: CycleStats | None = None
        self.last_batch_at: float | None = None
        self.readings_in = 0
        self._queue: deque[Reading] = deque()
        self._slicing = False
        self._slice_s_per_reading = SLICE_BUDGET_S / SLICE  # measured as slices run
        self._had_data = False
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick)
        self._tick.start()

    # -- the shared state's parts, by their old names -----------------------------
    @property
    def store(self) -> LiveStore:
        return self.state.store

    @property
    def alarms(self) -> AlarmTracker:
        return self.state.alarms

    @property
    def storage_faults(self) -> StorageFaults:
        return self.state.storage_faults

    @property
    def data_dir(self) -> Path | None:
        return self.state.data_dir

    @property
    def history(self) -> Any:  # core.history.HistoryWriter
        return self.state.history

    @history.setter
    def history(self, value: Any) -> None:
        self.state.history = value

    @property
    def alarm_log(self) -> Any:  # core.alarmlog.AlarmLog
        return self.state.alarm_log

    @alarm_log.setter
    def alarm_log(self, value: Any) -> None:
        self.state.alarm_log = value

    @property
    def exporter(self) -> Any:  # core.prometheus.MetricsServer
        return self.state.exporter

    @exporter.setter
    def exporter(self, value: Any) -> None:
        self.state.exporter = value

    # -- input ----------------------------------------------------------------
    def ingest(self, batch: list[Reading]) -> None:
        self._queue.extend(batch)
        if not self._slicing:
            self._slicing = True
            self._take_slice()

    def on_cycle(self, stats: CycleStats) -> None:
        if self.last_cycle is None:
            freeze_heap()  # the first full cycle built the per-device state: keep it out of GC
        self.last_cycle = stats
        self.cycle_done.emit(stats)

    def _slice_size(self) -> int:
        """Readings for the next slice: what fits the time budget at the rate
        the last slices ran (a loaded machine gets smaller slices)."""
        fit = int(SLICE_BUDGET_S / max(self._slice_s_per_reading, 1e-7))
        return max(SLICE_MIN, min(SLICE, fit))

    def _take_slice(self) -> None:
        t0 = time.perf_counter()
        n = min(self._slice_size(), len(self._queue))
        chunk = [self._queue.popleft() for _ in range(n)]
        if self._queue:
            QTimer.singleShot(0, self._take_slice)
        else:
            self._slicing = False
        if not chunk:
            return
        now = time.time()
        self.readings_in += len(chunk)
        self.last_batch_at = now
        if self.replica:
            changed, events = self.store.ingest(chunk), []
        else:
            changed, events = self.state.ingest(chunk, now)
        changed = sorted(set(changed) | self._sync_alarm_flags(events))
        if events:
            self.events.emit(events)
            self._alarms_touched(events)
        self.updated.emit(changed)
        if not self._had_data:
            self._had_data = True
            freeze_heap()  # the site and its views are built
            self.first_data.emit()
        elif len(chunk) >= SLICE_MIN:  # small slices say more about fixed costs than rate
            per = (time.perf_counter() - t0) / len(chunk)
            self._slice_s_per_reading = 0.7 * self._slice_s_per_reading + 0.3 * per

    def _sync_alarm_flags(self, events: list[Event]) -> set[int]:
        touched: set[int] = set()
        for ev in events:
            i = self.store.index.get(ev.device)
            if i is not None:
                flag = self.alarms.is_alarmed(ev.device)
                if self.alarmed[i] != flag:
                    self.alarmed[i] = flag
                    touched.add(i)
        return touched

    def _on_tick(self) -> None:
        if self.replica:
            return  # the service's alarm timers
        events = self.state.tick(time.time())
        if events:
            touched = self._sync_alarm_flags(events)
            self.events.emit(events)
            self._alarms_touched(events)
            if touched:
                self.updated.emit(sorted(touched))

    # -- queries the views share ------------------------------------------------
    @property
    def status_code(self) -> np.ndarray:
        """Each device's STATUS_CODES value, kept by the store on ingest."""
        return self.store.status_code

    def status_of(self, i: int) -> str:
        r = self.store.latest[i]
        return r.status.value if r is not None else "pending"

    def members(self, group: str | None) -> np.ndarray:
        """Device indices of a group (all devices for None)."""
        if group is None:
            return np.arange(len(self.devices))
        return np.nonzero(self.store.group_idx == self.store.scope_index[group])[0]

    def scope_latest(self) -> dict[str, np.ndarray]:
        """Per scope (index 0 the site, then the groups in order): the newest
        aggregates (hashrate_ths, power_w, temp_c, util_pct from the store's
        rings), counts total / ok / down (unreachable or error), and per
        aggregate how many devices that should feed it have no value now
        ("missing_power_w", ...: a sum over the others is a lower bound).
        Vectorised: one pass for all groups, not one summary() per group."""
        store = self.store
        k = len(store.scopes)
        out: dict[str, np.ndarray] = {}
        col = store.newest_col()
        for name in ("hashrate_ths", "power_w", "temp_c", "util_pct", "tokens_per_s"):
            ring = store.agg.get(name)
            out[name] = (ring[:, col].astype(np.float64) if ring is not None and col >= 0
                         else np.full(k, np.nan))
        g = store.group_idx
        total = np.bincount(g, minlength=k).astype(np.int64)
        ok = np.bincount(g, weights=store.ok_mask, minlength=k).astype(np.int64)
        down_mask = self.status_code >= STATUS_CODES["unreachable"]
        down = np.bincount(g, weights=down_mask, minlength=k).astype(np.int64)
        total[0], ok[0], down[0] = len(g), int(store.ok_mask.sum()), int(down_mask.sum())
        out.update(total=total, ok=ok, down=down)
        for name, missing in store.missing_latest().items():
            out[f"missing_{name}"] = missing
        return out

    def contradictions(self, duties: Mapping[str, str]) -> dict[str, Contradiction]:
        """Groups whose telemetry contradicts their duty now (core.dutycheck:
        idle but hashing, mining at 0 TH/s, inference with no GPU load), for
        the duties the journal gave; a badge that is a state (switching,
        unknown, ...) is no duty to contradict."""
        known = {g: d for g, d in duties.items() if d in DUTIES}
        return contradictions(self.store, known, self.alarms.thresholds, self.alarms.suspended)

    def efficiency_jth(self, group: str | None = None) -> float | None:
        """Miner power over miner hashrate (W per TH/s = J/TH), answering miners
        only (LiveStore.efficiency_jth also says how many miners it left out)."""
        return self.store.efficiency_jth(group or SITE)[0]

    # -- alarms you can act on, history ------------------------------------------------
    def group_power(self) -> dict[str, float | None]:
        """Each group's power now (W; the store's newest aggregate)."""
        return self.state.group_power()

    def _alarms_touched(self, events: list[Event]) -> None:
        if any(e.kind in _ALARM_EVENTS for e in events):
            self.alarms_changed.emit()

    # -- a replica's alarms and events, as the service sends them -------------------------
    def apply_alarms(self, alarms: list[Alarm]) -> None:
        """The service's whole active set (a replica evaluates nothing). The
        service resends it whole on every change; views hear only of changes."""
        subjects = self.alarms.replace(alarms)
        if not subjects:
            return
        touched: set[int] = set()
        for dev in subjects:
            i = self.store.index.get(dev)
            if i is not None:
                flag = self.alarms.is_alarmed(dev)
                if self.alarmed[i] != flag:
                    self.alarmed[i] = flag
                    touched.add(i)
        self.alarms_changed.emit()
        if touched:
            self.updated.emit(sorted(touched))

    def add_events(self, events: list[Event]) -> None:
        if events:
            self.events.emit(events)

    def set_switching(self, groups: set[str]) -> None:
        """Groups mid-switch (the service's duty states): no contradiction is shown for them."""
        self.alarms.suspended = set(groups)

    def acknowledge(self, subject: str, key: str, comment: str,
                    user: str | None = None) -> Alarm | None:
        """Acknowledge an active alarm as the OS user (or `user`), with a comment.
        A replica sends it to the service (as the token's user) and returns
        None: the service's `alarms` message brings the acknowledged alarm."""
        from opsconsole.core.duty.journal import os_user

        if self.replica:
            if self.acknowledger is not None:
                self.acknowledger(subject, key, comment)
            return None

        alarm, events = self.state.acknowledge(subject, key, user or os_user(), comment)
        if events:
            self.events.emit(events)
            self.alarms_changed.emit()
        return alarm

    def attach_storage(self, data_dir: Path) -> None:
        """History and the alarm log in the site's data dir (core.sitestate);
        the open alarms of the last run mark their devices. Never raises."""
        self.state.attach_storage(data_dir)
        for dev in self.alarms.active:
            i = self.store.index.get(dev)
            if i is not None:
                self.alarmed[i] = True
        self.alarms_changed.emit()

    def stop(self) -> None:
        self._tick.stop()
        self._queue.clear()
        gc.unfreeze()  # a closed site's objects become collectable again
        self.state.close()
