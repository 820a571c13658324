"""Poller throughput against net-snmp snmpd, side by side with a plain pysnmp
`get_cmd` loop on the same agent, in the same run.

    .venv/bin/python bench/poller_bench.py [--devices 400] [--rounds 3]

Every "device" is the same snmpd (one agent on loopback) polled for six
scalar OIDs: the work per device-poll is identical on both sides. Prints
device-polls/s, CPU ms per poll (this process) and snmpd's CPU share (the
agent must not be the bottleneck), then the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from snmpd_agent import Snmpd

from tests.fixtures.sites import LAN, device_toml

BASE = "1.3.6.1.4.1.32473.1"
OIDS = {f"{BASE}.1.0": ("unsigned", "98200"), f"{BASE}.2.0": ("unsigned", "100000"),
        f"{BASE}.4.0": ("integer", "3250"), f"{BASE}.5.0": ("integer", "24"),
        f"{BASE}.7.0": ("unsigned", "123456"), f"{BASE}.8.0": ("integer", "1")}

PROFILE = Path(__file__).resolve().parent / "profiles" / "bench-miner.toml"  # reads OIDS


def write_site(folder: Path, port: int, devices: int, concurrency: int,
               engine: str = "auto") -> Path:
    (folder / "profiles").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROFILE, folder / "profiles" / PROFILE.name)
    lines = ['[site]', 'name = "bench"', "poll_interval_s = 10",
             f"max_concurrency = {concurrency}", "snmp_timeout_s = 2", "snmp_retries = 1",
             f'snmp_engine = "{engine}"', "", LAN, "[[groups]]", 'id = "row-a"', 'duty = "mining"']
    for i in range(devices):
        lines.append(device_toml(f"m{i:05d}", "miner", f"127.0.0.1:{port}", "bench-miner", "lan"))
    path = folder / f"site-{engine}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Meter:
    """CPU of this process and of the agent, and wall time, around one block."""

    def __init__(self, agent: psutil.Process):
        self.agent = agent

    def __enter__(self) -> Meter:
        self.c0, self.a0 = time.process_time(), sum(self.agent.cpu_times()[:2])
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0
        self.agent_share = (sum(self.agent.cpu_times()[:2]) - self.a0) / self.wall


def medians(rs: list[tuple[Meter, int]], polls: int) -> tuple[float, float, float, int]:
    """Over the rounds of one side: median polls/s, CPU ms per poll and agent CPU
    share, and the fewest polls that answered."""
    return (statistics.median(polls / m.wall for m, _ in rs),
            statistics.median(1000 * m.cpu / polls for m, _ in rs),
            statistics.median(m.agent_share for m, _ in rs),
            min(ok for _, ok in rs))


def print_ratios(rates: dict[str, tuple[float, float]]) -> None:
    """Each side's polls/s and CPU per poll against the plain get_cmd loop's."""
    base_rate, base_cpu = rates["plain get_cmd loop"]
    print("\nratios against the plain get_cmd loop (polls/s higher, CPU/poll lower is better):")
    for name, (rate, cpu) in rates.items():
        print(f"  {name:<30} polls/s x{rate / base_rate:6.2f}   CPU/poll x{cpu / base_cpu:.3f}")


async def plain_loop(port: int, devices: int, lookup_mib: bool, agent: psutil.Process):
    """What a home-made script does: one get_cmd after another."""
    from pysnmp.hlapi.v3arch.asyncio import (
        CommunityData,
        ContextData,
        ObjectIdentity,
        ObjectType,
        SnmpEngine,
        UdpTransportTarget,
        get_cmd,
    )

    engine = SnmpEngine()
    target = await UdpTransportTarget.create(("127.0.0.1", port), timeout=2, retries=1)
    objs = [ObjectType(ObjectIdentity(o)) for o in OIDS]
    # warm-up outside the measurement: engine set-up is paid once per process
    await get_cmd(engine, CommunityData("public"), target, ContextData(), *objs,
                  lookupMib=lookup_mib)
    ok = 0
    with Meter(agent) as m:
        for _ in range(devices):
            err, status, _idx, binds = await get_cmd(
                engine, CommunityData("public"), target, ContextData(), *objs,
                lookupMib=lookup_mib)
            if not err and not status and len(binds) == len(OIDS):
                ok += 1
    engine.close_dispatcher()
    return m, ok


async def poller_once(site, agent: psutil.Process):
    from opsconsole.collectors.poller import Poller

    poller = Poller(site, lambda b: None)
    try:
        await poller.poll_device(site.devices()[0])  # warm-up, as above
        with Meter(agent) as m:
            readings = await poller.poll_once()
    finally:
        await poller.close()
    return m, sum(1 for r in readings if r.status.value == "ok")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    agent = Snmpd(OIDS)
    try:
        proc = psutil.Process(agent.proc.pid)
        from opsconsole.core.siteload import load_site

        folder = Path(tempfile.mkdtemp())
        sites = {e: load_site(write_site(folder, agent.port, args.devices, args.concurrency, e))
                 for e in ("auto", "pysnmp")}
        runs: dict[str, list[tuple[Meter, int]]] = {
            "plain get_cmd loop": [], "plain loop, lookupMib=False": [],
            "poller, pysnmp engine": [], "poller, auto engine": []}
        for _ in range(args.rounds):  # interleaved, so drift hits every side alike
            runs["plain get_cmd loop"].append(
                asyncio.run(plain_loop(agent.port, args.devices, True, proc)))
            runs["plain loop, lookupMib=False"].append(
                asyncio.run(plain_loop(agent.port, args.devices, False, proc)))
            runs["poller, pysnmp engine"].append(asyncio.run(poller_once(sites["pysnmp"], proc)))
            runs["poller, auto engine"].append(asyncio.run(poller_once(sites["auto"], proc)))
    finally:
        agent.stop()

    print(f"{args.devices} device-polls x {len(OIDS)} OIDs per round, {args.rounds} rounds, "
          f"median; snmpd on 127.0.0.1; {psutil.cpu_count()} CPUs")
    print(f"{'side':<30} {'polls/s':>9} {'CPU ms/poll':>12} {'snmpd CPU':>10} {'ok':>6}")
    rates = {}
    for name, rs in runs.items():
        rate, cpu, share, ok = medians(rs, args.devices)
        rates[name] = (rate, cpu)
        print(f"{name:<30} {rate:>9.0f} {cpu:>12.3f} {share:>9.0%} {ok:>6}")
    print_ratios(rates)


if __name__ == "__main__":
    main()
