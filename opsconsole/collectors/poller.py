"""The poller: every device once per interval, spread evenly over it, under a
concurrency bound, with back-off for dead devices. Runs on one asyncio loop
(the collector thread); hands readings out in batches, never one by one."""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opsconsole.collectors import snmp_collector
from opsconsole.collectors.snmp.engine import SnmpEngine, SnmpTarget
from opsconsole.core.readings import Reading, Status, flatten
from opsconsole.core.site import Device, Site

if TYPE_CHECKING:
    from opsconsole.collectors.nvml import SimulatedNvml

log = logging.getLogger(__name__)

MAX_BACKOFF_CYCLES = 6  # a dead device is still tried at least every 7 intervals
LATE_AFTER_S = 1.0  # a poll that starts this long after its slot is "late"
# Polls due within this much of now (at most 1 % of the interval) start
# together: one wake-up of the loop for a handful of polls instead of one
# each (20,000 devices a minute are 3 ms apart), and their replies share the
# loop's turns (API miners at 200 polls/s: 0.85 instead of 1.0-1.25 ms CPU a poll).
DISPATCH_AHEAD_S = 0.05


@dataclass(slots=True)
class CycleStats:
    cycle: int  # absolute cycle number: floor(start / interval)
    started: float
    duration_s: float = 0.0  # first poll start -> last poll end
    polled: int = 0
    skipped: int = 0  # backing off this cycle
    late: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Status})
    poll_time_s: float = 0.0  # sum of poll durations


@dataclass(slots=True)
class _DevState:
    device: Device
    offset: float  # seconds into each cycle
    failures: int = 0  # consecutive unreachable polls
    skip_until_cycle: int = -1
    in_flight: bool = False


def build_target(site: Site, device: Device, quick: bool = False) -> SnmpTarget:
    creds = site.credentials[device.credentials or ""]
    timeout = device.timeout_s if device.timeout_s is not None else site.snmp_timeout_s
    retries = device.retries if device.retries is not None else site.snmp_retries
    # A device already known dead gets one try: retrying it only holds a slot.
    return SnmpTarget(device.host or "", device.port, creds, timeout, 0 if quick else retries)


def make_engine(site: Site) -> SnmpEngine:
    """The engine named by `[site] snmp_engine` (auto: lean with pysnmp fallback)."""
    choice = getattr(site, "snmp_engine", "auto")
    if choice == "pysnmp":
        from opsconsole.collectors.snmp.pysnmp_engine import PysnmpEngine

        return PysnmpEngine()
    if choice == "lean":
        from opsconsole.collectors.snmp.lean_engine import LeanEngine

        return LeanEngine()
    from opsconsole.collectors.snmp.auto_engine import AutoEngine

    return AutoEngine()


