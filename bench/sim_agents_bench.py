"""The simulated site's agents under load: can they serve 2,000 miners polled
every 10 s (200 polls/s) without being the bottleneck?

    .venv/bin/python bench/sim_agents_bench.py [MINERS] [POLLS_PER_S] [SECONDS]

The agents run in their own process; a lean client (our BER codec) sends each
poll as one 8-OID GET plus two GETBULK walks at a steady rate. Prints the
agents' CPU share of one core, CPU per poll and lost requests (JSON).
"""

import argparse
import asyncio
import json
import multiprocessing as mp
import time

import psutil

from opsconsole.collectors.snmp import ber
from opsconsole.sim import miner as mm
from opsconsole.sim.site import SimSite


def serve(q, n):
    async def main():
        t0 = time.perf_counter()
        site = SimSite(n, 0, seed=1)
        t1 = time.perf_counter()
        await site.start()
        t2 = time.perf_counter()
        q.put(
            {
                "build_s": t1 - t0,
                "start_s": t2 - t1,
                "ports": [d.port for d in site.devices() if d.kind == "miner"],
                "rss_mb": psutil.Process().memory_info().rss / 2**20,
            }
        )
        await asyncio.sleep(3600)

    asyncio.run(main())


SCALARS = [
    mm.OID_HASHRATE,
    mm.OID_NOMINAL,
    mm.OID_POWER,
    mm.OID_INLET,
    mm.OID_UPTIME,
    mm.OID_STATE,
    mm.OID_CONTROL,
    (1, 3, 6, 1, 2, 1, 1, 3, 0),
]


class Client(asyncio.DatagramProtocol):
    def __init__(self):
        self.waiting = {}
        self.got = 0

    def datagram_received(self, data, addr):
        m = ber.decode(data)
        f = self.waiting.pop(m.pdu.request_id, None)
        if f and not f.done():
            f.set_result(m)


async def client(ports, rate, duration, proc):
    loop = asyncio.get_running_loop()
    tr, pr = await loop.create_datagram_endpoint(Client, local_addr=("127.0.0.1", 0))
    rid = 0
    ok = 0
    lost = 0

    async def req(port, ptype, vbs, mr=0):
        nonlocal rid, ok, lost
        rid += 1
        f = loop.create_future()
        pr.waiting[rid] = f
        tr.sendto(
            ber.encode(ber.Message(1, b"public", ber.Pdu(ptype, rid, 0, mr, vbs))),
            ("127.0.0.1", port),
        )
        try:
            await asyncio.wait_for(f, 2)
            ok += 1
        except TimeoutError:
            lost += 1

    get_vbs = tuple(ber.VarBind(o, ber.NULL) for o in SCALARS)

    async def poll(port):
        await asyncio.gather(
            req(port, ber.GET_REQUEST, get_vbs),
            req(port, ber.GET_BULK_REQUEST, (ber.VarBind(mm.OID_BOARD_TEMP, ber.NULL),), 10),
            req(port, ber.GET_BULK_REQUEST, (ber.VarBind(mm.OID_FAN_RPM, ber.NULL),), 10),
        )

    c0 = proc.cpu_times()
    me0 = psutil.Process().cpu_times()
    t0 = time.perf_counter()
    tasks = []
    i = 0
    while time.perf_counter() - t0 < duration:
        due = int((time.perf_counter() - t0) * rate)
        while i < due:
            tasks.append(asyncio.ensure_future(poll(ports[i % len(ports)])))
            i += 1
        await asyncio.sleep(0.002)
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    c1 = proc.cpu_times()
    me1 = psutil.Process().cpu_times()
    agent_cpu = (c1.user + c1.system) - (c0.user + c0.system)
    client_cpu = (me1.user + me1.system) - (me0.user + me0.system)
    return dict(
        polls=i,
        wall=round(wall, 2),
        polls_per_s=round(i / wall, 1),
        requests_ok=ok,
        lost=lost,
        agent_core_fraction=round(agent_cpu / wall, 4),
        agent_us_per_poll=round(1e6 * agent_cpu / i, 1),
        client_core_fraction=round(client_cpu / wall, 3),
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="simulated agents under a steady poll load")
    ap.add_argument("miners", type=int, nargs="?", default=2000)
    ap.add_argument("rate", type=float, nargs="?", default=200.0, help="polls per second")
    ap.add_argument("seconds", type=float, nargs="?", default=20.0)
    a = ap.parse_args()
    n, rate, dur = a.miners, a.rate, a.seconds
    q = mp.Queue()
    p = mp.Process(target=serve, args=(q, n), daemon=True)
    p.start()
    info = q.get(timeout=120)
    proc = psutil.Process(p.pid)
    time.sleep(1)
    idle0 = proc.cpu_times()
    time.sleep(2)
    idle1 = proc.cpu_times()
    info["idle_core_fraction"] = round(
        ((idle1.user + idle1.system) - (idle0.user + idle0.system)) / 2, 4
    )
    res = asyncio.run(client(info.pop("ports"), rate, dur, proc))
    print(json.dumps({**info, **res, "miners": n, "target_rate": rate}))
    p.terminate()
