"""opsconsole's poller against Prometheus snmp_exporter: the same fleet on the
same snmpd, the same 6 OIDs per device, in one run.

    .venv/bin/python bench/snmp_exporter_bench.py [--devices 2000] [--rounds 3]
        [--concurrency 64]

Needs the Debian package (`apt-get install -y prometheus-snmp-exporter`); the
bench says so and exits if it is missing. It writes an snmp.yml module for
the 6 OIDs (the 0.21 format: one top-level key per module, auth inside it;
checked with --dry-run), starts the exporter on 127.0.0.1, and drives it with
`--concurrency` concurrent keep-alive HTTP scrapes of
/snmp?target=127.1.x.y:PORT&module=opsbench, one per device. The poller side
is `Poller.poll_once()` over the same devices with the same concurrency.
Rounds are interleaved. Counted: polls/s, CPU ms per poll of the exporter
process vs the poller process (the HTTP client's own CPU is shown apart and
charged to neither), snmpd's CPU share.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from poller_bench import OIDS
from poller_scale_bench import LIVE_NET, FleetSnmpd, device_ip, write_fleet
from snmpd_agent import stop_process

EXPORTER = shutil.which("prometheus-snmp-exporter") or "/usr/bin/prometheus-snmp-exporter"
MODULE = "opsbench"
NAMES = ["hashrate", "hashrate_nominal", "power", "inlet", "uptime", "state"]


def snmp_yml() -> str:
    lines = [f"{MODULE}:", "  version: 2", "  auth:", "    community: public",
             "  timeout: 2s", "  retries: 1", "  max_repetitions: 25", "  get:"]
    lines += [f"  - {oid}" for oid in OIDS]
    lines.append("  metrics:")
    for name, oid in zip(NAMES, OIDS, strict=True):
        lines += [f"  - name: ops_{name}", f"    oid: {oid}", "    type: gauge",
                  f"    help: {name}"]
    return "\n".join(lines) + "\n"


class Exporter:
    def __init__(self, folder: Path) -> None:
        from tests.fixtures.ports import free_tcp_port

        self.port = free_tcp_port()
        conf = folder / "snmp.yml"
        conf.write_text(snmp_yml())
        check = subprocess.run([EXPORTER, f"--config.file={conf}", "--dry-run"],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"snmp.yml rejected: {check.stderr.strip()[-500:]}")
        self.proc = subprocess.Popen(
            [EXPORTER, f"--config.file={conf}", f"--web.listen-address=127.0.0.1:{self.port}",
             "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                asyncio.run(_scrape_once(self.port, "/metrics"))
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("snmp_exporter did not start")

    def stop(self) -> None:
        stop_process(self.proc)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    body = bytearray()  # chunked
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return status, bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def _scrape_once(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    _, body = await _read_response(reader)
    writer.close()
    return body


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


async def exporter_round(exp: Exporter, fleet: FleetSnmpd, devices: int, conc: int,
                         agent: psutil.Process) -> dict:
    paths = [f"/snmp?target={device_ip(LIVE_NET, i)}:{fleet.port}&module={MODULE}"
             for i in range(devices)]
    todo = list(reversed(paths))
    ok = 0

    async def worker() -> None:
        nonlocal ok
        reader, writer = await asyncio.open_connection("127.0.0.1", exp.port)
        try:
            while todo:
                path = todo.pop()
                writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                status, body = await _read_response(reader)
                ok += status == 200 and body.count(b"\nops_") >= len(NAMES) - 1
        finally:
            writer.close()

    ex = psutil.Process(exp.proc.pid)
    e0, a0, c0, w0 = _cpu(ex), _cpu(agent), time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    wall = time.perf_counter() - w0
    return {"wall": wall, "cpu": _cpu(ex) - e0, "client_cpu": time.process_time() - c0,
            "agent": (_cpu(agent) - a0) / wall, "ok": ok}


async def poller_round(site, agent: psutil.Process) -> dict:
    from opsconsole.collectors.poller import Poller

    poller = Poller(site, lambda b: None)
    try:
        await poller.poll_device(site.devices()[0])  # warm-up: socket, caches
        a0, c0, w0 = _cpu(agent), time.process_time(), time.perf_counter()
        readings = await poller.poll_once()
        wall = time.perf_counter() - w0
        cpu = time.process_time() - c0
    finally:
        await poller.close()
    return {"wall": wall, "cpu": cpu, "client_cpu": 0.0, "agent": (_cpu(agent) - a0) / wall,
            "ok": sum(r.status.value == "ok" for r in readings)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    if not Path(EXPORTER).exists():
        sys.exit("prometheus-snmp-exporter is not installed: "
                 "apt-get install -y prometheus-snmp-exporter")
    version = subprocess.run([EXPORTER, "--version"], capture_output=True, text=True)
    from opsconsole.core.siteload import load_site

    folder = Path(tempfile.mkdtemp(prefix="opsconsole-exporter-"))
    fleet = FleetSnmpd()
    exp = None
    runs: dict[str, list[dict]] = {"snmp_exporter": [], "opsconsole poller": []}
    try:
        exp = Exporter(folder)
        site = load_site(write_fleet(folder, fleet, args.devices, 0.0, 30, "auto",
                                     args.concurrency))
        agent = psutil.Process(fleet.proc.pid)
        asyncio.run(exporter_round(exp, fleet, min(200, args.devices), args.concurrency, agent))
        for _ in range(args.rounds):
            runs["snmp_exporter"].append(asyncio.run(
                exporter_round(exp, fleet, args.devices, args.concurrency, agent)))
            runs["opsconsole poller"].append(asyncio.run(poller_round(site, agent)))
    finally:
        if exp is not None:
            exp.stop()
        fleet.stop()
        shutil.rmtree(folder, ignore_errors=True)

    first = (version.stdout or version.stderr).splitlines()[0]
    print(f"{first}; {args.devices} devices x {len(OIDS)} OIDs per round, {args.rounds} rounds,"
          f" median; {args.concurrency} concurrent; one snmpd; {psutil.cpu_count()} CPUs")
    print(f"{'collector':<20} {'polls/s':>8} {'CPU ms/poll':>12} {'client ms/poll':>15}"
          f" {'snmpd CPU':>10} {'ok':>6}")
    res = {}
    for name, rs in runs.items():
        rate = statistics.median(args.devices / r["wall"] for r in rs)
        cpu = statistics.median(1000 * r["cpu"] / args.devices for r in rs)
        client = statistics.median(1000 * r["client_cpu"] / args.devices for r in rs)
        share = statistics.median(r["agent"] for r in rs)
        res[name] = (rate, cpu)
        print(f"{name:<20} {rate:>8.0f} {cpu:>12.3f} {client:>15.3f} {share:>9.1%}"
              f" {min(r['ok'] for r in rs):>6}")
    (er, ec), (pr, pc) = res["snmp_exporter"], res["opsconsole poller"]
    print(f"\nopsconsole poller vs snmp_exporter: polls/s x{pr / er:.2f},"
          f" CPU per poll x{pc / ec:.2f} ({'less' if pc < ec else 'more'} CPU per poll)")


if __name__ == "__main__":
    main()
