"""What stream clients cost the site service: its CPU with no client, then
with K push-stream clients, and the bytes each client receives per poll cycle.

    .venv/bin/python bench/service_clients_bench.py [--miners 500] [--interval 10]
        [--phases 0,10,0] [--duration 60]
    .venv/bin/python bench/service_clients_bench.py --fleet snmpd --devices 20000 \
        --interval 30 --phases 0,1,10,0 --duration 60

Fleets: `sim` (default) runs the simulated site in its own process
(`opsconsole simulate`, `--miners` plus their PDUs; one UDP socket per device,
so at most about 12,000 miners under a 20,000 open-files limit); `snmpd` is
poller_scale_bench's fleet, `--devices` miners each on its own loopback
address (127.1.x.y) of one net-snmp snmpd (6 OIDs each), which costs the
machine far less CPU than the simulator at 20,000. The service runs in its own
process (`opsconsole serve`), the clients here (aiohttp, each on its own
WebSocket, reading everything). Measured in one run, span after span
(`--phases`: the clients connected in each span, 0 for none): the service
process's CPU share of one core (user and system) over `--duration` seconds,
counted from after the clients' snapshots; each span with clients against the
mean of the spans without, and per client the bytes received per poll cycle
(snapshot excluded) and the snapshot's size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opsconsole.service.tokens import TokenBook  # noqa: E402
from tests.fixtures.ports import free_tcp_port  # noqa: E402


def cpu_share(proc: psutil.Process, seconds: float) -> tuple[float, float, float]:
    """(total, user, system) CPU of proc over `seconds`, as shares of one core."""
    t0, c0 = time.monotonic(), proc.cpu_times()
    time.sleep(seconds)
    c1, span = proc.cpu_times(), time.monotonic() - t0
    user, system = (c1.user - c0.user) / span, (c1.system - c0.system) / span
    return user + system, user, system


async def client(url: str, token: str, stop: asyncio.Event, out: dict) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s, \
            s.ws_connect(url + "/api/v1/stream", max_msg_size=0) as ws:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            if '"type": "snapshot"' in msg.data[:40]:
                out["snapshots"] += 1
                out["snapshot_bytes"] = len(msg.data)
            elif out["counting"]:
                out["bytes"] += len(msg.data)
                out["cycles"] += '"type":"cycle"' in msg.data[:30]
            if stop.is_set():
                break


async def with_clients(url: str, token: str, outs: list[dict], proc: psutil.Process,
                       seconds: float) -> tuple[float, float, float]:
    """The service's CPU over `seconds` with len(outs) clients connected, from
    after their snapshots; each client's bytes and cycles in its out dict."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(client(url, token, stop, o)) for o in outs]
    while sum(o["snapshots"] for o in outs) < len(outs):
        await asyncio.sleep(0.1)
    for o in outs:
        o["counting"] = True
    share = await asyncio.to_thread(cpu_share, proc, seconds)
    for o in outs:
        o["counting"] = False
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return share


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fleet", choices=("sim", "snmpd"), default="sim")
    ap.add_argument("--miners", type=int, default=500, help="sim fleet: simulated miners")
    ap.add_argument("--devices", type=int, default=20000, help="snmpd fleet: devices")
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--phases", default="0,10,0",
                    help="clients connected in each span, in order (0: none)")
    ap.add_argument("--duration", type=float, default=60.0)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="opsconsole-svcbench-"))
    py = [sys.executable, "-m", "opsconsole"]
    sim = agent = serve = None
    try:
        if a.fleet == "snmpd":
            agent, cfg = snmpd_fleet(tmp, a.devices, a.interval)
            what = f"{a.devices} devices (snmpd fleet)"
        else:
            sim, cfg = sim_fleet(py, tmp, a.miners, a.interval)
            what = f"{a.miners} miners + PDUs (simulator)"
        token = TokenBook(tmp / "data").create("bench", "viewer")
        port = free_tcp_port()
        serve = subprocess.Popen([*py, "serve", "--config", str(cfg), "--data-dir",
                                  str(tmp / "data"), "--listen", f"127.0.0.1:{port}"],
                                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        proc = psutil.Process(serve.pid)
        while True:  # a first full pass and one scheduled cycle
            if serve.poll() is not None:
                raise SystemExit("opsconsole serve exited")
            try:
                with urllib_open(url + "/healthz") as doc:
                    if doc["cycles"] >= 1:
                        break
            except OSError:
                pass
            time.sleep(0.5)
        spans: list[tuple[int, tuple[float, float, float], list[dict]]] = []
        for k in [int(x) for x in a.phases.split(",")]:
            if k == 0:
                spans.append((0, cpu_share(proc, a.duration), []))
            else:
                outs = [{"bytes": 0, "cycles": 0, "snapshots": 0, "snapshot_bytes": 0,
                         "counting": False} for _ in range(k)]
                spans.append((k, asyncio.run(with_clients(url, token, outs, proc, a.duration)),
                              outs))
                time.sleep(min(5.0, a.interval / 4))  # the last sends drain
        from opsconsole.core.siteload import load_site

        devices = len(load_site(cfg).devices())
        overflows = health(url)["stream"]["overflows"]
        load = os.getloadavg()
        print(f"{what}: {devices} devices polled, interval {a.interval:g} s, "
              f"{a.duration:g} s per span; load average {load[0]:.2f}")
        alone = [c[0] for k, c, _ in spans if k == 0]
        base = sum(alone) / len(alone) if alone else float("nan")
        for k, (total, user, system), outs in spans:
            line = (f"  {k:>2} clients: service {total * 100:5.1f} % of a core "
                    f"(user {user * 100:.1f}, system {system * 100:.1f})")
            if k:
                cycles = max(1, min(o["cycles"] for o in outs))
                per = sum(o["bytes"] for o in outs) / len(outs) / cycles
                line += (f", {(total / base - 1) * 100:+.1f} % over alone (goal < +50 % at 10);"
                         f" per client {per / 1e6:.2f} MB per poll cycle ({cycles} cycles),"
                         f" {per / max(1, devices):.0f} B per device; snapshot "
                         f"{max(o['snapshot_bytes'] for o in outs) / 1e6:.2f} MB")
            print(line)
        print(f"stream queue overflows: {overflows} (each answered by a fresh snapshot)")
    finally:
        for p in (serve, sim):
            if p is not None:
                p.terminate()
                p.wait(30)
        if agent is not None:
            agent.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def snmpd_fleet(tmp: Path, devices: int, interval: float) -> tuple[Any, Path]:
    """poller_scale_bench's fleet (all live), its site file's interval `interval`."""
    sys.path.insert(0, str(ROOT / "bench"))
    from poller_scale_bench import FleetSnmpd, write_fleet

    agent = FleetSnmpd()
    try:
        return agent, write_fleet(tmp, agent, devices, 0.0, interval, "auto", 1024)
    except BaseException:
        agent.stop()
        raise


def sim_fleet(py: list[str], tmp: Path, miners: int,
              interval: float) -> tuple[subprocess.Popen, Path]:
    cfg = tmp / "site.toml"
    sim = subprocess.Popen([*py, "simulate", "--miners", str(miners), "--gpus", "0",
                            "--write-config", str(cfg)], cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    while not cfg.exists():
        if sim.poll() is not None:
            raise SystemExit("the simulator did not start")
        time.sleep(0.2)
    time.sleep(1)
    cfg.write_text(re.sub(r"poll_interval_s = \S+", f"poll_interval_s = {interval:g}",
                          cfg.read_text(), count=1))
    return sim, cfg


def health(url: str) -> dict[str, Any]:
    with urllib_open(url + "/healthz") as doc:
        return doc


def urllib_open(url: str):
    import contextlib
    import json
    import urllib.request

    @contextlib.contextmanager
    def go():
        with urllib.request.urlopen(url, timeout=10) as r:
            yield json.loads(r.read())
    return go()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
