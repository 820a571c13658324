"""The bridge between the collector thread and the GUI thread.

The CollectorRuntime's callbacks run ON THE COLLECTOR THREAD. Readings go
through a Handoff (ui/handoff.py): the GUI receives at most one batch signal
per event-loop turn however fast the poller flushes, and the collector never
waits on the GUI. Readings that arrive before `started` is handled are held
for it.

Starting the runtime waits for the simulated site / site load, so it runs on
a short-lived helper thread; the GUI hears `started` or `failed`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from opsconsole.collectors.poller import CycleStats
from opsconsole.collectors.runtime import CollectorRuntime
from opsconsole.core.readings import Reading
from opsconsole.core.site import Site
from opsconsole.sim import simulated_nvml
from opsconsole.ui.handoff import Handoff

log = logging.getLogger(__name__)

RuntimeFactory = Callable[..., Any]


def local_runtime(*args: Any, **kw: Any) -> CollectorRuntime:
    """The in-process collector runtime, given the simulated GPUs that
    `nvml = "simulated"` polls (collectors never import sim themselves)."""
    return CollectorRuntime(*args, simulated_nvml=simulated_nvml, **kw)


class CollectorBridge(QObject):
    started = Signal(object)  # Site, once the collector loop runs
    failed = Signal(str)  # could not start (one line)
    batch = Signal(list)  # list[Reading], on the GUI thread
    cycle = Signal(object)  # CycleStats, on the GUI thread
    _cycle_in = Signal(object)
    _start_done = Signal(object, str)

    def __init__(self, site: Site | None = None, *, demo_site: Any = None,
                 runtime_factory: RuntimeFactory = local_runtime,
                 batch_interval_s: float = 0.5, parent: QObject | None = None):
        super().__init__(parent)
        self._readings = Handoff(self)
        self._readings.held = True  # until `started`: consumers do not know the site yet
        self._readings.arrived.connect(self._deliver)
        self._stopping = False
        self.batches_received = 0
        self.runtime = runtime_factory(site, self._on_batch_collector, self._on_cycle_collector,
                                       demo_site=demo_site, batch_interval_s=batch_interval_s)
        self._starter: threading.Thread | None = None
        q = Qt.ConnectionType.QueuedConnection
        self._cycle_in.connect(self.cycle.emit, q)
        self._start_done.connect(self._on_start_done, q)

    # -- lifecycle (GUI thread) ---------------------------------------------
    def start(self) -> None:
        """Start the collector without blocking the caller."""
        self._starter = threading.Thread(target=self._start_runtime, name="collector-start",
                                         daemon=True)
        self._starter.start()

    def _start_runtime(self) -> None:
        try:
            self.runtime.start()
        except BaseException as exc:  # reported as one line, the runtime logged it
            self._start_done.emit(None, f"{type(exc).__name__}: {exc}")
            return
        self._start_done.emit(self.runtime.site, "")

    def _on_start_done(self, site: Site | None, error: str) -> None:
        if self._stopping:
            return
        if site is None:
            self.failed.emit(error or "collector did not start")
        else:
            self.started.emit(site)
            self._readings.release()  # readings may have raced ahead of this signal

    def stop(self) -> None:
        """Cancel polls in flight and join the collector thread. Safe to call
        twice, and while the runtime is still starting."""
        if self._stopping:
            return
        self._stopping = True
        self._readings.close()
        if self._starter is not None:
            self._starter.join(timeout=70)
        try:
            self.runtime.stop()
        except Exception:  # shutting down: log, never raise into Qt
            log.exception("stopping the collector failed")

    @property
    def running(self) -> bool:
        return bool(getattr(self.runtime, "running", False)) and not self._stopping

    # -- collector thread ---------------------------------------------------
    def _on_batch_collector(self, batch: list[Reading]) -> None:
        self._readings.extend(batch)

    def _on_cycle_collector(self, stats: CycleStats) -> None:
        if not self._stopping:
            self._cycle_in.emit(stats)

    # -- GUI thread ---------------------------------------------------------
    def _deliver(self, batch: list[Reading]) -> None:
        if not self._stopping:
            self.batches_received += 1
            self.batch.emit(batch)
