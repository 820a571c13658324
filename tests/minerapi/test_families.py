"""Every family read from real captured replies (tests/data/miner_api/README.md),
served by a real TCP server on 127.0.0.1, through firmware detection."""

from __future__ import annotations

import asyncio
import json

import pytest

from opsconsole.collectors.minerapi.client import MinerApi
from opsconsole.collectors.minerapi.collector import collect
from opsconsole.core.readings import Status
from tests.minerapi.support import api_device, captures, compact, serve


def poll(replies: dict[str, bytes], *, joins: bool = True, firmware: str = "auto",
         api: MinerApi | None = None):
    async def main():
        srv = await serve(replies, joins=joins)
        try:
            return await collect(api or MinerApi(), api_device(srv.port, firmware=firmware)), \
                srv.requests
        finally:
            await srv.stop()
    return asyncio.run(main())


def test_stock_antminer_s19_pro():
    r, _ = poll(captures("antminer"))
    assert r.status is Status.OK, r.error
    m = r.metrics
    assert m["firmware"] == "antminer" and m["model"] == "Antminer S19 Pro"
    assert m["hashrate_ths"] == pytest.approx(110.56689)  # GHS 5s 110566.89
    assert m["hashrate_nominal_ths"] == pytest.approx(110.0)  # total_rateideal, rate_unit GH
    assert m["temp_c"] == 78.0  # temp_chip1 "78-50-69-70" and temp2_1 78
    assert m["fan_rpm"] == 5040.0  # the slowest of fan1..fan4
    assert m["uptime_s"] == 50474 and m["state"] == "mining"
    assert "power_w" not in m  # stock firmware reports none: absent, never estimated
    assert m["board_hashrate_ths"] == pytest.approx([37.6033, 35.53622, 37.42738])
    assert m["board_temp_c"] == [78.0, 71.0, 69.0]  # the empty 4th slot is no board
    assert m["board_chips"] == [114, 114, 114]


def test_luxos_s19k_pro():
    r, _ = poll(captures("luxos"))
    assert r.status is Status.OK, r.error
    m = r.metrics
    assert m["firmware"] == "luxos" and m["model"] == "Antminer S19k Pro"
    assert m["hashrate_ths"] == pytest.approx(59.75606)  # summary GHS 5s (GH/s)
    devs = json.loads(captures("luxos")["devs"])["DEVS"]
    assert m["hashrate_nominal_ths"] == pytest.approx(sum(d["Nominal MHS"] for d in devs) / 1e6)
    assert m["board_hashrate_ths"] == pytest.approx(  # devs MHS 5s (MH/s), by board ID
        [d["MHS 5s"] / 1e6 for d in sorted(devs, key=lambda d: d["ID"])])
    assert m["power_w"] == 1051.0  # `power` Watts
    assert m["temp_c"] == 47.0 and m["fan_rpm"] == 1920.0
    assert m["state"] == "mining"  # config CurtailMode "None"


def test_whatsminer_v1_status_as_a_string_and_joins_refused():
    replies = captures("whatsminer_v1")
    r, requests = poll(replies, joins=False)
    assert r.status is Status.OK, r.error
    m = r.metrics
    assert m["firmware"] == "whatsminer"  # from summary fields: its version reply is bare
    assert m["hashrate_ths"] == pytest.approx(70.668115, abs=1e-6)  # MHS 5s (MH/s)
    assert m["hashrate_nominal_ths"] == pytest.approx(68.796)  # Factory GHS
    assert m["power_w"] == 3427.0  # Power_RT
    assert m["temp_c"] == 92.5  # summary Chip Temp Max
    assert m["fan_rpm"] == 6450.0 and m["uptime_s"] == 10792
    assert m["board_chips"] == [105, 105, 105]
    assert m["state"] == "mining"  # `status`: STATUS "S" as a bare string, btmineroff false
    # joins refused (Code 45): one command per connection from then on
    assert requests >= 1 + 3


def test_whatsminer_v2_without_5s_rate():
    r, _ = poll(captures("whatsminer_v2"), joins=False)
    assert r.status is Status.OK, r.error
    m = r.metrics
    assert m["hashrate_ths"] == pytest.approx(124.5)  # HS RT: no MHS 5s in this firmware
    assert m["power_w"] == 3200.0 and m["temp_inlet_c"] == 28.5  # Power, Env Temp
    assert m["temp_c"] == 81.0 and m["fan_rpm"] == 5280.0


def test_avalon_q_soft_off():
    r, _ = poll(captures("avalon"))
    assert r.status is Status.OK, r.error
    m = r.metrics
    assert m["firmware"] == "avalon" and m["model"] == "Avalon Q"
    assert m["state"] == "sleeping"  # SYSTEMSTATU[Work: In Idle]
    assert m["hashrate_ths"] == 0.0  # asleep: a real zero
    assert m["power_w"] == 146.0  # the last field of PS[...]
    assert m["temp_inlet_c"] == 26.0  # ITemp
    assert m["temp_c"] == 27.0  # TMax[0] is no reading: the board temps remain
    assert m["fan_rpm"] == 0.0  # fans stopped


def test_braiins_detected_from_its_version_reply():
    """Only the version reply of Braiins OS is a reusable real capture: it
    names the family; the rest of the miner is the simulator's braiins flavour
    (tests/minerapi/test_sim_flavours.py)."""
    from opsconsole.collectors.minerapi.detect import detect

    assert detect({"version": json.loads(captures("braiins")["version"])}) == "braiins"


def test_forced_firmware_skips_detection():
    r, requests = poll(captures("antminer"), firmware="antminer")
    assert r.status is Status.OK and requests == 1  # one joined summary+stats


