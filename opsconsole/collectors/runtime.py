"""The collector thread: one asyncio loop on one dedicated thread owns all
network I/O, NVML calls and duty execution (core/duty). Callers on other threads
(the GUI) submit coroutines and receive batches through callbacks, which run
ON THE COLLECTOR THREAD: the UI bridge turns them into queued Qt signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from opsconsole.collectors.poller import CycleStats, Poller
from opsconsole.core.readings import Reading
from opsconsole.core.site import Site

log = logging.getLogger(__name__)


class CollectorRuntime:
    """Start/stop the loop thread and the poller on it.

    `demo_site` (an unstarted opsconsole.sim.site.SimSite) is started on the
    same loop before polling, for `--demo`: the simulated agents then live in
    process, on loopback UDP like real devices. Its site file is written to
    `demo_config` and loaded; `self.site` is set once `start()` returns.
    `simulated_nvml` (sim.nvml_sim.SimNvml) makes the GPUs of `nvml = "simulated"`;
    the ui hands it in (ui/bridge.py `local_runtime`): collectors never import sim.
    """

    def __init__(
        self,
        site: Site | None,
        on_batch: Callable[[list[Reading]], None],
        on_cycle: Callable[[CycleStats], None] | None = None,
        *,
        demo_site: Any = None,
        demo_config: Path | None = None,
        batch_interval_s: float = 0.5,
        simulated_nvml: Any = None,
    ):
        self.site = site
        self._on_batch = on_batch
        self._on_cycle = on_cycle
        self.demo_site = demo_site
        self.demo_config = demo_config
        self.batch_interval_s = batch_interval_s
        self.simulated_nvml = simulated_nvml  # for `nvml = "simulated"`, from the ui
        self.loop: asyncio.AbstractEventLoop | None = None
        self.poller: Poller | None = None
        self._thread: threading.Thread | None = None
        self._main_task: asyncio.Task | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self._duty: Any = None  # the DutyController, see duty_controller()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="collector", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=60)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._main_task = loop.create_task(self._main())
            loop.run_until_complete(self._main_task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # reported to the owner, never lost
            self.error = exc
            log.exception("collector loop failed")
        finally:
            self._ready.set()
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in pending:
                    t.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _main(self) -> None:
        if self.demo_site is not None:
            from opsconsole.core.siteload import load_site

            await self.demo_site.start()
            path = self.demo_config or (
                Path(tempfile.mkdtemp(prefix="opsconsole-demo-")) / "site.toml")
            self.demo_site.write_config(path)
            self.site = load_site(path)
        assert self.site is not None
        self.poller = Poller(self.site, self._on_batch, on_cycle=self._on_cycle,
                             batch_interval_s=self.batch_interval_s,
                             simulated_nvml=self.simulated_nvml)
        self._ready.set()
        try:
            # a first pass at once, so the window fills in seconds, not a cycle
            first = await self.poller.poll_once()
            self._on_batch(first)
            await self.poller.run()
        finally:
            await self.poller.close()
            if self.demo_site is not None:
                await self.demo_site.stop()

    def duty_controller(self, data_dir: Path | None = None, *, read_only: bool = False) -> Any:
        """The site's DutyController (created on first call, after start()): it
        shares this runtime's poller, so its SNMP engine and its one NvmlCollector.
        Await its coroutines through submit(); progress callbacks run on the
        collector thread. data_dir default: core.datadir.resolve_data_dir(site).
        Raises StorageError for a journal that cannot be opened."""
        if self._duty is None:
            from opsconsole.collectors.duty_actions import EXECUTORS
            from opsconsole.core.datadir import resolve_data_dir
            from opsconsole.core.duty import DutyController, Journal

            if self.site is None or self.poller is None:
                raise RuntimeError("start() the runtime before asking for its duty controller")
            ddir = data_dir or resolve_data_dir(self.site).path
            self._duty = DutyController(self.site, Journal.in_dir(ddir), self.poller,
                                        executors=EXECUTORS, read_only=read_only)
        return self._duty

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future:
        """Run a coroutine on the collector loop; never blocks the caller."""
        if self.loop is None or not self.loop.is_running():
            coro.close()
            raise RuntimeError("collector loop is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel polls in flight, close engines and agents, join the thread."""
        loop, task = self.loop, self._main_task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(task.cancel)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("collector thread did not stop within %.0f s", timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
