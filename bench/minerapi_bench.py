"""The miner-API collector's cost per poll, on replayed real captures.

    .venv/bin/python bench/minerapi_bench.py [--miners 500] [--rounds 3] [--bound 256]

A child process serves `--miners` 4028 agents on loopback (one port each),
replaying the captured replies of four families from tests/data/miner_api
(antminer and luxos take joined commands, whatsminer refuses joins, avalon
joins). This process polls every miner `--rounds` times through the same
code the poller uses (detection once, then each family's commands) and
prints polls/s, CPU ms per poll of this process (the agents' CPU is the
child's, not counted), the most sockets in flight, and what that means for
20,000 miners every 60 s (333 polls/s). pyasic beside ours:
bench/minerapi_vs_pyasic.py; the real poller over 20,000 miners:
bench/minerapi_scale_bench.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from replay_agents import replay_agents  # noqa: E402


async def _poll(ports: list[int], rounds: int, bound: int) -> tuple[int, float, float, int, dict]:
    from opsconsole.collectors.minerapi import client as client_mod
    from opsconsole.collectors.minerapi.client import MinerApi
    from opsconsole.collectors.minerapi.collector import collect
    from opsconsole.core.site import Device

    in_flight = peak = 0
    real = client_mod.exchange

    async def counted(*a, **kw):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await real(*a, **kw)
        finally:
            in_flight -= 1

    client_mod.exchange = counted  # count sockets; the work is the real exchange
    api = MinerApi()
    devs = [Device(id=f"m{k}", kind="miner", group="g", host="127.0.0.1", port=p,
                   api="cgminer", firmware="auto") for k, p in enumerate(ports)]
    sem = asyncio.Semaphore(bound)
    statuses: dict[str, int] = {}

    async def one(d: Device) -> None:
        async with sem:
            r = await collect(api, d)
        statuses[r.status.value] = statuses.get(r.status.value, 0) + 1

    await asyncio.gather(*(one(d) for d in devs))  # detection round, not measured
    statuses.clear()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        await asyncio.gather(*(one(d) for d in devs))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    client_mod.exchange = real
    return len(devs) * rounds, wall, cpu, peak, statuses


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--miners", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bound", type=int, default=256, help="polls in flight at once")
    args = ap.parse_args()
    with replay_agents(args.miners) as ports:
        polls, wall, cpu, peak, statuses = asyncio.run(_poll(ports, args.rounds, args.bound))
    per_poll_ms = 1000 * cpu / polls
    need = 20_000 / 60.0
    print(f"{args.miners} miners x {args.rounds} rounds = {polls} polls in {wall:.2f} s: "
          f"{polls / wall:,.0f} polls/s, {per_poll_ms:.3f} ms CPU per poll (this process), "
          f"peak {peak} sockets in flight; statuses {statuses}")
    print(f"20,000 miners every 60 s = {need:.0f} polls/s -> {need * per_poll_ms / 10:.1f} % "
          "of one core at this CPU per poll")


if __name__ == "__main__":
    main()
