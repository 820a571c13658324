"""Our miner-API collector beside pyasic's `get_data`, on the same replies.

    python -m venv /tmp/pyasic-venv && /tmp/pyasic-venv/bin/pip install pyasic==0.79.0
    .venv/bin/python bench/minerapi_vs_pyasic.py --pyasic-python /tmp/pyasic-venv/bin/python \\
        [--miners 200] [--rounds 3]

pyasic is a bench-only dependency, in its own virtual environment (it is not
installed with opsconsole). A child process serves `--miners` replay agents
of the stock Antminer S19 Pro capture (tests/data/miner_api/antminer); each
side polls every agent `--rounds` times in its own process, 128 polls in
flight, and reports its process CPU per poll. Both read the same RPC data:
ours hashrate, nominal, temperatures, fans, uptime, state and boards from
one joined summary+stats; pyasic `get_data(include=[hashrate,
expected_hashrate, fans, uptime, hashboards])` of BMMinerS19Pro with its RPC
port pointed at the agent (its web side has nothing to talk to: refused at
once on loopback).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOUND = 128
sys.path.insert(0, str(ROOT / "bench"))
from replay_agents import replay_agents  # noqa: E402


async def _ours(targets: list[tuple[str, int]], rounds: int) -> tuple[int, float, int]:
    sys.path.insert(0, str(ROOT))
    from opsconsole.collectors.minerapi.client import MinerApi
    from opsconsole.collectors.minerapi.collector import collect
    from opsconsole.core.site import Device

    api = MinerApi()
    devs = [Device(id=f"m{k}", kind="miner", group="g", host=h, port=p,
                   api="cgminer", firmware="antminer") for k, (h, p) in enumerate(targets)]
    sem = asyncio.Semaphore(BOUND)
    good = 0

    async def one(d: Device) -> None:
        nonlocal good
        async with sem:
            r = await collect(api, d)
        good += r.metrics.get("hashrate_ths", 0) > 100

    c0 = time.process_time()
    for _ in range(rounds):
        await asyncio.gather(*(one(d) for d in devs))
    return len(devs) * rounds, time.process_time() - c0, good


async def _pyasic(targets: list[tuple[str, int]], rounds: int) -> tuple[int, float, int]:
    from pyasic.miners.antminer.bmminer.X19.S19 import BMMinerS19Pro

    include = ["hashrate", "expected_hashrate", "fans", "uptime", "hashboards"]
    sem = asyncio.Semaphore(BOUND)
    good = 0

    async def one(host: str, port: int) -> None:
        nonlocal good
        async with sem:
            m = BMMinerS19Pro(host)
            m.rpc.port = port
            d = await m.get_data(include=include)
        rate = d.hashrate
        good += rate is not None and float(rate) > 100

    c0 = time.process_time()
    for _ in range(rounds):
        await asyncio.gather(*(one(h, p) for h, p in targets))
    return len(targets) * rounds, time.process_time() - c0, good


def run_sides(targets: list[tuple[str, int]], rounds: int,
              pyasic_python: str | None) -> dict[str, dict]:
    """Each side in its own interpreter over the same agents -> its polls,
    CPU seconds and polls with the hashrate read (a side that failed says so)."""
    sides = [("ours", sys.executable)]
    if pyasic_python:
        sides.append(("pyasic", pyasic_python))
    out: dict[str, dict] = {}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(targets, f)
        f.flush()
        for side, py in sides:
            proc = subprocess.run([py, __file__, "--side", side, "--targets", f.name,
                                   "--rounds", str(rounds)],
                                  capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                print(f"{side}: failed\n{proc.stderr[-2000:]}")
                continue
            out[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--miners", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pyasic-python", default=None)
    ap.add_argument("--side", choices=("ours", "pyasic"), default=None)
    ap.add_argument("--targets", type=Path, default=None,
                    help="(with --side) a JSON file of [host, port] pairs")
    args = ap.parse_args()
    if args.side:  # one side, in its own interpreter
        targets = [(h, p) for h, p in json.loads(args.targets.read_text())]
        fn = _ours if args.side == "ours" else _pyasic
        polls, cpu, good = asyncio.run(fn(targets, args.rounds))
        print(json.dumps({"polls": polls, "cpu_s": cpu, "good": good}))
        return
    with replay_agents(args.miners, (("antminer", True),)) as ports:
        out = run_sides([("127.0.0.1", p) for p in ports], args.rounds, args.pyasic_python)
    for side, r in out.items():
        print(f"{side:7s} {r['polls']} polls, {1000 * r['cpu_s'] / r['polls']:.3f} ms CPU per "
              f"poll, {r['good']} with hashrate read")
    if len(out) == 2:
        a = out["ours"]["cpu_s"] / out["ours"]["polls"]
        b = out["pyasic"]["cpu_s"] / out["pyasic"]["polls"]
        print(f"ours uses x{a / b:.3f} the CPU per poll of pyasic (pyasic x{b / a:.1f} ours)")


if __name__ == "__main__":
    main()
