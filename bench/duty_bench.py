"""Switch a group of 500 simulated miners to idle and back: wall time, and the
share of it spent inside opsconsole (this process's CPU) versus waiting on the
devices (their SET round trips, sleep and wake, the wait-metric checks).

    .venv/bin/python bench/duty_bench.py [--miners 500] [--rounds 2]

The simulator runs in its own process, so its CPU is the devices' time, not
ours. Each switch: snmp-set on every miner (read back), then wait-metric until
the telemetry agrees (hashrate below 1 TH/s after sleep, above after wake).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path

GROUP = "row-a"


def serve(miners: int, folder: str, ready) -> None:
    """The simulated site, in its own process: one row of `miners` miners."""
    from opsconsole.sim.site import SimSite

    async def main() -> None:
        site = SimSite(miners, 0, seed=7, fault_rate=0.0, miners_per_row=miners)
        await site.start()
        path = Path(folder) / "site.toml"
        site.write_config(path)
        ready.put(str(path))
        await asyncio.Event().wait()

    asyncio.run(main())


async def one_switch(ctl, duty: str) -> dict:
    steps: dict[int, list[float]] = {}
    actions: dict[int, str] = {}

    def progress(ev) -> None:
        if ev.kind == "step-start":
            steps[ev.pos] = [time.perf_counter(), 0.0]
            actions[ev.pos] = ev.action
        elif ev.kind == "step-end" and ev.pos in steps:
            steps[ev.pos][1] = time.perf_counter()

    cpu0, t0 = time.process_time(), time.perf_counter()
    res = await ctl.switch(GROUP, duty, progress)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"duty": duty, "outcome": res.outcome, "wall": wall, "cpu": cpu,
            "steps": [(actions[p], e - s) for p, (s, e) in sorted(steps.items())],
            "failed": len(res.failures)}


async def run(config: Path, rounds: int, data_dir: Path) -> list[dict]:
    from opsconsole.collectors.duty_actions import EXECUTORS
    from opsconsole.collectors.poller import Poller
    from opsconsole.core.duty import DutyController, Journal
    from opsconsole.core.siteload import load_site

    site = load_site(config)
    poller = Poller(site, lambda batch: None)
    ctl = DutyController(site, Journal.in_dir(data_dir), poller, executors=EXECUTORS)
    out = []
    try:
        await poller.poll_once()  # engines warm, as in a running console
        for _ in range(rounds):
            for duty in ("idle", "mining"):
                out.append(await one_switch(ctl, duty))
    finally:
        await poller.close()
        ctl.journal.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--miners", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="opsconsole-duty-bench-"))
    ready: mp.Queue = mp.Queue()
    sim = mp.Process(target=serve, args=(args.miners, str(work), ready), daemon=True)
    sim.start()
    try:
        config = Path(ready.get(timeout=120))
        results = asyncio.run(run(config, args.rounds, work / "data"))
    finally:
        sim.terminate()
        sim.join(5)
    print(f"duty switch of {args.miners} simulated miners ({GROUP}), {args.rounds} rounds")
    print(f"{'switch':<16}{'outcome':<10}{'wall s':>8}{'CPU s':>8}{'inside':>8}{'waiting':>9}"
          "  steps (s)")
    for r in results:
        share = r["cpu"] / r["wall"]
        steps = ", ".join(f"{a} {d:.1f}" for a, d in r["steps"])
        print(f"{'-> ' + r['duty']:<16}{r['outcome']:<10}{r['wall']:>8.2f}{r['cpu']:>8.2f}"
              f"{share:>8.0%}{1 - share:>9.0%}  {steps}")
    for duty in ("idle", "mining"):
        rs = [r for r in results if r["duty"] == duty]
        print(f"median -> {duty}: wall {statistics.median(r['wall'] for r in rs):.2f} s, "
              f"inside opsconsole {statistics.median(r['cpu'] / r['wall'] for r in rs):.0%}")


if __name__ == "__main__":
    main()
