"""End to end: the whole `opsconsole poll --once` process against a plain pysnmp
`get_cmd` script, at 5,000 and 20,000 devices on the same agent, in one run.

    .venv/bin/python bench/poll_once_bench.py [--sizes 5000,20000] [--rounds 1]
        [--format json] [--profile DIR]

The fleet is poller_bench's: every device is the same net-snmp snmpd on
127.0.0.1, read for the same 6 OIDs (bench-miner profile), so the work per
device is identical on both sides and the plain script needs one transport
target (with a target per address pysnmp's set-up grows with the fleet and
the plain loop gets slower still: about 35 ms a device at 5,000 in a try).
Each side is a fresh process, measured whole (start-up, imports, reading its
input, polling, printing) by the CPU time (user + system) that `wait4` reports
for the child:

  opsconsole   `python -m opsconsole poll --config SITE --once --format json`
               (the site file and its profile loaded, every device polled, the
               report built and printed; stdout to a file)
  plain loop   what a home-made script does: a list of addresses, a
               `UdpTransportTarget` per address (made once), one `get_cmd`
               after another, each device's values printed as one JSON line
               (stdout to a file)

Rounds interleave the sides. `--profile DIR` also runs the opsconsole side once
per size under cProfile (not measured) and writes DIR/poll-once-N.prof.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from poller_bench import OIDS, write_site
from snmpd_agent import Snmpd

ROOT = Path(__file__).resolve().parents[1]

PLAIN = '''
import asyncio, json, sys
from pysnmp.hlapi.v3arch.asyncio import (CommunityData, ContextData, ObjectIdentity,
    ObjectType, SnmpEngine, UdpTransportTarget, get_cmd)
OIDS = sys.argv[2].split(",")

async def main():
    engine = SnmpEngine()
    objs = [ObjectType(ObjectIdentity(o)) for o in OIDS]
    out = sys.stdout
    targets = {}
    for line in open(sys.argv[1]):
        dev, host, port = line.split()
        target = targets.get((host, port))
        if target is None:
            target = targets[host, port] = await UdpTransportTarget.create(
                (host, int(port)), timeout=2, retries=1)
        err, status, _i, binds = await get_cmd(engine, CommunityData("public"), target,
                                               ContextData(), *objs)
        values = None if err or status else {str(n): int(v) for n, v in binds}
        out.write(json.dumps({"id": dev, "values": values}) + "\\n")
    engine.close_dispatcher()

asyncio.run(main())
'''


# cProfile with a process-CPU timer: on a loaded machine the default (wall)
# timer charges time spent descheduled to whatever call was running
PROFILED = """
import cProfile, runpy, sys, time
out, sys.argv = sys.argv[1], ["opsconsole", *sys.argv[2:]]
prof = cProfile.Profile(time.process_time)
prof.enable()
try:
    runpy.run_module("opsconsole", run_name="__main__")
except SystemExit:
    pass
finally:
    prof.disable()
    prof.dump_stats(out)
"""


def addresses(site_file: Path, folder: Path) -> Path:
    """The plain script's input: `id host port` per device of the site file."""
    from opsconsole.core.siteload import load_site

    rows = [f"{d.id} {d.host} {d.port}" for d in load_site(site_file).devices()]
    path = folder / f"{site_file.stem}.addresses"
    path.write_text("\n".join(rows) + "\n")
    return path


def run_child(argv: list[str], out: Path, agent: psutil.Process) -> dict:
    """Run argv to the end; its CPU from wait4, snmpd's CPU meanwhile."""
    a0 = sum(agent.cpu_times()[:2])
    t0 = time.perf_counter()
    with out.open("wb") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.PIPE, cwd=ROOT)
        _pid, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if status != 0:
        raise SystemExit(f"{argv[:4]} failed ({status}): {err[-2000:]}")
    return {"cpu": ru.ru_utime + ru.ru_stime, "user": ru.ru_utime, "sys": ru.ru_stime,
            "wall": wall, "rss_mb": ru.ru_maxrss / 1024, "bytes": out.stat().st_size,
            "snmpd": sum(agent.cpu_times()[:2]) - a0}


def count_ok_opsconsole(out: Path) -> int:
    import json

    doc = json.loads(out.read_text())
    return sum(1 for d in doc["devices"] if d["status"] == "ok")


def count_ok_plain(out: Path) -> int:
    return sum(1 for line in out.read_text().splitlines() if '"values": {' in line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="5000,20000")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--format", choices=("json", "table"), default="json")
    ap.add_argument("--profile", type=Path, default=None, metavar="DIR")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="opsconsole-poll-once-"))
    agent = Snmpd(OIDS)
    results: dict[tuple[int, str], list[dict]] = {}
    try:
        proc = psutil.Process(agent.proc.pid)
        for n in sizes:
            site = write_site(folder, agent.port, n, 1024).rename(folder / f"site-{n}.toml")
            addr = addresses(site, folder)
            ops = [sys.executable, "-m", "opsconsole", "poll", "--config", str(site),
                   "--data-dir", str(folder / f"data-{n}"), "--once", "--format", args.format]
            plain = [sys.executable, "-c", PLAIN, str(addr), ",".join(OIDS)]
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
                prof = args.profile / f"poll-once-{n}.prof"
                run_child([sys.executable, "-c", PROFILED, str(prof), *ops[3:]],
                          folder / "prof.out", proc)
                print(f"profile of the opsconsole side at {n}: {prof}", flush=True)
            for _ in range(args.rounds):
                sides = (("plain get_cmd script", plain), ("opsconsole poll --once", ops))
                for side, argv in sides:
                    out = folder / f"out-{n}.txt"
                    r = run_child(argv, out, proc)
                    r["ok"] = (count_ok_opsconsole(out) if side.startswith("opsconsole")
                               and args.format == "json" else
                               count_ok_plain(out) if side.startswith("plain") else -1)
                    results.setdefault((n, side), []).append(r)
                    print(f"  {n:>6} {side:<24} CPU {r['cpu']:7.2f} s  wall {r['wall']:6.2f} s"
                          f"  ok {r['ok']}", flush=True)
    finally:
        agent.stop()
        shutil.rmtree(folder, ignore_errors=True)

    load = os.getloadavg()
    print(f"\nwhole process per side, {args.rounds} round(s), medians; "
          f"{psutil.cpu_count()} CPUs, load average now {load[0]:.2f}")
    print(f"{'devices':>7} {'side':<24} {'CPU s':>7} {'user':>6} {'sys':>6} {'wall s':>7} "
          f"{'CPU ms/dev':>10} {'peak RSS':>9} {'output':>9} {'snmpd CPU':>9} {'ok':>6}")
    for n in sizes:
        med = {}
        for side in ("plain get_cmd script", "opsconsole poll --once"):
            rs = results[(n, side)]
            m = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            med[side] = m
            print(f"{n:>7} {side:<24} {m['cpu']:>7.2f} {m['user']:>6.2f} {m['sys']:>6.2f} "
                  f"{m['wall']:>7.2f} {1000 * m['cpu'] / n:>10.3f} {m['rss_mb']:>7.0f} MB "
                  f"{m['bytes'] / 1e6:>7.1f} MB {m['snmpd']:>7.2f} s {min(r['ok'] for r in rs):>6}")
        ratio = med["plain get_cmd script"]["cpu"] / med["opsconsole poll --once"]["cpu"]
        print(f"{n:>7} opsconsole costs x{1 / ratio:.3f} the plain script's CPU "
              f"({ratio:.1f}x less; goal >= 5x)")


if __name__ == "__main__":
    main()
