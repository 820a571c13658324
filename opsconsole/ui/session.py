"""The GUI-side state of one open site: the LiveStore, the alarm tracker and
the last cycle's stats, fed by the bridge's batches.

Why the store lives on the GUI thread: every view reads it (rings for plots,
latest readings for tables), and LiveStore has no locks; ingest is a short,
vectorised step. Keeping one owner avoids locking every read. A big batch (the
first full pass of a 5,000-device site) is taken in slices, one per event-loop
turn, so no single step stalls the window.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from opsconsole.collectors.poller import CycleStats
from opsconsole.core.alarms import AlarmThresholds, AlarmTracker, Event
from opsconsole.core.readings import Reading, Status
from opsconsole.core.site import Site
from opsconsole.core.store import LiveStore

SLICE = 1000  # readings per event-loop turn
STATUS_CODES = {"pending": 0, "ok": 1, "partial": 2, "unreachable": 3, "error": 4}


class SiteSession(QObject):
    updated = Signal(list)  # device indices whose reading or alarm state changed
    events = Signal(list)  # list[core.alarms.Event]
    cycle_done = Signal(object)  # CycleStats
    first_data = Signal()

    def __init__(self, site: Site, *, demo: bool = False, history_s: float = 3600.0,
                 thresholds: AlarmThresholds | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.site = site
        self.demo = demo
        self.store = LiveStore(site, history_s)
        self.alarms = AlarmTracker(site, thresholds)
        self.devices = site.devices()
        self.kinds = np.array([d.kind for d in self.devices])
        self.group_ids = [g.id for g in site.groups]
        self.alarmed = np.zeros(len(self.devices), dtype=bool)
        self.status_code = np.zeros(len(self.devices), dtype=np.int8)  # STATUS_CODES
        self.last_cycle: CycleStats | None = None
        self.last_batch_at: float | None = None
        self.readings_in = 0
        self._queue: deque[Reading] = deque()
        self._slicing = False
        self._had_data = False
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick)
        self._tick.start()

    # -- input ----------------------------------------------------------------
    def ingest(self, batch: list[Reading]) -> None:
        self._queue.extend(batch)
        if not self._slicing:
            self._slicing = True
            self._take_slice()

    def on_cycle(self, stats: CycleStats) -> None:
        self.last_cycle = stats
        self.cycle_done.emit(stats)

    def _take_slice(self) -> None:
        n = min(SLICE, len(self._queue))
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
        changed = self.store.ingest(chunk)
        for i in changed:
            r = self.store.latest[i]
            if r is not None:
                self.status_code[i] = STATUS_CODES[r.status.value]
        events = self.alarms.update(chunk, now)
        changed = sorted(set(changed) | self._sync_alarm_flags(events))
        if events:
            self.events.emit(events)
        self.updated.emit(changed)
        if not self._had_data:
            self._had_data = True
            self.first_data.emit()

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
        events = self.alarms.tick(time.time())
        if events:
            touched = self._sync_alarm_flags(events)
            self.events.emit(events)
            if touched:
                self.updated.emit(sorted(touched))

    # -- queries the views share ------------------------------------------------
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
        rings), and counts total / ok / down (unreachable or error).
        Vectorised: one pass for all groups, not one summary() per group."""
        store = self.store
        k = len(store.scopes)
        out: dict[str, np.ndarray] = {}
        have = ~np.isnan(store.slot_ts)
        col = int(np.nanargmax(store.slot_ts)) if have.any() else -1
        for name in ("hashrate_ths", "power_w", "temp_c", "util_pct"):
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
        return out

    def efficiency_jth(self, group: str | None = None) -> float | None:
        """Miner power over miner hashrate (W per TH/s = J/TH), answering miners only."""
        power = self.store.current.get("power_w")
        rate = self.store.current.get("hashrate_ths")
        if power is None or rate is None:
            return None
        m = self.kinds == "miner"
        if group is not None:
            m &= self.store.group_idx == self.store.scope_index[group]
        both = m & ~np.isnan(power) & ~np.isnan(rate)
        total = float(rate[both].sum())
        return float(power[both].sum()) / total if total > 0 else None

    def unreachable_count(self) -> int:
        return sum(1 for r in self.store.latest
                   if r is not None and r.status is Status.UNREACHABLE)

    def stop(self) -> None:
        self._tick.stop()
        self._queue.clear()
