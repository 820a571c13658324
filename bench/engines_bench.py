"""SNMP engines side by side against one net-snmp snmpd, in one run.

    .venv/bin/python bench/engines_bench.py [--polls 10000] [--inflight 100] [--rounds 3]

Sides (every poll is one GET of the same 6 OIDs; the agent is the same snmpd):
  plain get_cmd loop   what a home-made pysnmp script does: one get_cmd after another
  pysnmp engine        opsconsole's PysnmpEngine, `--inflight` polls in flight
  gufo-snmp            gufo-snmp 0.13 (Rust core), one session per worker, reused
  gufo-snmp, new sess. the same with one session (one socket) per poll: how it
                       would meet 20,000 targets without 20,000 open sockets
  lean engine          opsconsole's LeanEngine (our BER codec, one socket, id demux)
  auto engine          AutoEngine (lean with pysnmp fallback): what the poller uses

Prints polls/s, CPU ms per poll of this process, snmpd's CPU share (the agent
must not be the bottleneck) and the ratios against the plain loop. The rounds
are interleaved so drift on the shared machine hits every side alike; medians.
gufo-snmp is optional (`pip install gufo-snmp`): without it its rows say so.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import poller_bench
from poller_bench import OIDS, Meter, medians, print_ratios
from snmpd_agent import Snmpd

from opsconsole.collectors.snmp.engine import SnmpEngine, SnmpTarget
from opsconsole.core.site import Credentials

OID_LIST = list(OIDS)
CREDS = Credentials(id="lan", version="2c", community="public")


async def _fan_out(polls: int, inflight: int, one: Callable[[], Awaitable[bool]]) -> int:
    """`inflight` workers share `polls` polls; returns how many came back whole."""
    left = polls
    ok = 0

    async def worker() -> None:
        nonlocal left, ok
        while left > 0:
            left -= 1
            if await one():
                ok += 1

    await asyncio.gather(*(worker() for _ in range(inflight)))
    return ok


async def plain_loop(port: int, polls: int, _inflight: int, agent: psutil.Process):
    """The home-made script (one get_cmd after another): poller_bench's loop."""
    return await poller_bench.plain_loop(port, polls, True, agent)


def _engine_side(make: Callable[[], SnmpEngine]):
    async def side(port: int, polls: int, inflight: int, agent: psutil.Process):
        engine = make()
        target = SnmpTarget("127.0.0.1", port, CREDS, 2.0, 1)

        async def one() -> bool:
            got = await engine.get(target, OID_LIST)
            return all(v is not None for v in got.values())

        try:
            await one()  # warm-up: socket, caches
            with Meter(agent) as m:
                ok = await _fan_out(polls, inflight, one)
        finally:
            await engine.close()
        return m, ok

    return side


def _gufo_side(per_poll: bool):
    async def side(port: int, polls: int, inflight: int, agent: psutil.Process):
        from gufo.snmp.aio import SnmpSession

        def session() -> SnmpSession:
            return SnmpSession(addr="127.0.0.1", port=port, community="public", timeout=2.0)

        async def one_with(s: SnmpSession) -> bool:
            got = await s.get_many(OID_LIST)
            return len(got) == len(OID_LIST)

        await one_with(session())  # warm-up
        sessions = [session() for _ in range(inflight)]
        free = list(sessions)

        async def one() -> bool:
            if per_poll:
                return await one_with(session())
            s = free.pop()
            try:
                return await one_with(s)
            finally:
                free.append(s)

        with Meter(agent) as m:
            ok = await _fan_out(polls, inflight, one)
        return m, ok

    return side


def _pysnmp() -> SnmpEngine:
    from opsconsole.collectors.snmp.pysnmp_engine import PysnmpEngine

    return PysnmpEngine()


def _lean() -> SnmpEngine:
    from opsconsole.collectors.snmp.lean_engine import LeanEngine

    return LeanEngine()


def _auto() -> SnmpEngine:
    from opsconsole.collectors.snmp.auto_engine import AutoEngine

    return AutoEngine()


def have_gufo() -> bool:
    try:
        import gufo.snmp  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--polls", type=int, default=10000, help="polls per side per round")
    ap.add_argument("--inflight", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--plain-polls", type=int, default=0,
                    help="polls for the slow plain loop (default: polls / 5)")
    args = ap.parse_args()
    sides: dict[str, object] = {"plain get_cmd loop": plain_loop,
                                "pysnmp engine": _engine_side(_pysnmp)}
    if have_gufo():
        sides["gufo-snmp"] = _gufo_side(per_poll=False)
        sides["gufo-snmp, session per poll"] = _gufo_side(per_poll=True)
    else:
        print("gufo-snmp not installed (.venv/bin/pip install gufo-snmp): its rows are skipped")
    sides["lean engine"] = _engine_side(_lean)
    sides["auto engine"] = _engine_side(_auto)
    slow = {"plain get_cmd loop", "pysnmp engine"}
    counts = {name: (args.plain_polls or max(100, args.polls // 5)) if name in slow
              else args.polls for name in sides}

    agent = Snmpd(OIDS)
    runs: dict[str, list[tuple[Meter, int]]] = {name: [] for name in sides}
    try:
        proc = psutil.Process(agent.proc.pid)
        for _ in range(args.rounds):
            for name, side in sides.items():
                runs[name].append(asyncio.run(
                    side(agent.port, counts[name], args.inflight, proc)))  # type: ignore[operator]
    finally:
        agent.stop()

    print(f"one GET of {len(OID_LIST)} OIDs per poll, {args.inflight} in flight (plain loop: 1),"
          f" {args.rounds} rounds, median; snmpd on 127.0.0.1; {psutil.cpu_count()} CPUs")
    print(f"{'side':<30} {'polls':>6} {'polls/s':>9} {'CPU ms/poll':>12} {'snmpd CPU':>10}"
          f" {'ok':>6}")
    rates: dict[str, tuple[float, float]] = {}
    for name, rs in runs.items():
        n = counts[name]
        rate, cpu, share, ok = medians(rs, n)
        rates[name] = (rate, cpu)
        print(f"{name:<30} {n:>6} {rate:>9.0f} {cpu:>12.3f} {share:>9.0%} {ok:>6}")
    print_ratios(rates)
    if "lean engine" in rates and "pysnmp engine" in rates:
        lr, lc = rates["lean engine"]
        pr, pc = rates["pysnmp engine"]
        print(f"\nlean vs pysnmp engine: polls/s x{lr / pr:.1f}, CPU/poll x{lc / pc:.3f}")
    if "lean engine" in rates and "gufo-snmp" in rates:
        lr, lc = rates["lean engine"]
        gr, gc = rates["gufo-snmp"]
        print(f"lean vs gufo-snmp (reused sessions): polls/s x{lr / gr:.2f},"
              f" CPU/poll x{lc / gc:.2f}")


if __name__ == "__main__":
    main()
