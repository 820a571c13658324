"""DutyClient: the GUI thread's handle on the DutyController.

The controller lives on the collector loop. Every call goes there through
`runtime.submit(...)` (even the quick, synchronous ones: the journal is SQLite
and may wait on another process's lock, which must never freeze the window);
results come back as callbacks on the GUI thread through a queued signal.

Progress events arrive on the collector thread. Like the telemetry bridge,
they go through a Handoff (ui/handoff.py), so a 500-device step reaches the
GUI as a few batches, not 500 signals; finished calls come back the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from opsconsole.core.duty import DutyController, GroupState, ProgressEvent
from opsconsole.core.storage import StorageError, StorageFaults
from opsconsole.ui.handoff import Handoff

log = logging.getLogger(__name__)

Done = Callable[[Any, BaseException | None], None]  # (result, error), on the GUI thread


class DutyClient(QObject):
    progress = Signal(list)  # list[ProgressEvent], GUI thread, batched
    states_changed = Signal(dict)  # dict[str, GroupState], GUI thread

    def __init__(self, runtime: Any, data_dir: Path | None, *, read_only: bool,
                 faults: StorageFaults | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.runtime = runtime
        self.faults = faults  # a journal that fails later goes to the banner too
        # the LiveStore belongs to the GUI thread: plans get the measured
        # power from the caller (measured_kw)
        self.controller: DutyController = runtime.duty_controller(data_dir,
                                                                  read_only=read_only)
        self.read_only = self.controller.read_only
        self.states: dict[str, GroupState] = {}
        self._closed = False
        self._progress = Handoff(self)  # ProgressEvents from the collector thread
        self._progress.arrived.connect(self._on_progress)
        self._calls = Handoff(self)  # zero-argument callables to run on the GUI thread
        self._calls.arrived.connect(self._run_calls)
        self.controller.add_listener(self._progress.put)

    # -- calls onto the collector loop ------------------------------------------
    def call(self, make: Callable[[DutyController], Coroutine[Any, Any, Any]],
             done: Done | None = None) -> Future | None:
        """Run make(controller) on the loop; done(result, error) on the GUI thread.
        None (and done(None, error)) when the loop is not running."""
        if self._closed:
            return None
        try:
            fut = self.runtime.submit(make(self.controller))
        except RuntimeError as exc:
            if done is not None:
                done(None, exc)
            return None
        if done is not None:
            fut.add_done_callback(lambda f: self._post(lambda: self._finish(f, done, self.faults)))
        return fut

    def call_sync(self, fn: Callable[[DutyController], Any],
                  done: Done | None = None) -> Future | None:
        """A synchronous controller method (state, audit): it reads the journal,
        so it runs in a worker thread, never on the collector loop."""
        async def run(ctl: DutyController) -> Any:
            return await asyncio.to_thread(fn, ctl)
        return self.call(run, done)

    def _post(self, fn: Callable[[], None]) -> None:
        self._calls.put(fn)

    def _run_calls(self, fns: list[Callable[[], None]]) -> None:
        for fn in fns:
            if not self._closed:
                fn()

    @staticmethod
    def _finish(fut: Future, done: Done, faults: StorageFaults | None = None) -> None:
        if fut.cancelled():
            done(None, RuntimeError("the collector stopped before the call finished"))
            return
        exc = fut.exception()
        if isinstance(exc, StorageError) and faults is not None:
            faults.report_error(exc)  # logs one line once; the banner shows it
        elif exc is not None:
            log.warning("duty call failed: %s", exc)
        done(None if exc is not None else fut.result(), exc)

    # -- group states -----------------------------------------------------------------
    def refresh_states(self) -> None:
        self.call_sync(lambda ctl: ctl.states(), self._on_states)

    def _on_states(self, states: dict[str, GroupState] | None, err: BaseException | None) -> None:
        if err is None and states is not None:
            self.states = states
            self.states_changed.emit(states)

    def group_size(self, group: str) -> int:
        g = self.controller.site.group(group)
        return len(g.devices) if g is not None else 0

    def cancel(self, group: str) -> bool:
        """Thread-safe in the controller (a flag read between steps)."""
        return self.controller.cancel(group)

    # -- progress events, handed over from the collector thread ---------------------------
    def _on_progress(self, events: list[ProgressEvent]) -> None:
        if events and not self._closed:
            self.progress.emit(events)
            if any(e.kind == "done" for e in events):
                self.refresh_states()

    # -- shutdown ------------------------------------------------------------------------
    def close(self) -> None:
        """After the runtime stopped: no more callbacks; close the journal."""
        self._closed = True
        self._progress.close()
        self._calls.close()
        try:
            self.controller.journal.close()
        except Exception:  # closing: log, never raise into Qt
            log.exception("closing the duty journal failed")
