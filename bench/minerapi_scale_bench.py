"""20,000 API miners on loopback, polled every 60 s by the real poller, with
pyasic's `get_data` beside it on the same replies.

    .venv/bin/python bench/minerapi_scale_bench.py [--miners 20000] [--interval 60]
        [--cycles 1] [--agents 4] [--pyasic-python /tmp/pyasic-venv/bin/python]
        [--pyasic-miners 2000] [--pyasic-rounds 1]

The fleet: every miner has its own loopback address (127.41.x.y) and the API
port 4028, as on a site. `--agents` child processes serve it (one listening
socket per miner, each process a slice, so no process nears the open-files
limit and the agents are not the bottleneck), replaying real captures of
four families from tests/data/miner_api in turn along the fleet: stock
Antminer and LuxOS (joined commands), old Whatsminer (refuses joins: one
connection per command, four per poll) and Avalon.

The poller: a site file of those miners (`api = "cgminer"`, `firmware =
"auto"`, the site's default `max_concurrency`), `Poller.run()` started on a
cycle boundary; the first cycle is the warm-up (first contact: firmware
detection), then `--cycles` full cycles are measured: polls/s, this
process's CPU time per poll (process CPU, not wall: the machine may be
shared), the share of one core that makes, peak sockets in flight, late
starts, connections per poll, and the agents' CPU.

Then, on the Antminer agents of the same fleet (`--pyasic-miners` of them),
our collector and pyasic's `get_data` each in its own interpreter, 128 polls
in flight (bench/minerapi_vs_pyasic.py), side by side: CPU per poll and the
ratio. pyasic lives in its own virtual environment, never a dependency:

    python3 -m venv /tmp/pyasic-venv && /tmp/pyasic-venv/bin/pip install pyasic==0.79.0
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import ipaddress
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from array import array
from collections import Counter
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from minerapi_vs_pyasic import run_sides  # noqa: E402
from replay_agents import FAMILIES, handlers, wait_for  # noqa: E402

from tests.fixtures.sites import device_toml  # noqa: E402

NET = ipaddress.IPv4Address("127.41.0.0")
API_PORT = 4028


def miner_ip(i: int) -> str:
    """i -> 127.41.(i // 250).(i % 250 + 1): no .0 / .255 host parts."""
    return str(NET + (i // 250) * 256 + i % 250 + 1)


def family_of(i: int) -> str:
    return FAMILIES[i % len(FAMILIES)][0]


def raise_nofile() -> int:
    """Soft open-files limit up to the hard one (each agent is a listening
    socket; the poller holds one socket per poll in flight)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _serve(indexes: list[int], port: int, ready: mp.Queue, stop: mp.Event) -> None:
    sys.path.insert(0, str(ROOT))
    from opsconsole.sim.minerapi.server import ApiServer

    limit = raise_nofile()
    if len(indexes) + 64 > limit:
        ready.put(f"agents: {len(indexes)} listeners need more than the open-files limit {limit}")
        return
    by_folder = handlers()

    async def main() -> None:
        servers = []
        try:
            for i in indexes:
                servers.append(await ApiServer(by_folder[family_of(i)], host=miner_ip(i),
                                               port=port).start())
        except OSError as exc:
            ready.put(f"agents: cannot listen on {miner_ip(i)}:{port}: {exc.strerror}")
            return
        ready.put(len(servers))
        await wait_for(stop)

    asyncio.run(main())


def write_site(folder: Path, miners: int, interval: float, port: int) -> Path:
    lines = ["[site]", 'name = "api-scale"', f"poll_interval_s = {interval}"]
    per_group = 500
    for i in range(miners):
        if i % per_group == 0:
            lines += ["", "[[groups]]", f'id = "row-{i // per_group:03d}"', 'duty = "mining"']
        lines.append(device_toml(f"m{i:05d}", "miner", f"{miner_ip(i)}:{port}", api="cgminer",
                                 firmware="auto"))
    path = folder / f"site-api-{miners}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _cpu(procs: list[psutil.Process]) -> float:
    return sum(p.cpu_times().user + p.cpu_times().system for p in procs)


async def steady(site, interval: float, cycles: int, agents: list[psutil.Process]) -> dict:
    """The real schedule from a cycle boundary: one warm-up cycle, then `cycles` measured."""
    from opsconsole.collectors.minerapi import client as client_mod
    from opsconsole.collectors.poller import CycleStats, Poller

    counts: Counter[str] = Counter()
    measuring = False
    flight = {"now": 0, "peak": 0, "warm_peak": 0, "connections": 0}
    real = client_mod.exchange

    async def counted(*a, **kw):  # sockets in flight: the work is the real exchange
        flight["now"] += 1
        flight["connections"] += 1
        flight["peak"] = max(flight["peak"], flight["now"])
        try:
            return await real(*a, **kw)
        finally:
            flight["now"] -= 1

    durations = array("d")

    def on_batch(batch: list) -> None:
        if measuring:
            counts.update(r.status.value for r in batch)
            durations.extend(r.duration_s for r in batch)

    reported: dict[int, CycleStats] = {}
    client_mod.exchange = counted
    poller = Poller(site, on_batch, on_cycle=lambda s: reported.__setitem__(s.cycle, s))
    await asyncio.sleep((int(time.time() // interval) + 1) * interval - time.time() + 0.01)
    first = int(time.time() // interval)  # the warm-up cycle
    task = asyncio.create_task(poller.run())
    try:
        await asyncio.sleep((first + 1) * interval - time.time())
        measuring = True
        flight["warm_peak"], flight["peak"] = flight["peak"], flight["now"]
        conn0 = flight["connections"]
        c0, a0, w0 = time.process_time(), _cpu(agents), time.perf_counter()
        await asyncio.sleep((first + 1 + cycles) * interval - time.time())
        cpu, agent_cpu = time.process_time() - c0, _cpu(agents) - a0
        wall = time.perf_counter() - w0
        measuring = False
        connections = flight["connections"] - conn0
        await asyncio.sleep(6)  # the last measured polls finish (5 s timeout)
        stats = [poller._cycles.get(c) or reported.get(c)
                 for c in range(first + 1, first + 1 + cycles)]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await poller.close()
        client_mod.exchange = real
    polls = sum(counts.values())
    lat = sorted(durations)
    return {"p50_ms": 1000 * lat[len(lat) // 2] if lat else 0.0,
            "p99_ms": 1000 * lat[int(len(lat) * 0.99)] if lat else 0.0,
            "max_ms": 1000 * lat[-1] if lat else 0.0,
            "polls": polls, "wall": wall, "cpu": cpu, "agent_share": agent_cpu / wall,
            "counts": dict(counts), "peak": flight["peak"], "warm_peak": flight["warm_peak"],
            "late": sum(s.late for s in stats if s), "skipped": sum(s.skipped for s in stats if s),
            "connections": connections}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--miners", type=int, default=20_000)
    ap.add_argument("--interval", type=float, default=60.0)
    ap.add_argument("--cycles", type=int, default=1, help="measured cycles after the warm-up")
    ap.add_argument("--agents", type=int, default=4, help="agent processes")
    ap.add_argument("--port", type=int, default=API_PORT)
    ap.add_argument("--pyasic-python", default=None)
    ap.add_argument("--pyasic-miners", type=int, default=2000)
    ap.add_argument("--pyasic-rounds", type=int, default=1)
    ap.add_argument("--profile", type=Path, default=None,
                    help="write a cProfile of the poller's run here (inflates its CPU)")
    args = ap.parse_args()
    limit = raise_nofile()
    from opsconsole.core.siteload import load_site

    load0 = os.getloadavg()
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    slices = [list(range(k, args.miners, args.agents)) for k in range(args.agents)]
    children = [ctx.Process(target=_serve, args=(s, args.port, ready, stop), daemon=True)
                for s in slices]
    for c in children:
        c.start()
    try:
        for _ in children:
            got = ready.get(timeout=600)
            if isinstance(got, str):
                sys.exit(got)
        with tempfile.TemporaryDirectory() as tmp:
            site = load_site(write_site(Path(tmp), args.miners, args.interval, args.port))
        agents = [psutil.Process(c.pid) for c in children]
        # process CPU as the timer: on a shared machine wall time inflates every call
        prof = cProfile.Profile(time.process_time) if args.profile else None
        if prof:
            prof.enable()
        r = asyncio.run(steady(site, args.interval, args.cycles, agents))
        if prof:
            prof.disable()
            prof.dump_stats(args.profile)
        antminers = [i for i in range(args.miners) if family_of(i) == "antminer"]
        targets = [(miner_ip(i), args.port) for i in antminers[:args.pyasic_miners]]
        sides = run_sides(targets, args.pyasic_rounds, args.pyasic_python) if targets else {}
    finally:
        stop.set()
        for c in children:
            c.join(10)
    load1 = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load0[0]:.1f} at start, "
          f"{load1[0]:.1f} at end (shared: CPU time per poll is the fair measure); "
          f"open-files limit {limit}")
    ms = 1000 * r["cpu"] / max(1, r["polls"])
    need = args.miners / args.interval
    print(f"\npoller: {args.miners} API miners every {args.interval:g} s, {args.agents} agent "
          f"processes, {args.cycles} measured cycle(s) after a warm-up cycle")
    print(f"  polls {r['polls']:,} in {r['wall']:.1f} s = {r['polls'] / r['wall']:,.0f} polls/s; "
          f"statuses {r['counts']}")
    share = 100 * r["cpu"] / r["wall"]
    print(f"  poller CPU {r['cpu']:.2f} s = {ms:.3f} ms per poll, {share:.1f} % of one core "
          f"({need:.0f} polls/s at this cost: {need * ms / 10:.1f} %)")
    print(f"  peak sockets in flight {r['peak']} (warm-up cycle {r['warm_peak']}); "
          f"{r['connections'] / max(1, r['polls']):.2f} connections per poll; "
          f"late starts {r['late']}, skipped {r['skipped']}")
    print(f"  poll duration p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
          f"max {r['max_ms']:.0f} ms")
    print(f"  agents' CPU {100 * r['agent_share']:.1f} % of one core (all {args.agents} together)")
    print(f"\nsame Antminer replies, {len(targets)} agents x {args.pyasic_rounds} round(s), "
          "128 in flight, each side in its own process:")
    print("| side | polls | CPU ms/poll | with hashrate | vs pyasic |")
    print("| --- | ---: | ---: | ---: | ---: |")
    base = None
    if "pyasic" in sides:
        base = sides["pyasic"]["cpu_s"] / sides["pyasic"]["polls"]
    rows = [(name, s["polls"], s["cpu_s"] / s["polls"], s["good"])
            for name, s in (("pyasic get_data", sides.get("pyasic")),
                            ("ours (collector)", sides.get("ours"))) if s and s["polls"]]
    rows.append(("ours (poller, whole fleet)", r["polls"], r["cpu"] / max(1, r["polls"]), None))
    for name, n, per, good in rows:
        ratio = f"x{per / base:.3f}" if base else "-"
        print(f"| {name} | {n:,} | {1000 * per:.3f} | {good if good is not None else '-'} "
              f"| {ratio} |")


if __name__ == "__main__":
    main()
