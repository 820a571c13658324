"""The poller's schedule (Poller.run), the collector thread, and set_control,
against simulated miners/PDUs and net-snmp's snmpd on loopback UDP."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import pytest

from opsconsole.collectors import snmp_collector
from opsconsole.collectors.poller import CycleStats, Poller, build_target
from opsconsole.collectors.runtime import CollectorRuntime
from opsconsole.collectors.snmp.engine import SnmpError, SnmpTarget
from opsconsole.collectors.snmp.pysnmp_engine import PysnmpEngine
from opsconsole.collectors.snmp_collector import ControlVerifyError, set_control
from opsconsole.core.profiles import ControlSpec
from opsconsole.core.readings import Reading, Status
from opsconsole.core.site import Credentials, Site
from opsconsole.core.siteload import load_site
from opsconsole.sim import simulated_nvml
from opsconsole.sim.miner import ManualClock
from opsconsole.sim.site import SimSite
from tests.fixtures.ports import free_udp_port
from tests.fixtures.snmpd import SnmpdAgent

INTERVAL = 0.5  # the loader's minimum poll interval


def fast_site(sim: SimSite, dead_port: int | None = None, interval: float = INTERVAL) -> Site:
    """The sim's site file with a short interval and quick timeouts, plus an
    optional dead device (a free port nobody listens on)."""
    assert sim.config_path is not None
    text = sim.config_path.read_text().replace(
        "poll_interval_s = 10",
        f"poll_interval_s = {interval}\nsnmp_timeout_s = 0.2\nsnmp_retries = 1", 1)
    if dead_port is not None:
        text += (
            '\n[[groups]]\nid = "dead-row"\nduty = "mining"\n\n[[groups.devices]]\n'
            f'id = "dead"\nkind = "miner"\naddress = "127.0.0.1:{dead_port}"\n'
            'profile = "sim-miner"\ncredentials = "sim"\n')
    sim.config_path.write_text(text)
    site = load_site(sim.config_path, env={})
    assert site.poll_interval_s == interval
    return site


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[Reading]] = []
        self.cycles: list[CycleStats] = []

    def on_batch(self, batch: list[Reading]) -> None:
        self.batches.append(list(batch))

    def on_cycle(self, stats: CycleStats) -> None:
        self.cycles.append(stats)

    def by_device(self) -> dict[str, list[Reading]]:
        out: dict[str, list[Reading]] = defaultdict(list)
        for b in self.batches:
            for r in b:
                out[r.device].append(r)
        return out


async def run_for(poller: Poller, seconds: float,
                  midway: Callable[[], object] | None = None) -> None:
    # a first pass, as CollectorRuntime does: it also creates the engine, whose
    # (slow) start would otherwise hold the first cycle's polls into the next
    await poller.poll_once()
    task = asyncio.create_task(poller.run())
    try:
        if midway is None:
            await asyncio.sleep(seconds)
        else:
            await asyncio.sleep(seconds / 2)
            result = midway()
            if asyncio.isfuture(result) or asyncio.iscoroutine(result):
                await result  # type: ignore[misc]
            await asyncio.sleep(seconds / 2)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await poller.close()


# ---------------------------------------------------------------- the schedule

def test_polls_due_together_start_together_never_early_by_more_than_the_slack() -> None:
    """400 devices in a 2 s interval are 5 ms apart: the schedule starts those
    due within `dispatch_ahead_s` (20 ms here) of now in one go (one wake-up
    for several), and none more than that ahead of its slot."""
    from dataclasses import replace

    from opsconsole.core.site import Device, Group

    interval, n = 2.0, 400
    devices = tuple(Device(id=f"m{i:03d}", kind="miner", group="g", host="127.0.0.1",
                           port=4028, api="cgminer", firmware="antminer") for i in range(n))
    site = replace(Site(name="t", path=None, groups=(Group("g", "g", "mining", devices),)),
                   poll_interval_s=interval)
    starts: list[tuple[float, float]] = []  # (start, slot)

    class Recording(Poller):
        async def poll_device(self, device, quick=False):  # the schedule only
            return Reading(device.id, time.time(), Status.OK, {})

    poller = Recording(site, lambda batch: None)
    offsets = {st.device.id: st.offset for st in poller.states}
    real = poller.poll_device

    async def record(device, quick=False):
        now = time.time()
        off = offsets[device.id]  # its slot: the one nearest to now
        starts.append((now, round((now - off) / interval) * interval + off))
        return await real(device, quick)

    poller.poll_device = record  # type: ignore[method-assign]

    async def main() -> None:
        # start on a cycle boundary: no slot of the first cycle is already past
        await asyncio.sleep(interval - time.time() % interval + 0.01)
        task = asyncio.create_task(poller.run())
        await asyncio.sleep(1.5 * interval)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    assert len(starts) >= n, len(starts)
    ahead = poller.dispatch_ahead_s
    assert ahead == pytest.approx(0.02)
    # never started more than the slack before its slot
    assert all(start >= slot - ahead - 1e-3 for start, slot in starts), \
        min(start - slot for start, slot in starts)
    # several polls per wake-up: far fewer distinct start instants than polls
    times = sorted(start for start, _ in starts)
    instants = 1 + sum(1 for a, b in itertools.pairwise(times) if b - a > 0.002)
    assert instants <= len(times) / 2, (instants, len(times))


def test_run_spreads_polls_batches_and_backs_off(
    sim_site_factory: Callable[..., SimSite]
) -> None:
    sim = sim_site_factory(miners=4, gpus=0)
    site = fast_site(sim, dead_port=free_udp_port())
    live = [d.id for d in site.devices() if d.id != "dead"]
    assert len(live) == 5  # 4 miners + 1 PDU
    rec = Recorder()
    poller = Poller(site, rec.on_batch, on_cycle=rec.on_cycle, batch_interval_s=0.25)
    duration = 4.6  # ~9 intervals
    t_start = time.time()
    asyncio.run(run_for(poller, duration))
    cycles = duration / INTERVAL
    got = rec.by_device()

    # every live device in every closed cycle (counted against the cycles that
    # ran, not the clock: a loaded machine closes fewer), all ok
    closed = len(rec.cycles)
    assert closed >= 3, closed
    for did in live:
        rs = got[did]
        assert len(rs) >= closed, (did, len(rs), closed)
        # never more often than once per interval (counted over the readings' own span)
        assert len(rs) <= (rs[-1].ts - rs[0].ts) / INTERVAL + 3, (did, len(rs))
        assert {r.status for r in rs} == {Status.OK}, [r.error for r in rs]
        # cadence: the slots are an interval apart (the median shrugs off a late one)
        gaps = [b.ts - a.ts for a, b in itertools.pairwise(rs[1:])]
        assert statistics.median(gaps) == pytest.approx(INTERVAL, abs=0.2), gaps

    # the dead device: unreachable, never dropped, and backed off
    dead = got["dead"]
    assert dead and {r.status for r in dead} == {Status.UNREACHABLE}
    assert len(dead) <= min(len(got[d]) for d in live) / 2, (len(dead), cycles)

    # spread: within one interval the live polls start at different times
    starts = sorted(r.ts - r.duration_s for did in live for r in got[did])
    spreads = []
    for k in range(int(t_start / INTERVAL) + 2, int((t_start + duration) / INTERVAL) - 1):
        window = [s for s in starts if k * INTERVAL <= s < (k + 1) * INTERVAL]
        if len(window) == len(live):
            spreads.append(window[-1] - window[0])
    assert len(spreads) >= 3, starts
    # 6 devices over 0.5 s: offsets 1/12 s apart; 5 live span at least 1/3 s
    assert min(spreads) >= INTERVAL * 0.5, spreads

    # batches: few calls, several readings each (never one call per reading)
    total = sum(len(b) for b in rec.batches)
    assert total == sum(len(v) for v in got.values())
    assert len(rec.batches) < total / 2
    assert max(len(b) for b in rec.batches) > 1

    # cycle stats: one per closed cycle, each device accounted for once; a dead
    # device timing out beside them never costs a live device its poll
    numbers = [c.cycle for c in rec.cycles]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    for c in rec.cycles:
        assert c.polled + c.skipped == len(site.devices()), c
        assert sum(c.counts.values()) == c.polled
        assert c.counts["ok"] == len(live), c
        assert c.duration_s > 0, c
    assert sum(c.skipped for c in rec.cycles) >= 2  # the dead device backing off
    assert sum(c.counts["unreachable"] for c in rec.cycles) >= 1
    assert poller.last_cycle is rec.cycles[-1]


def test_stopped_sim_site_turns_unreachable(sim_site_factory: Callable[..., SimSite]) -> None:
    sim = sim_site_factory(miners=2, gpus=0)
    site = fast_site(sim)
    ids = [d.id for d in site.devices()]
    rec = Recorder()
    poller = Poller(site, rec.on_batch, batch_interval_s=0.2)
    stopped_at: list[float] = []

    def stop_agents() -> asyncio.Future:
        stopped_at.append(time.time())
        assert sim.loop is not None
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(sim.stop(), sim.loop))

    asyncio.run(run_for(poller, 4.0, midway=stop_agents))
    got = rec.by_device()
    for did in ids:
        before = [r for r in got[did] if r.ts < stopped_at[0]]
        after = [r for r in got[did] if r.ts - r.duration_s > stopped_at[0] + 0.05]
        assert before and {r.status for r in before} == {Status.OK}
        assert after, did
        assert after[0].status is Status.UNREACHABLE  # the very next poll says so
        assert {r.status for r in after} == {Status.UNREACHABLE}


def test_poll_device_bug_costs_one_reading(sim_site: SimSite) -> None:
    """A device whose profile vanished (a bug) gives an error reading; the rest poll."""
    site = load_site(sim_site.config_path, env={})  # type: ignore[arg-type]
    site.profiles.pop("apc-rpdu2")

    async def main() -> list[Reading]:
        poller = Poller(site, lambda b: None, simulated_nvml=simulated_nvml)
        try:
            return await poller.poll_once()
        finally:
            await poller.close()

    rs = {r.device: r for r in asyncio.run(main())}
    assert rs["pdu-a1"].status is Status.ERROR and "internal error" in (rs["pdu-a1"].error or "")
    assert {r.status for d, r in rs.items() if d != "pdu-a1"} == {Status.OK}
    assert rs["gpu-0"].metrics and rs["gpu-1"].metrics  # the simulated GPUs too


# ---------------------------------------------------------------- the collector thread

def test_collector_runtime_thread(sim_site_factory: Callable[..., SimSite]) -> None:
    sim = sim_site_factory(miners=2, gpus=1)
    site = fast_site(sim)
    threads: set[str] = set()
    rec = Recorder()
    got_some = threading.Event()

    def on_batch(batch: list[Reading]) -> None:
        threads.add(threading.current_thread().name)
        rec.on_batch(batch)
        if len(rec.batches) >= 3:
            got_some.set()

    rt = CollectorRuntime(site, on_batch, rec.on_cycle, batch_interval_s=0.2,
                          simulated_nvml=simulated_nvml)
    rt.start()
    try:
        assert rt.running
        assert got_some.wait(5)
        assert rt.submit(asyncio.sleep(0, result="ran")).result(2) == "ran"
    finally:
        rt.stop(timeout=5)
    assert not rt.running
    assert threads == {"collector"}  # callbacks run on the collector thread
    first = rec.batches[0]  # the first pass, all at once
    assert sorted(r.device for r in first) == sorted(d.id for d in site.devices())
    assert {r.status for b in rec.batches for r in b} == {Status.OK}
    with pytest.raises(RuntimeError):
        rt.submit(asyncio.sleep(0))


# ---------------------------------------------------------------- set_control

def test_set_control_sleep_sim_miner(sim_site_factory: Callable[..., SimSite]) -> None:
    clock = ManualClock(1000.0)
    sim = sim_site_factory(miners=1, gpus=0, clock=clock)
    site = load_site(sim.config_path, env={})  # type: ignore[arg-type]
    dev = site.device("a-01")
    assert dev is not None
    profile = site.profiles["sim-miner"]
    target = build_target(site, dev)
    assert target.credentials.write_community  # sim agents SET only with it

    async def main() -> tuple[Reading, object, Reading, Reading]:
        e = PysnmpEngine()
        try:
            before = await snmp_collector.collect(e, dev.id, target, profile)
            back = await set_control(e, target, profile.controls["sleep"])
            clock.advance(1.0)  # past the sim's fast sleep_s
            asleep = await snmp_collector.collect(e, dev.id, target, profile)
            await set_control(e, target, profile.controls["wake"])
            clock.advance(0.1)
            waking = await snmp_collector.collect(e, dev.id, target, profile)
            return before, back, asleep, waking
        finally:
            await e.close()

    before, back, asleep, waking = asyncio.run(main())
    assert before.status is Status.OK and before.metrics["hashrate_ths"] > 1
    assert back == 0
    assert asleep.status is Status.OK, asleep.error
    assert asleep.metrics["state"] == "sleeping"
    assert asleep.metrics["hashrate_ths"] == 0
    assert waking.metrics["state"] == "starting"


def test_set_control_errors_sim_miner(sim_site: SimSite) -> None:
    site = load_site(sim_site.config_path, env={})  # type: ignore[arg-type]
    dev = site.device("a-01")
    assert dev is not None
    good = build_target(site, dev)
    read_only = SnmpTarget(good.host, good.port,
                           Credentials(id="ro", version="2c", community="public"), 1.0, 0)
    state = ControlSpec("state", "1.3.6.1.4.1.32473.1.8.0", "integer", 2)

    async def main() -> list[BaseException]:
        e = PysnmpEngine()
        out: list[BaseException] = []
        try:
            for target, ctl in ((read_only, site.profiles["sim-miner"].controls["sleep"]),
                                (good, state)):
                try:
                    await set_control(e, target, ctl)
                except SnmpError as exc:
                    out.append(exc)
        finally:
            await e.close()
        return out

    errors = asyncio.run(main())
    assert len(errors) == 2
    assert not any(isinstance(x, ControlVerifyError) for x in errors)
    assert "public" not in str(errors[0]) and "private" not in str(errors[0])
    assert "1.3.6.1.4.1.32473.1.8.0" in str(errors[1])
    assert sim_site.miner("a-01").sample().state == 1  # still mining: nothing applied


def test_set_control_snmpd(snmpd_agent: SnmpdAgent) -> None:
    a = snmpd_agent
    creds = Credentials(id="rw", version="2c", community=a.ro_community,
                        write_community=a.rw_community)
    target = SnmpTarget(a.host, a.port, creds, 1.0, 1)
    value = 4321

    async def main() -> tuple[object, object, BaseException | None]:
        e = PysnmpEngine()
        try:
            back = await set_control(e, target, ControlSpec("x", a.rw_oid, "integer", value))
            now = (await e.get(target, [a.rw_oid]))[a.rw_oid]
            err = None
            try:
                await set_control(e, target, ControlSpec("ro", a.int_oid, "integer", 1))
            except SnmpError as exc:
                err = exc
            await set_control(e, target, ControlSpec("x", a.rw_oid, "integer", a.rw_initial))
            return back, now, err
        finally:
            await e.close()

    back, now, err = asyncio.run(main())
    assert back == value and now == value
    assert err is not None and not isinstance(err, ControlVerifyError)
    assert a.int_oid in str(err)
    assert a.rw_community not in str(err)
