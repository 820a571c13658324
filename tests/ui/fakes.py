"""Hand-made sites and readings for the UI tests (no agents, no network)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from opsconsole.collectors.poller import CycleStats
from opsconsole.core.profiles import MetricSpec, Profile
from opsconsole.core.readings import Reading, Status
from opsconsole.core.site import Credentials, Device, Group, Site

MINER_METRICS = ("hashrate_ths", "hashrate_nominal_ths", "power_w", "temp_c", "fan_rpm", "state")
MINER_PROFILE = Profile("test-miner", "miner", "a test miner",
                        {m: MetricSpec(m, f"1.3.6.1.4.1.32473.1.{k}.0")
                         for k, m in enumerate(MINER_METRICS, 1)})


def make_site(rows: int = 2, miners_per_row: int = 10, gpus: int = 2,
              interval: float = 10.0, budget_kw: float | None = 100.0) -> Site:
    groups = []
    for r in range(rows):
        gid = f"row-{chr(97 + r)}"
        devs = tuple(
            Device(id=f"{chr(97 + r)}-{k + 1:02d}", kind="miner", group=gid,
                   host=f"10.0.{r}.{k + 10}", profile="test-miner", credentials="lan",
                   rack=f"{chr(65 + r)}{k // 5 + 1}", position=k % 5 + 1)
            for k in range(miners_per_row))
        groups.append(Group(gid, f"Row {chr(65 + r)}", "mining", devs))
    if gpus:
        devs = tuple(Device(id=f"gpu-{k}", kind="gpu", group="gpu-rack", nvml_index=k,
                            rack="G1", position=k + 1) for k in range(gpus))
        groups.append(Group("gpu-rack", "GPU rack", "inference", devs))
    return Site(name="Test site", path=None, poll_interval_s=interval, power_budget_kw=budget_kw,
                credentials={"lan": Credentials("lan", "2c", community="s3cret-community")},
                groups=tuple(groups), profiles={"test-miner": MINER_PROFILE})


def reading_for(dev: Device, ts: float, rng: random.Random,
                status: Status = Status.OK, temp: float | None = None) -> Reading:
    if status is not Status.OK:
        return Reading(dev.id, ts, status, {}, "timeout after 2.0 s" if
                       status is Status.UNREACHABLE else "decode error")
    if dev.kind == "gpu":
        m: dict[str, Any] = {
            "util_pct": rng.uniform(40, 99), "mem_util_pct": rng.uniform(10, 90),
            "mem_used_mib": rng.uniform(2e4, 7e4), "mem_total_mib": 81920.0,
            "temp_c": temp if temp is not None else rng.uniform(50, 75),
            "mem_temp_c": rng.uniform(50, 80), "power_w": rng.uniform(250, 650),
            "power_limit_w": 700.0, "sm_clock_mhz": 1980.0, "mem_clock_mhz": 2619.0,
            "fan_pct": 40.0, "xid_last": 0, "throttle_reasons": "none"}
    else:
        m = {"hashrate_ths": rng.uniform(90, 110), "hashrate_nominal_ths": 100.0,
             "power_w": rng.uniform(3100, 3400),
             "temp_c": temp if temp is not None else rng.uniform(60, 78),
             "fan_rpm": rng.uniform(4000, 6000), "state": "mining"}
    return Reading(dev.id, ts, Status.OK, m, None, 0.02)


def make_batch(site: Site, ts: float | None = None, seed: int = 1,
               overrides: dict[str, Status] | None = None,
               temps: dict[str, float] | None = None) -> list[Reading]:
    rng = random.Random(seed)
    ts = time.time() if ts is None else ts
    overrides = overrides or {}
    temps = temps or {}
    return [reading_for(d, ts, rng, overrides.get(d.id, Status.OK), temps.get(d.id))
            for d in site.devices()]


class FakeRuntime:
    """Stands in for CollectorRuntime: a thread named "collector" that calls
    on_batch with synthetic readings, so the bridge is tested for real."""

    def __init__(self, site: Site | None, on_batch: Callable[[list[Reading]], None],
                 on_cycle: Callable[[CycleStats], None] | None = None, *,
                 demo_site: Any = None, batch_interval_s: float = 0.05, **_: Any):
        self.site = site or make_site()
        self.on_batch = on_batch
        self.on_cycle = on_cycle
        self.batch_interval_s = batch_interval_s
        self.batches = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="collector", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seed = 0
        while not self._stop.is_set():
            t0 = time.time()
            self.on_batch(make_batch(self.site, seed=seed))
            if self.on_cycle is not None:
                self.on_cycle(CycleStats(seed, t0, 0.01, len(self.site.devices())))
            self.batches += 1
            seed += 1
            self._stop.wait(self.batch_interval_s)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
