"""The poller's CPU for gpu-hosts: N dcgm-exporter hosts of 8 GPUs each,
scraped every 15 s on loopback, through the real poller (its schedule,
keep-alive aiohttp session, prometheus_client parser, one reading per GPU).

    .venv/bin/python bench/gpu_hosts_bench.py [--hosts 1000] [--cycles 2] [--interval 15]

The exporters run in a child process (an aiohttp server on a few ports, one
path per host, a page per host with its own UUIDs: ~14 fields x 8 GPUs as
dcgm-exporter prints them), so this process's CPU is the poller's alone.
Prints scrapes, GPU readings, the poller's CPU per scrape and its share of one
core against the target (a quarter of a core).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

PORTS = 8
TARGET_CORE = 0.25

SERVER = r'''
import asyncio, sys
from aiohttp import web
hosts, base = int(sys.argv[1]), int(sys.argv[2])
FIELDS = [("DCGM_FI_DEV_SM_CLOCK", "gauge", 1980), ("DCGM_FI_DEV_MEM_CLOCK", "gauge", 2619),
          ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", 55), ("DCGM_FI_DEV_GPU_TEMP", "gauge", 61),
          ("DCGM_FI_DEV_POWER_USAGE", "gauge", 612.5),
          ("DCGM_FI_DEV_POWER_MGMT_LIMIT", "gauge", 700),
          ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", 123456789012),
          ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", 0), ("DCGM_FI_DEV_GPU_UTIL", "gauge", 97),
          ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", 41), ("DCGM_FI_DEV_XID_ERRORS", "gauge", 0),
          ("DCGM_FI_DEV_FB_FREE", "gauge", 11000), ("DCGM_FI_DEV_FB_USED", "gauge", 70559),
          ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", 0)]
def page(h):
    out = []
    for name, typ, v in FIELDS:
        out += [f"# HELP {name} bench", f"# TYPE {name} {typ}"]
        for g in range(8):
            out.append(f'{name}{{gpu="{g}",UUID="GPU-{h:08d}-{g:04d}-0000-0000-000000000000",'
                       f'pci_bus_id="00000000:{0x18 + g:02X}:00.0",device="nvidia{g}",'
                       f'modelName="NVIDIA H100 80GB HBM3",Hostname="node-{h}",'
                       f'DCGM_FI_DRIVER_VERSION="550.90.07"}} {v}')
    return ("\n".join(out) + "\n").encode()
PAGES = [page(h) for h in range(hosts)]
async def handle(req):
    return web.Response(body=PAGES[int(req.match_info["h"])], content_type="text/plain")
async def main():
    app = web.Application()
    app.router.add_get("/h/{h}/metrics", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    for p in range(8):
        await web.TCPSite(runner, "127.0.0.1", base + p).start()
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
'''


def free_base() -> int:
    import socket

    for base in range(42000, 60000, 16):
        try:
            for p in range(PORTS):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + p))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports")


def write_site(folder: Path, hosts: int, base: int, interval: float) -> Path:
    lines = ["[site]", 'name = "gpu-host bench"', f"poll_interval_s = {interval:g}", "",
             "[[groups]]", 'id = "gpus"', 'name = "GPU hosts"', 'duty = "inference"']
    for h in range(hosts):
        lines += ["[[groups.devices]]", f'id = "node-{h}"', 'kind = "gpu-host"',
                  f'exporter = "http://127.0.0.1:{base + h % PORTS}/h/{h}/metrics"', "gpus = 8"]
    path = folder / "site.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def run(site_path: Path, cycles: int) -> dict[str, float]:
    from opsconsole.collectors.poller import Poller
    from opsconsole.core.readings import Status
    from opsconsole.core.siteload import load_site

    site = load_site(site_path)
    counts = {"hosts": 0, "gpus_ok": 0, "bad": 0}

    def on_batch(batch):
        for r in batch:
            if r.device.count("/"):
                counts["gpus_ok"] += r.status is Status.OK
            else:
                counts["hosts"] += 1
                counts["bad"] += r.status is not Status.OK

    poller = Poller(site, on_batch)
    proc = psutil.Process()
    task = asyncio.create_task(poller.run())
    await asyncio.sleep(site.poll_interval_s)  # one cycle to warm up (connections, imports)
    c0, t0 = proc.cpu_times(), time.monotonic()
    before = dict(counts)
    await asyncio.sleep(cycles * site.poll_interval_s)
    c1, t1 = proc.cpu_times(), time.monotonic()
    after = dict(counts)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await poller.close()
    cpu = (c1.user - c0.user) + (c1.system - c0.system)
    scrapes = after["hosts"] - before["hosts"]
    return {"cpu_s": cpu, "wall_s": t1 - t0, "scrapes": scrapes,
            "gpus_ok": after["gpus_ok"] - before["gpus_ok"], "bad": after["bad"] - before["bad"]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--cycles", type=int, default=2)
    ap.add_argument("--interval", type=float, default=15.0)
    a = ap.parse_args()
    base = free_base()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(a.hosts), str(base)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        with tempfile.TemporaryDirectory() as tmp:
            res = asyncio.run(run(write_site(Path(tmp), a.hosts, base, a.interval), a.cycles))
    finally:
        server.terminate()
        server.wait(10)
    share = res["cpu_s"] / res["wall_s"]
    per = 1000 * res["cpu_s"] / max(1, res["scrapes"])
    print(f"{a.hosts} gpu-hosts x 8 GPUs every {a.interval:g} s, {a.cycles} cycles measured")
    print(f"scrapes {res['scrapes']:.0f} ({res['bad']:.0f} not ok), GPU readings ok "
          f"{res['gpus_ok']:.0f}")
    print(f"poller CPU {res['cpu_s']:.2f} s over {res['wall_s']:.1f} s: {share:.3f} of a core "
          f"({per:.2f} ms per scrape); target {TARGET_CORE:.2f}: "
          f"{'within' if share <= TARGET_CORE else f'misses by {share / TARGET_CORE:.1f}x'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
