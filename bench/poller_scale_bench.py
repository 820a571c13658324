"""The poller at site scale: 5,000 / 10,000 / 20,000 devices every 30 s against
net-snmp snmpd, 10 % of them dead, in one run.

    .venv/bin/python bench/poller_scale_bench.py [--sizes 5000,10000,20000]
        [--interval 30] [--cycles 2] [--dead 0.1] [--sweep-size 5000]

The fleet: every live device has its own loopback address (127.1.x.y) on one
snmpd, which answers on all of 127.0.0.0/8 (net-snmp replies from the address
asked; its community accepts loopback sources only); dead devices point at a
socket that never answers. Each device is polled for the 6 OIDs of
bench/poller_bench.py.

The site files set `max_concurrency = 1024`: the bound must cover the dead
devices waiting out their timeouts on first contact (2,000 dead x 2 s x 2
tries / 30 s = 267 slots on average), or with the default 256 they hold every
slot and the live polls queue behind them for the first cycles after start.
The lean engine keeps a request in flight for the price of a dict entry and
a timer, so a large bound costs nothing while the agents are fine.

Per size, the real `Poller.run()` schedule with `[site] snmp_engine = "auto"`
runs for a warm-up part-cycle plus `--cycles` full cycles; measured over the
full cycles: the poller process's CPU share of one core, snmpd's CPU share
(the agent must not be the bottleneck), polls, late starts, the cycle's span,
poll latency p50/p99 and RSS. Then a sweep: `poll_once` over `--sweep-size`
live devices, as fast as the concurrency bound allows, with the auto and the
pysnmp engines side by side (the ratio of CPU per poll).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import resource
import shutil
import socket
import sys
import tempfile
import time
from array import array
from collections import Counter
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from poller_bench import OIDS, PROFILE
from snmpd_agent import Snmpd

from tests.fixtures.sites import LAN, device_toml

LIVE_NET = ipaddress.IPv4Address("127.1.0.0")
DEAD_NET = ipaddress.IPv4Address("127.2.0.0")


def device_ip(base: ipaddress.IPv4Address, i: int) -> str:
    """i -> base + (i // 250).(i % 250 + 1): no .0 / .255 host parts."""
    return str(base + (i // 250) * 256 + i % 250 + 1)


class FleetSnmpd(Snmpd):
    """One snmpd answering every 127.x address on one port, plus a silent port."""

    def __init__(self) -> None:
        # udp:PORT listens on the wildcard address: the only way for one socket to
        # serve 127.1.0.0/16; the community refuses every non-loopback source.
        super().__init__(OIDS, sources="127.0.0.0/8", wildcard=True,
                         probe_host=device_ip(LIVE_NET, 0))
        self.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.silent.bind(("127.0.0.1", 0))  # dead devices: bound, never read
        self.dead_port = self.silent.getsockname()[1]

    def stop(self) -> None:
        self.silent.close()
        super().stop()


def write_fleet(folder: Path, agent: FleetSnmpd, devices: int, dead_frac: float,
                interval: float, engine: str, concurrency: int) -> Path:
    (folder / "profiles").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROFILE, folder / "profiles" / PROFILE.name)
    lines = ["[site]", 'name = "scale"', f"poll_interval_s = {interval}",
             f"max_concurrency = {concurrency}", "snmp_timeout_s = 2", "snmp_retries = 1",
             f'snmp_engine = "{engine}"', "", LAN]
    dead_every = round(1 / dead_frac) if dead_frac > 0 else 0
    per_group = 500
    for i in range(devices):
        if i % per_group == 0:
            lines += ["", "[[groups]]", f'id = "row-{i // per_group:03d}"', 'duty = "mining"']
        dead = dead_every and i % dead_every == dead_every - 1
        addr = (f"{device_ip(DEAD_NET, i)}:{agent.dead_port}" if dead
                else f"{device_ip(LIVE_NET, i)}:{agent.port}")
        lines.append(device_toml(f"m{i:05d}", "miner", addr, "bench-miner", "lan"))
    path = folder / f"site-{devices}-{engine}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


async def steady(site, interval: float, cycles: int, agent: psutil.Process) -> dict:
    """Run the real schedule; measure `cycles` full cycles after a warm-up part-cycle."""
    from opsconsole.collectors.poller import CycleStats, Poller

    # tallies of the readings that ended inside the measured window (not the
    # readings themselves: keeping them would show up as the poller's memory)
    counts: Counter[str] = Counter()
    live = array("d")  # latency of the ok polls
    measuring = False

    def on_batch(batch: list) -> None:
        if measuring:
            for r in batch:
                counts[r.status.value] += 1
                if r.status.value == "ok":
                    live.append(r.duration_s)

    reported: dict[int, CycleStats] = {}
    poller = Poller(site, on_batch, on_cycle=lambda s: reported.__setitem__(s.cycle, s))
    me = psutil.Process()
    task = asyncio.create_task(poller.run())
    try:
        first = int(time.time() // interval) + 1  # the first full cycle
        await asyncio.sleep(first * interval - time.time())
        measuring = True
        c0, a0, w0 = time.process_time(), _cpu(agent), time.perf_counter()
        rss0 = me.memory_info().rss
        await asyncio.sleep((first + cycles) * interval - time.time())
        cpu, agent_cpu = time.process_time() - c0, _cpu(agent) - a0
        wall = time.perf_counter() - w0
        measuring = False
        rss1 = me.memory_info().rss
        # let the last measured cycle's polls finish (timeouts included)
        await asyncio.sleep(site.snmp_timeout_s * (site.snmp_retries + 1) + 1)
        stats = [poller._cycles.get(c) or reported.get(c) for c in range(first, first + cycles)]
        engine_stats = poller.engine.stats()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await poller.close()
    lat = sorted(live)
    polls = sum(counts.values())
    return {
        "cpu_share": cpu / wall, "agent_share": agent_cpu / wall, "wall": wall,
        "polls": polls, "ok": counts["ok"], "unreachable": counts["unreachable"],
        "late": sum(s.late for s in stats if s), "skipped": sum(s.skipped for s in stats if s),
        "span": max((s.duration_s for s in stats if s), default=0.0),
        "p50_ms": 1000 * lat[len(lat) // 2] if lat else 0.0,
        "p99_ms": 1000 * lat[int(len(lat) * 0.99)] if lat else 0.0,
        "rss_mb": rss1 / 2**20, "rss_growth_mb": (rss1 - rss0) / 2**20,
        "cpu_ms_per_poll": 1000 * cpu / max(1, polls),
        "dropped": engine_stats.get("dropped", 0),
    }


async def sweep(site, agent: psutil.Process) -> dict:
    """All devices once, as fast as the bound allows (`poll --once`), twice on
    one poller: cold (first contact: per-target set-up) and warm."""
    from opsconsole.collectors.poller import Poller

    poller = Poller(site, lambda b: None)
    out: dict = {}
    try:
        await poller.poll_device(site.devices()[0])  # engine start-up
        for label in ("cold", "warm"):
            c0, a0, w0 = time.process_time(), _cpu(agent), time.perf_counter()
            readings = await poller.poll_once()
            wall = time.perf_counter() - w0
            cpu, agent_cpu = time.process_time() - c0, _cpu(agent) - a0
            n = len(readings)
            out[label] = {"wall": wall, "rate": n / wall, "cpu_ms": 1000 * cpu / n,
                          "agent_share": agent_cpu / wall,
                          "ok": sum(r.status.value == "ok" for r in readings)}
    finally:
        await poller.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="5000,10000,20000")
    ap.add_argument("--interval", type=float, default=30.0)
    ap.add_argument("--cycles", type=int, default=2)
    ap.add_argument("--dead", type=float, default=0.10)
    ap.add_argument("--concurrency", type=int, default=1024)
    ap.add_argument("--sweep-size", type=int, default=5000)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    print(f"open files limit {soft}/{hard}: the lean engine needs one socket in all")

    from opsconsole.core.siteload import load_site

    agent = FleetSnmpd()
    folder = Path(tempfile.mkdtemp(prefix="opsconsole-scale-"))
    results: dict[int, dict] = {}
    sweeps: dict[str, dict] = {}
    try:
        proc = psutil.Process(agent.proc.pid)
        for n in sizes:
            t0 = time.perf_counter()
            site = load_site(write_fleet(folder, agent, n, args.dead, args.interval, "auto",
                                         args.concurrency))
            load_s = time.perf_counter() - t0
            results[n] = asyncio.run(steady(site, args.interval, args.cycles, proc))
            results[n]["load_s"] = load_s
            print(f"  {n} devices done", flush=True)
        if args.sweep_size:
            for engine in ("auto", "pysnmp"):
                site = load_site(write_fleet(folder, agent, args.sweep_size, 0.0, args.interval,
                                             engine, args.concurrency))
                sweeps[engine] = asyncio.run(sweep(site, proc))
    finally:
        agent.stop()
        shutil.rmtree(folder, ignore_errors=True)

    print(f"\nsteady schedule: interval {args.interval:g} s, {args.dead:.0%} dead, "
          f"max_concurrency {args.concurrency}, {args.cycles} measured cycle(s), engine auto; "
          f"{psutil.cpu_count()} CPUs")
    print(f"{'devices':>8} {'polls':>7} {'ok':>7} {'unreach':>8} {'late':>5} {'span s':>7}"
          f" {'poller CPU':>11} {'CPU ms/poll':>12} {'snmpd CPU':>10} {'p50 ms':>7} {'p99 ms':>7}"
          f" {'RSS MB':>7} {'dRSS MB':>8}")
    for n, r in results.items():
        print(f"{n:>8} {r['polls']:>7} {r['ok']:>7} {r['unreachable']:>8} {r['late']:>5}"
              f" {r['span']:>7.1f} {r['cpu_share']:>10.1%} {r['cpu_ms_per_poll']:>12.3f}"
              f" {r['agent_share']:>9.1%} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f}"
              f" {r['rss_mb']:>7.0f} {r['rss_growth_mb']:>8.1f}")
    for n, r in results.items():
        verdict = "meets" if r["cpu_share"] <= 0.5 else "MISSES"
        print(f"  {n}: poller {r['cpu_share']:.1%} of one core: {verdict} the 50 % goal"
              f" (x{r['cpu_share'] / 0.5:.2f} of the budget); span {r['span']:.1f} s for a"
              f" {args.interval:g} s interval; site file loaded in {r['load_s']:.1f} s")
    if sweeps:
        print(f"\nsweep: poll_once over {args.sweep_size} live devices, "
              f"max_concurrency {args.concurrency}")
        print(f"{'engine':<8} {'pass':<5} {'wall s':>7} {'polls/s':>8} {'CPU ms/poll':>12}"
              f" {'snmpd CPU':>10} {'ok':>6}")
        for name, both in sweeps.items():
            for label, s in both.items():
                print(f"{name:<8} {label:<5} {s['wall']:>7.2f} {s['rate']:>8.0f}"
                      f" {s['cpu_ms']:>12.3f} {s['agent_share']:>9.1%} {s['ok']:>6}")
        if "pysnmp" in sweeps and "auto" in sweeps:
            for label in ("cold", "warm"):
                a, p = sweeps["auto"][label], sweeps["pysnmp"][label]
                print(f"  {label}: auto vs pysnmp: polls/s x{a['rate'] / p['rate']:.1f},"
                      f" CPU/poll x{a['cpu_ms'] / p['cpu_ms']:.3f}")


if __name__ == "__main__":
    main()