def test_detection_is_cached_per_miner():
    api = MinerApi()

    async def main():
        srv = await serve(captures("luxos"))
        try:
            dev = api_device(srv.port)
            await collect(api, dev)
            first = srv.requests
            await collect(api, dev)
            return first, srv.requests - first
        finally:
            await srv.stop()

    first, second = asyncio.run(main())
    assert first == 2 and second == 1  # detection once, then one joined request per poll


# ---- the invalid JSON real firmware sends ------------------------------------------


def test_antminer_stats_without_comma_between_objects():
    """Antminer/VNish `stats`: `}{` between the STATS objects."""
    replies = {k: compact(v) for k, v in captures("antminer").items()}
    stats = replies["stats"]
    broken = stats.replace(b'"Type":"Antminer S19 Pro"},{', b'"Type":"Antminer S19 Pro"}{', 1)
    assert broken != stats
    replies["stats"] = broken
    r, _ = poll(replies)
    assert r.status is Status.OK, r.error
    assert r.metrics["hashrate_nominal_ths"] == pytest.approx(110.0)
    assert r.metrics["model"] == "Antminer S19 Pro"


def test_bare_nan_is_no_reading():
    replies = {k: compact(v) for k, v in captures("whatsminer_v1").items()}
    replies["summary"] = replies["summary"].replace(b'"Power_RT":3427', b'"Power_RT":nan')
    assert b"nan" in replies["summary"]
    r, _ = poll(replies, joins=False)
    assert r.status is Status.OK, r.error
    assert r.metrics["power_w"] == 3417.0  # Power_RT unreadable: the firmware's Power field


def test_escaped_single_quotes_in_whatsminer_strings():
    replies = {k: compact(v) for k, v in captures("whatsminer_v1").items()}
    replies["status"] = replies["status"].replace(b"'20220919.15.REL'", b"\\'20220919.15.REL\\'")
    replies["summary"] = replies["summary"].replace(b"'20210322.22.REL'",
                                                    b"\\'20210322.22.REL\\'")
    assert b"\\'" in replies["status"] and b"\\'" in replies["summary"]
    r, _ = poll(replies, joins=False)
    assert r.status is Status.OK, r.error
    assert r.metrics["state"] == "mining" and r.metrics["hashrate_ths"] > 70


def test_repairs_go_no_further():
    from opsconsole.collectors.minerapi.replies import ApiError, decode

    assert decode(b'{"a":[{"x":1}{"y":nan}],"v":"it\\\'s"}') == {
        "a": [{"x": 1}, {"y": None}], "v": "it's"}
    for bad in (b'{"a":1,}', b"{'a':1}", b'{"a":NaNx}', b'{"a":1'):
        with pytest.raises(ApiError, match="invalid JSON"):
            decode(bad)


def test_a_reflashed_miner_is_detected_again():
    """The cached family is dropped when its commands yield nothing usable."""
    api = MinerApi()

    async def main():
        from opsconsole.sim.minerapi.server import ApiServer, replay_handler

        first = await serve(captures("antminer"))
        port = first.port
        r1 = await collect(api, api_device(port))
        await first.stop()
        moved = await ApiServer(replay_handler(captures("whatsminer_v1"), joins=False),
                                port=port).start()  # same address, new firmware
        try:
            r2 = await collect(api, api_device(port))
            r3 = await collect(api, api_device(port))
        finally:
            await moved.stop()
        return r1, r2, r3

    r1, r2, r3 = asyncio.run(main())
    assert r1.metrics["firmware"] == "antminer"
    assert r2.status is Status.ERROR  # antminer's commands give nothing usable
    assert r3.status is Status.OK and r3.metrics["firmware"] == "whatsminer", (r3.status, r3.error)


def test_a_site_of_replayed_miners_reads_right():
    """One poll of a site: every captured family side by side through the
    poller, plus a dead miner, which is unreachable."""
    from opsconsole.collectors.poller import Poller
    from opsconsole.core.site import Group, Site

    folders = {"ant": ("antminer", True), "lux": ("luxos", True),
               "wm1": ("whatsminer_v1", False), "wm2": ("whatsminer_v2", False),
               "ava": ("avalon", True)}

    async def main():
        servers = {k: await serve(captures(f), joins=j) for k, (f, j) in folders.items()}
        dead = await serve({})
        dead_port = dead.port
        await dead.stop()
        devs = [api_device(s.port, k) for k, s in servers.items()]
        devs.append(api_device(dead_port, "dead", timeout_s=1.0))
        site = Site(name="t", path=None, groups=(Group("g", "g", "mining", tuple(devs)),))
        poller = Poller(site, lambda batch: None)
        try:
            return {r.device: r for r in await poller.poll_once()}
        finally:
            await poller.close()
            for s in servers.values():
                await s.stop()

    got = asyncio.run(main())
    want = {  # (firmware, TH/s, hottest °C, slowest fan rpm, power W or None)
        "ant": ("antminer", 110.56689, 78.0, 5040.0, None),
        "lux": ("luxos", 59.75606, 47.0, 1920.0, 1051.0),
        "wm1": ("whatsminer", 70.668115, 92.5, 6450.0, 3427.0),
        "wm2": ("whatsminer", 124.5, 81.0, 5280.0, 3200.0),
        "ava": ("avalon", 0.0, 27.0, 0.0, 146.0),
    }
    for dev, (fw, rate, hot, fan, power) in want.items():
        m = got[dev].metrics
        assert got[dev].status is Status.OK, (dev, got[dev].error)
        assert (m["firmware"], m["temp_c"], m["fan_rpm"], m.get("power_w")) == (fw, hot, fan, power)
        assert m["hashrate_ths"] == pytest.approx(rate, abs=1e-5)
    assert got["dead"].status is Status.UNREACHABLE and got["dead"].metrics == {}
