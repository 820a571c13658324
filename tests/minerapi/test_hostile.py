"""The client against broken and hostile peers on 127.0.0.1, and the
guarantees around them: sections fail alone, joins fall back, a miner gets
one connection at a time, and a hostile miner spoils only its own reading."""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import replace

from opsconsole.collectors.minerapi.client import MinerApi
from opsconsole.collectors.poller import Poller
from opsconsole.core.readings import Status
from opsconsole.core.site import Group, Site
from opsconsole.sim.minerapi.server import ApiServer, replay_handler
from tests.minerapi.support import api_device, captures, serve

TIMEOUT_S = 1.5


async def _drain_request(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(reader.read(4096), 2)


def _garbage(reader, writer):
    async def run():
        await _drain_request(reader)
        writer.write(random.Random(7).randbytes(3000).replace(b"\x00", b"\x01") + b"\x00")
        await writer.drain()
        writer.close()
    return run()


def _never_ends(reader, writer):
    async def run():
        await _drain_request(reader)
        writer.write(b'{"STATUS":[{"STATUS":"S"}],"SUMMARY":[')
        with contextlib.suppress(Exception):
            while True:  # an endless list, a little at a time
                writer.write(b'{"MHS 5s":1},')
                await writer.drain()
                await asyncio.sleep(0.01)
    return run()


def _ten_megabytes(reader, writer):
    async def run():
        await _drain_request(reader)
        body = b'{"STATUS":[{"STATUS":"S"}],"pad":"' + b"x" * (10 * 1024 * 1024) + b'"}'
        with contextlib.suppress(Exception):
            writer.write(body + b"\x00")
            await writer.drain()
            writer.close()
    return run()


def _silent_open(reader, writer):
    async def run():
        await _drain_request(reader)
        await asyncio.sleep(3600)  # never answers, never closes
    return run()


def _half_then_open(reader, writer):
    async def run():
        await _drain_request(reader)
        writer.write(captures("antminer")["summary"][:300])  # no NUL, no close
        await writer.drain()
        await asyncio.sleep(3600)
    return run()


def _drip(reader, writer):
    async def run():
        await _drain_request(reader)
        with contextlib.suppress(Exception):
            for b in captures("antminer")["summary"]:
                writer.write(bytes([b]))
                await writer.drain()
                await asyncio.sleep(0.05)
    return run()


def _nul_mid_reply(reader, writer):
    async def run():
        await _drain_request(reader)
        raw = captures("antminer")["summary"]
        writer.write(raw[:200] + b"\x00" + raw[200:] + b"\x00")
        await writer.drain()
        writer.close()
    return run()


HOSTILE = {
    "garbage": (_garbage, Status.ERROR),
    "never-ends": (_never_ends, Status.ERROR),
    "ten-mb": (_ten_megabytes, Status.ERROR),
    "never-closes-silent": (_silent_open, Status.UNREACHABLE),
    "never-closes-half": (_half_then_open, Status.ERROR),
    "drip": (_drip, Status.ERROR),
    "nul-mid-reply": (_nul_mid_reply, Status.ERROR),
}


def test_hostile_miners_spoil_only_their_own_reading():
    async def main():
        servers: list = []
        good = [await serve(captures("antminer")) for _ in range(3)]
        tasks: set = set()

        def spawn(fn):
            def cb(reader, writer):
                t = asyncio.ensure_future(fn(reader, writer))
                tasks.add(t)
            return cb

        devices = [api_device(s.port, f"good-{i}", firmware="antminer", timeout_s=TIMEOUT_S)
                   for i, s in enumerate(good)]
        for name, (fn, _) in HOSTILE.items():
            srv = await asyncio.start_server(spawn(fn), "127.0.0.1", 0)
            servers.append(srv)
            port = srv.sockets[0].getsockname()[1]
            devices.append(api_device(port, name, firmware="antminer", timeout_s=TIMEOUT_S))
        site = Site(name="t", path=None, groups=(Group("g", "g", "mining", tuple(devices)),))
        poller = Poller(site, lambda batch: None)
        try:
            return {r.device: r for r in await poller.poll_once()}
        finally:
            await poller.close()
            for t in tasks:
                t.cancel()
            for s in servers:
                s.close()
            for s in good:
                await s.stop()

    got = asyncio.run(main())
    for i in range(3):
        r = got[f"good-{i}"]
        assert r.status is Status.OK, r.error
        assert abs(r.metrics["hashrate_ths"] - 110.56689) < 1e-6
    for name, (_, want) in HOSTILE.items():
        r = got[name]
        assert r.status is want, (name, r.status, r.error)
        assert r.metrics == {} and r.error, name


def test_dead_port_is_unreachable():
    async def main():
        srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        srv.close()
        await srv.wait_closed()
        from opsconsole.collectors.minerapi.collector import collect
        return await collect(MinerApi(), api_device(port, firmware="antminer"))

    r = asyncio.run(main())
    assert r.status is Status.UNREACHABLE and r.error


def test_one_failing_section_keeps_the_others():
    replies = captures("luxos")
    replies["power"] = (b'{"STATUS":[{"STATUS":"E","Code":45,"Msg":"Access denied to '
                        b'\'power\' command","Description":"LUXminer"}],"id":1}')

    async def main():
        srv = await serve(replies)
        try:
            api = MinerApi()
            from opsconsole.collectors.minerapi.collector import collect
            return await collect(api, api_device(srv.port)), await api.commands(
                "127.0.0.1", srv.port, ["summary", "power", "fans"])
        finally:
            await srv.stop()

    r, sections = asyncio.run(main())
    assert r.status is Status.PARTIAL
    assert "power_w" not in r.metrics and r.metrics["hashrate_ths"] > 59
    assert "power" in (r.error or "") and "code 45" in (r.error or "")
    assert isinstance(sections["summary"], dict) and isinstance(sections["fans"], dict)
    assert isinstance(sections["power"], Exception)


def test_joins_refused_fall_back_once_then_stay_single():
    async def main():
        srv = await serve(captures("antminer"), joins=False)
        try:
            api = MinerApi()
            a = await api.commands("127.0.0.1", srv.port, ["summary", "stats"])
            n1 = srv.requests
            b = await api.commands("127.0.0.1", srv.port, ["summary", "stats"])
            return a, b, n1, srv.requests - n1
        finally:
            await srv.stop()

    a, b, first, second = asyncio.run(main())
    assert all(isinstance(v, dict) for v in (*a.values(), *b.values()))
    assert first == 3 and second == 2  # refused join + 2 singles; then singles only


def test_one_connection_at_a_time_per_miner():
    """Firmware that serves one client at a time: never two sockets to one miner."""
    state = {"now": 0, "max": 0}
    summary = captures("antminer")["summary"]

    async def handler(request):
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        await asyncio.sleep(0.05)
        state["now"] -= 1
        return summary

    async def main():
        srv = await ApiServer(handler).start()
        try:
            api = MinerApi()
            await asyncio.gather(*(api.command("127.0.0.1", srv.port, "summary")
                                   for _ in range(6)))
            return srv.requests
        finally:
            await srv.stop()

    assert asyncio.run(main()) == 6
    assert state["max"] == 1


def test_reply_closed_without_nul_is_complete():
    async def main():
        srv = await ApiServer(replay_handler(captures("antminer")), nul=False).start()
        try:
            return await MinerApi().command("127.0.0.1", srv.port, "summary")
        finally:
            await srv.stop()

    assert asyncio.run(main())["SUMMARY"][0]["GHS 5s"] == 110566.89


def test_a_host_name_is_resolved_and_read():
    async def main():
        srv = await serve(captures("antminer"))
        try:
            from opsconsole.collectors.minerapi.collector import collect
            dev = replace(api_device(srv.port, firmware="antminer"), host="localhost")
            return await collect(MinerApi(), dev)
        finally:
            await srv.stop()

    r = asyncio.run(main())
    assert r.status is Status.OK, r.error
    assert abs(r.metrics["hashrate_ths"] - 110.56689) < 1e-6


def test_timed_out_exchanges_leave_no_client_socket_open():
    """Every way out of an exchange (deadline, cancellation) closes its socket."""
    import psutil

    async def main():
        tasks: set = set()

        def cb(reader, writer):
            tasks.add(asyncio.ensure_future(_silent_open(reader, writer)))

        srv = await asyncio.start_server(cb, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        api = MinerApi(per_miner=20)
        try:
            got = await asyncio.gather(
                *(api.command("127.0.0.1", port, "summary", timeout_s=0.3) for _ in range(10)),
                return_exceptions=True)
            pending = [asyncio.ensure_future(api.command("127.0.0.1", port, "summary"))
                       for _ in range(10)]
            await asyncio.sleep(0.2)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            mine = [c for c in psutil.Process().net_connections("tcp")
                    if c.raddr and c.raddr.port == port]
            return got, len(mine)
        finally:
            for t in tasks:
                t.cancel()
            srv.close()

    got, open_client_sockets = asyncio.run(main())
    assert all(type(g).__name__ == "ApiUnreachable" for g in got), got
    assert open_client_sockets == 0
