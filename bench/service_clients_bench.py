"""What stream clients cost the site service: its CPU with no client, then
with K push-stream clients, and the bytes each client receives per poll cycle.

    .venv/bin/python bench/service_clients_bench.py [--miners 500] [--interval 10]
        [--clients 10] [--duration 60]

The simulated site runs in its own process (`opsconsole simulate`), the
service in another (`opsconsole serve`), the clients here (aiohttp, each on
its own WebSocket, reading everything). Measured side by side in one run:
the service process's CPU share of one core over `--duration` seconds
without clients, then over the same span with the clients connected (after
their snapshots), the ratio of the two, and per client the bytes received
per poll cycle (snapshot excluded).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opsconsole.service.tokens import TokenBook  # noqa: E402
from tests.fixtures.ports import free_tcp_port  # noqa: E402


def cpu_share(proc: psutil.Process, seconds: float) -> float:
    t0, c0 = time.monotonic(), sum(proc.cpu_times()[:2])
    time.sleep(seconds)
    return (sum(proc.cpu_times()[:2]) - c0) / (time.monotonic() - t0)


async def client(url: str, token: str, stop: asyncio.Event, out: dict) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s, \
            s.ws_connect(url + "/api/v1/stream", max_msg_size=0) as ws:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            if '"type": "snapshot"' in msg.data[:40]:
                out["snapshots"] += 1
            elif out["counting"]:
                out["bytes"] += len(msg.data)
                out["cycles"] += '"type":"cycle"' in msg.data[:30]
            if stop.is_set():
                break


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--miners", type=int, default=500)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--duration", type=float, default=60.0)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="opsconsole-svcbench-"))
    cfg = tmp / "site.toml"
    py = [sys.executable, "-m", "opsconsole"]
    sim = subprocess.Popen([*py, "simulate", "--miners", str(a.miners), "--gpus", "0",
                            "--write-config", str(cfg)], cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    serve = None
    try:
        while not cfg.exists():
            time.sleep(0.2)
        time.sleep(1)
        cfg.write_text(re.sub(r"poll_interval_s = \S+", f"poll_interval_s = {a.interval:g}",
                              cfg.read_text(), count=1))
        token = TokenBook(tmp / "data").create("bench", "viewer")
        port = free_tcp_port()
        serve = subprocess.Popen([*py, "serve", "--config", str(cfg), "--data-dir",
                                  str(tmp / "data"), "--listen", f"127.0.0.1:{port}"],
                                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        proc = psutil.Process(serve.pid)
        while True:  # a first full pass and one scheduled cycle
            try:
                with urllib_open(url + "/healthz") as doc:
                    if doc["cycles"] >= 1:
                        break
            except OSError:
                pass
            time.sleep(0.5)
        alone = cpu_share(proc, a.duration)
        outs = [{"bytes": 0, "cycles": 0, "snapshots": 0, "counting": False}
                for _ in range(a.clients)]

        async def with_clients() -> float:
            stop = asyncio.Event()
            tasks = [asyncio.create_task(client(url, token, stop, o)) for o in outs]
            while sum(o["snapshots"] for o in outs) < a.clients:
                await asyncio.sleep(0.1)
            for o in outs:
                o["counting"] = True
            share = await asyncio.to_thread(cpu_share, proc, a.duration)
            for o in outs:
                o["counting"] = False
            stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return share

        shared = asyncio.run(with_clients())
        cycles = max(1, min(o["cycles"] for o in outs))
        per = sum(o["bytes"] for o in outs) / len(outs) / cycles
        print(f"devices {a.miners} miners + PDUs, interval {a.interval:g} s, "
              f"{a.clients} clients, {a.duration:g} s each")
        print(f"service CPU: {alone * 100:.1f} % of a core alone, {shared * 100:.1f} % with "
              f"{a.clients} clients (x{shared / alone if alone else float('nan'):.2f})")
        print(f"per client: {per / 1024:.1f} KiB per poll cycle ({cycles} cycles counted), "
              f"{per / max(1, a.miners):.0f} B per miner per cycle")
    finally:
        for p in (serve, sim):
            if p is not None:
                p.terminate()
                p.wait(30)


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
