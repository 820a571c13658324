"""The live state of one open site, without Qt: the LiveStore, alarm
evaluation with its log, the history writer and an optional Prometheus
collector, fed batch by batch.

One owner per process calls it from one thread: the GUI's SiteSession (on
the GUI thread, in slices) and the site service's engine (on its asyncio
loop). Keeping the ingest step here means both evaluate alarms and write
history the same way.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from opsconsole.core.alarms import Alarm, AlarmThresholds, AlarmTracker, Event
from opsconsole.core.readings import Reading
from opsconsole.core.site import Site
from opsconsole.core.storage import StorageFaults
from opsconsole.core.store import LiveStore

GROUP_ALARMS_EVERY_S = 1.0  # group power alarms (held for a minute) need no more


class SiteState:
    def __init__(self, site: Site, *, history_s: float = 3600.0,
                 thresholds: AlarmThresholds | None = None) -> None:
        self.site = site
        self.store = LiveStore(site, history_s)
        self.alarms = AlarmTracker(site, thresholds)
        self.group_ids = [g.id for g in site.groups]
        self.history: Any = None  # core.history.HistoryWriter
        self.alarm_log: Any = None  # core.alarmlog.AlarmLog
        self.exporter: Any = None  # anything with publish(store) (core.prometheus)
        self.data_dir: Path | None = None
        self.storage_faults = StorageFaults()  # what is wrong with the data dir's files
        self._groups_checked = 0.0  # when group alarms were last evaluated

    def ingest(self, chunk: list[Reading], now: float | None = None) -> tuple[list[int],
                                                                              list[Event]]:
        """Store, history (queued: never waits on the disk), /metrics and
        alarms for one batch: (device indices changed, alarm events)."""
        now = time.time() if now is None else now
        changed = self.store.ingest(chunk)
        if self.history is not None:
            self.history.ingest(chunk, self.store)
        if self.exporter is not None:
            self.exporter.publish(self.store)
        events = self.alarms.update(chunk, now)
        if now - self._groups_checked >= GROUP_ALARMS_EVERY_S:
            # Every group (500 at 20,000 miners) in Python: once a second, not per batch.
            self._groups_checked = now
            events += self.alarms.update_groups(self.group_power(), now)
            events += self.alarms.update_duty_checks(self.store, now)
        return changed, events

    def tick(self, now: float | None = None) -> list[Event]:
        """Held and unreachable alarms whose time has come (call about once a second)."""
        return self.alarms.tick(time.time() if now is None else now)

    def group_power(self) -> dict[str, float | None]:
        """Each group's power now (W; the store's newest aggregate)."""
        col = self.store.newest_col()
        ring = self.store.agg.get("power_w")
        vals = (ring[1:, col] if ring is not None and col >= 0
                else np.full(len(self.group_ids), np.nan))
        return {g: (float(v) if np.isfinite(v) else None)
                for g, v in zip(self.group_ids, vals, strict=True)}

    def acknowledge(self, subject: str, key: str, user: str,
                    comment: str) -> tuple[Alarm | None, list[Event]]:
        return self.alarms.acknowledge(subject, key, user, comment, time.time())

    def attach_storage(self, data_dir: Path) -> None:
        """History and the alarm log in the site's data dir, each on its own:
        one that cannot be opened (corrupt, read-only) is a storage fault, and
        the other still runs. Open alarms of the last run come back
        (acknowledgements included). Never raises."""
        from opsconsole.core.alarmlog import AlarmLog
        from opsconsole.core.history import HistoryWriter
        from opsconsole.core.storage import StorageError

        self.data_dir = Path(data_dir)
        try:
            self.alarm_log = AlarmLog.in_dir(data_dir, self.storage_faults)
        except StorageError as exc:
            self.storage_faults.report_error(exc)
        else:
            self.alarms.attach_log(self.alarm_log)
        try:
            self.history = HistoryWriter.in_dir(data_dir, faults=self.storage_faults)
        except StorageError as exc:
            self.storage_faults.report_error(exc)

    def close(self) -> None:
        for name in ("history", "exporter", "alarm_log"):
            svc = getattr(self, name, None)
            if svc is not None:
                setattr(self, name, None)
                svc.close()