class Poller:
    def __init__(
        self,
        site: Site,
        on_batch: Callable[[list[Reading]], None],
        *,
        engine: SnmpEngine | None = None,
        nvml: object | None = None,
        simulated_nvml: SimulatedNvml | None = None,
        on_cycle: Callable[[CycleStats], None] | None = None,
        batch_interval_s: float = 0.5,
    ):
        self.site = site
        self.on_batch = on_batch
        self.on_cycle = on_cycle
        self.batch_interval_s = batch_interval_s
        self.interval = float(site.poll_interval_s)
        self.dispatch_ahead_s = min(DISPATCH_AHEAD_S, self.interval / 100)
        self._engine = engine
        self._nvml = nvml
        self._simulated_nvml = simulated_nvml  # for `nvml = "simulated"` (sim.nvml_sim.SimNvml)
        self._nvml_pool: ThreadPoolExecutor | None = None
        self._miner_api: Any = None
        self._scraper: Any = None  # http_scrape.Scraper, made on the loop when first needed
        self._dcgm: Any = None
        self._inference: Any = None
        self._sem: asyncio.Semaphore | None = None
        self._pending: list[Reading] = []
        self._cycles: dict[int, CycleStats] = {}
        self._tasks: set[asyncio.Task] = set()
        devices = site.polled_devices()  # a gpu-host's GPUs come with its scrape
        n = max(1, len(devices))
        # Spread: a stable pseudo-random order, so neighbours on a rack (often
        # one PDU, one switch) are not hit in the same instant.
        order = sorted(devices, key=lambda d: zlib.crc32(d.id.encode()))
        self.states = [_DevState(d, self.interval * k / n) for k, d in enumerate(order)]
        self.last_cycle: CycleStats | None = None

    # -- the engines --------------------------------------------------------
    @property
    def engine(self) -> SnmpEngine:
        if self._engine is None:
            self._engine = make_engine(self.site)
        return self._engine

    def _nvml_collector(self):
        if self._nvml is None:
            from opsconsole.collectors.nvml import NvmlCollector, make_nvml_backend

            gpus = [d for d in self.site.devices() if d.kind == "gpu" and d.parent is None]
            count = max([d.nvml_index or 0 for d in gpus] + [-1]) + 1
            backend = make_nvml_backend(self.site.nvml, count, seed=1,
                                        simulated=self._simulated_nvml)
            if backend is not None and hasattr(backend, "root"):
                backend.root = True  # the simulated site acts as root: duty switching sets limits
            self._nvml = NvmlCollector(backend)
        return self._nvml

    @property
    def nvml(self) -> Any:
        """The one NvmlCollector of this poller; duty switching shares it, so
        a power limit it sets is what the next poll reads (simulated GPUs too)."""
        return self._nvml_collector()

    async def run_nvml(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking NVML call in the poller's one NVML thread."""
        if self._nvml_pool is None:
            # NVML calls block: one worker thread keeps them off the loop
            # and serialised, as the library prefers.
            self._nvml_pool = ThreadPoolExecutor(1, thread_name_prefix="nvml")
        return await asyncio.get_running_loop().run_in_executor(self._nvml_pool, fn, *args)

    def _scrapers(self) -> tuple[Any, Any]:
        """The dcgm and inference collectors, sharing one keep-alive HTTP session."""
        if self._scraper is None:
            from opsconsole.collectors.dcgm import DcgmCollector
            from opsconsole.collectors.http_scrape import Scraper
            from opsconsole.collectors.inference import InferenceCollector

            self._scraper = Scraper(limit=min(1024, self.site.max_concurrency))
            self._dcgm = DcgmCollector(self._scraper)
            self._inference = InferenceCollector(self._scraper)
        return self._dcgm, self._inference

    # -- one poll -----------------------------------------------------------
    @property
    def miner_api(self) -> Any:
        """The one MinerApi of this poller (per-miner connection limits, the
        detected firmware); duty switching shares it."""
        if self._miner_api is None:
            from opsconsole.collectors.minerapi.client import MinerApi

            self._miner_api = MinerApi()
        return self._miner_api

    async def poll_device(self, device: Device, quick: bool = False) -> Reading:
        """One device's reading; a gpu-host's carries its GPUs' readings as parts,
        and a GPU behind a gpu-host is read by scraping its host."""
        try:
            if device.parent is not None:
                host = self.site.device(device.parent)
                assert host is not None
                r = await self.poll_device(host, quick)
                return next((p for p in r.parts if p.device == device.id),
                            Reading(device.id, r.ts, r.status, {}, r.error))
            if device.kind == "gpu-host":
                return await self._scrapers()[0].collect(device)
            if device.kind == "inference":
                return await self._scrapers()[1].collect(device)
            if device.kind == "gpu":
                return await self.run_nvml(self._nvml_collector().collect, device)
            if device.api is not None:
                from opsconsole.collectors.minerapi.collector import collect

                return await collect(self.miner_api, device, device.timeout_s)
            profile = self.site.profiles[device.profile or ""]
            target = build_target(self.site, device, quick)
            return await snmp_collector.collect(self.engine, device.id, target, profile)
        except Exception as exc:  # a bug must cost one reading, not the poller
            log.exception("poll of %s failed", device.id)
            return Reading(device.id, time.time(), Status.ERROR, {},
                           f"internal error: {type(exc).__name__}: {exc}")

    async def poll_once(self, concurrency: int | None = None) -> list[Reading]:
        """Every device once, as fast as the bound allows (for `poll --once`)."""
        sem = asyncio.Semaphore(concurrency or self.site.max_concurrency)

        async def one(d: Device) -> Reading:
            async with sem:
                return await self.poll_device(d)

        return flatten(list(await asyncio.gather(*(one(s.device) for s in self.states))))

    # -- the schedule -------------------------------------------------------
    async def run(self) -> None:
        """Poll forever (until cancelled), spread over each interval."""
        self._sem = asyncio.Semaphore(self.site.max_concurrency)
        flusher = asyncio.create_task(self._flush_loop())
        try:
            cycle = int(time.time() // self.interval)
            while True:
                start = cycle * self.interval
                stats = self._cycles.setdefault(cycle, CycleStats(cycle, start))
                for st in self.states:
                    due = start + st.offset
                    delay = due - time.time()
                    if delay > self.dispatch_ahead_s:
                        await asyncio.sleep(delay)
                    if st.in_flight or cycle <= st.skip_until_cycle:
                        stats.skipped += 1
                        continue
                    if time.time() - due > LATE_AFTER_S:
                        stats.late += 1
                    st.in_flight = True
                    task = asyncio.create_task(self._poll_scheduled(st, cycle))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                self._close_old_cycles(cycle)
                cycle += 1
                if cycle * self.interval < time.time() - self.interval:
                    # fell behind by more than a cycle (suspend, overload): skip ahead
                    cycle = int(time.time() // self.interval)
        finally:
            flusher.cancel()
            for t in list(self._tasks):
                t.cancel()
            self._flush()

    async def _poll_scheduled(self, st: _DevState, cycle: int) -> None:
        assert self._sem is not None
        t0 = time.time()
        try:
            async with self._sem:
                r = await self.poll_device(st.device, quick=st.failures > 0)
        finally:
            st.in_flight = False
        if r.status is Status.UNREACHABLE:
            st.failures += 1
            st.skip_until_cycle = cycle + min(2 ** (st.failures - 1) - 1, MAX_BACKOFF_CYCLES)
        else:
            st.failures = 0
        stats = self._cycles.get(cycle)
        if stats is not None:
            stats.polled += 1
            stats.counts[r.status.value] += 1
            stats.poll_time_s += r.duration_s
            stats.duration_s = max(stats.duration_s, time.time() - min(stats.started, t0))
        self._pending.append(r)
        self._pending.extend(r.parts)

    def _close_old_cycles(self, current: int) -> None:
        # A cycle is reported once the next one has been scheduled and its
        # polls have had a full interval to finish.
        for c in sorted(self._cycles):
            if c < current - 1:
                stats = self._cycles.pop(c)
                self.last_cycle = stats
                if self.on_cycle is not None:
                    self.on_cycle(stats)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.batch_interval_s)
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self.on_batch(batch)

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self._engine is not None:
            await self._engine.close()
        if self._scraper is not None:
            await self._scraper.close()
        if self._nvml_pool is not None:
            self._nvml_pool.shutdown(wait=False, cancel_futures=True)
        if self._nvml is not None and hasattr(self._nvml, "shutdown"):
            self._nvml.shutdown()
