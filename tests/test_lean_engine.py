"""What only the lean engine and AutoEngine do, over real UDP on loopback:
one socket for many targets, the hostile agent, the pysnmp fallback (SET,
SNMPv3, odd agents) and the `[site] snmp_engine` key. The contract every
engine keeps is tests/test_engine_contract.py."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from opsconsole.collectors.poller import Poller, make_engine
from opsconsole.collectors.snmp.auto_engine import AutoEngine
from opsconsole.collectors.snmp.engine import SnmpAuthError, SnmpTarget, SnmpTimeout
from opsconsole.collectors.snmp.lean_engine import LeanEngine, UnsupportedByEngine
from opsconsole.collectors.snmp.pysnmp_engine import PysnmpEngine
from opsconsole.core.errors import ConfigError
from opsconsole.core.readings import Status
from opsconsole.core.site import Credentials
from opsconsole.core.siteload import load_site
from opsconsole.sim import miner as mm
from opsconsole.sim.site import SimSite
from tests.fixtures.engines import run_engine
from tests.fixtures.hostile import HostileAgent
from tests.fixtures.snmpd import SnmpdAgent

PUBLIC = Credentials(id="lan", version="2c", community="public")
SIM = Credentials(id="sim", version="2c", community="public", write_community="private")
ENGINES = ["lean", "auto"]


def oid_str(oid: tuple[int, ...]) -> str:
    return ".".join(map(str, oid))


# -- the lean path answers like pysnmp ------------------------------------------------


@pytest.mark.parametrize("kind", ENGINES)
def test_same_answers_as_pysnmp(snmpd_agent: SnmpdAgent, kind: str) -> None:
    a = snmpd_agent
    wanted = [*a.scalars, a.missing_oid, a.sys_descr_oid, "1.3.6.1.2.1.1.2.0"]

    async def body(e: Any) -> tuple[Any, Any]:
        t = a.target("v2c")
        return await e.get(t, wanted), await e.walk(t, "1.3.6.1.2.1.1.9.1.2")

    async def reference() -> tuple[Any, Any]:
        e = PysnmpEngine()
        try:
            return await body(e)
        finally:
            await e.close()

    got, rows = run_engine(kind, body)
    ref_got, ref_rows = asyncio.run(reference())
    got.pop(a.sys_descr_oid)  # equal, but checked below without the uptime race
    assert got == {k: v for k, v in ref_got.items() if k != a.sys_descr_oid}
    assert rows == ref_rows and rows and all(isinstance(v, str) for _, v in rows)


# -- failures and time limits ---------------------------------------------------------


def test_many_targets_in_flight_share_one_socket(snmpd_agent: SnmpdAgent) -> None:
    a = snmpd_agent

    async def body(e: LeanEngine) -> tuple[list[Any], dict[str, int]]:
        t = a.target("v2c")
        got = await asyncio.gather(*(e.get(t, [a.int_oid, a.string_oid]) for _ in range(500)))
        return got, e.stats()

    got, stats = run_engine("lean", body)
    assert all(g == {a.int_oid: a.int_value, a.string_oid: a.string_value} for g in got)
    assert stats["requests"] == 500 and stats["in_flight"] == 0 and stats["dropped"] == 0


# -- SNMPv3 and SET: the pysnmp fallback ----------------------------------------------


@pytest.mark.parametrize("role", ["noauth", "auth", "priv", "priv256"])
def test_v3_goes_through_pysnmp(snmpd_agent: SnmpdAgent, role: str) -> None:
    a = snmpd_agent

    async def body(e: Any) -> tuple[Any, ...]:
        t = a.target(role)
        got, rows = await e.get(t, [a.int_oid, a.string_oid]), await e.walk(t, a.table_column)
        return got, rows, e.stats()

    got, rows, stats = run_engine("auto", body)
    assert got == {a.int_oid: a.int_value, a.string_oid: a.string_value}
    assert rows == list(a.table_rows)
    assert stats["pysnmp_calls"] == 2 and stats["lean_calls"] == 0


def test_v3_wrong_auth_key_is_auth_error_via_fallback(snmpd_agent: SnmpdAgent) -> None:
    a = snmpd_agent
    creds = a.v3_users["priv"].credentials(auth_key="not-the-authkey")
    t = SnmpTarget(a.host, a.port, creds, timeout_s=1.0, retries=0)
    with pytest.raises(SnmpAuthError) as info:
        run_engine("auto", lambda e: e.get(t, [a.int_oid]))
    assert "not-the-authkey" not in str(info.value)


def test_lean_alone_refuses_v3_and_set(snmpd_agent: SnmpdAgent) -> None:
    a = snmpd_agent
    with pytest.raises(UnsupportedByEngine):
        run_engine("lean", lambda e: e.get(a.target("priv"), [a.int_oid]))
    with pytest.raises(UnsupportedByEngine):
        run_engine("lean", lambda e: e.set(a.target("v2c-rw"), a.rw_oid, "integer", 1))


def test_set_falls_back_to_pysnmp_on_snmpd(snmpd_agent: SnmpdAgent) -> None:
    a = snmpd_agent

    async def body(e: Any) -> tuple[Any, ...]:
        echoed = await e.set(a.target("v2c-rw"), a.rw_oid, "integer", 4321)
        read = await e.get(a.target("v2c"), [a.rw_oid])
        await e.set(a.target("v2c-rw"), a.rw_oid, "integer", a.rw_initial)
        return echoed, read[a.rw_oid], e.stats()

    echoed, read, stats = run_engine("auto", body)
    assert echoed == 4321 and read == 4321
    assert stats["pysnmp_calls"] == 2 and stats["lean_calls"] == 1


def test_auto_engine_reads_v2c_without_loading_pysnmp(snmpd_agent: SnmpdAgent) -> None:
    """pysnmp is imported and its engine made only when a call needs it: a
    v1/v2c site that only reads (`poll --once`) never pays for it."""
    a = snmpd_agent
    code = (
        "import asyncio, sys\n"
        "from opsconsole.collectors.snmp.auto_engine import AutoEngine\n"
        "from opsconsole.collectors.snmp.engine import SnmpTarget\n"
        "from opsconsole.core.site import Credentials\n"
        "async def main():\n"
        "    e = AutoEngine()\n"
        f"    t = SnmpTarget({a.host!r}, {a.port}, Credentials('c', '2c', 'public'), 1.0, 1)\n"
        f"    got = await e.get(t, [{a.int_oid!r}])\n"
        "    stats = e.stats()\n"
        "    await e.close()\n"
        "    return got, stats\n"
        "got, stats = asyncio.run(main())\n"
        f"print(got[{a.int_oid!r}] == {a.int_value!r}, stats['lean_calls'],\n"
        "      any(m.startswith('pysnmp') for m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "1", "False"]

    async def in_process() -> tuple[Any, bool, Any]:
        e = AutoEngine()
        try:
            got = await e.get(a.target("v2c"), [a.int_oid])
            return got, e._slow is None, e.slow  # made on first use
        finally:
            await e.close()  # closes the pysnmp engine made above too

    got, lean_only, slow = asyncio.run(in_process())
    assert got[a.int_oid] == a.int_value and lean_only and isinstance(slow, PysnmpEngine)


def test_set_on_sim_miner_with_write_community(sim_site: SimSite) -> None:
    """The sim miner's control OID: SET via pysnmp (write community), read via lean."""
    dev = sim_site.device("a-01")
    assert dev.port is not None
    t = SnmpTarget("127.0.0.1", dev.port, SIM, 1.0, 1)
    oid = oid_str(mm.OID_CONTROL)

    async def body(e: AutoEngine) -> tuple[Any, ...]:
        echoed = await e.set(t, oid, "integer", mm.CONTROL_SLEEP)
        back = (await e.get(t, [oid]))[oid]
        await e.set(t, oid, "integer", mm.CONTROL_WAKE)
        return echoed, back, (await e.get(t, [oid]))[oid]

    echoed, back, after = run_engine("auto", body)
    assert echoed == back == mm.CONTROL_SLEEP and after == mm.CONTROL_WAKE


# -- snmpsim and the simulator ----------------------------------------------------------


def test_poller_on_the_simulator_uses_the_lean_engine(sim_site: SimSite) -> None:
    assert sim_site.config_path is not None
    site = load_site(sim_site.config_path, env={})
    assert site.snmp_engine == "auto"

    async def main() -> tuple[list[Any], dict[str, int]]:
        poller = Poller(site, lambda batch: None)
        try:
            return await poller.poll_once(), poller.engine.stats()
        finally:
            await poller.close()

    readings, stats = asyncio.run(main())
    snmp = [r for r in readings if not r.device.startswith("gpu")]
    assert snmp and {r.status for r in snmp} == {Status.OK}
    assert stats["lean_calls"] > 0 and stats["pysnmp_calls"] == 0 and stats["dropped"] == 0


@pytest.mark.parametrize("kind", ENGINES)
def test_too_big_splits_against_small_sim_agent(
    sim_site_factory: Callable[..., SimSite], kind: str
) -> None:
    site = sim_site_factory(miners=1, gpus=0, max_size=300)
    port = site.device("a-01").port
    assert port is not None
    t = SnmpTarget("127.0.0.1", port, SIM, 1.0, 1)
    scalars = [mm.OID_HASHRATE, mm.OID_NOMINAL, mm.OID_POWER, mm.OID_INLET, mm.OID_UPTIME,
               mm.OID_STATE, mm.OID_CONTROL, (1, 3, 6, 1, 2, 1, 1, 3, 0)]
    # distinct spellings of 24 OIDs: the engine asks for each once
    wanted = [oid_str(o) for o in scalars] + [
        oid_str((*mm.OID_BOARD_TEMP, b)) for b in (1, 2, 3)] + [
        f"{oid_str(o)}.{k}" for o in scalars[:6] for k in (1, 2)]

    async def body(e: Any) -> tuple[Any, ...]:
        first = await e.get(t, wanted)
        s1 = e.stats()
        second = await e.get(t, wanted)
        rows = await e.walk(t, "1.3.6.1.4.1")
        return first, s1, second, e.stats(), rows

    first, s1, second, s2, rows = run_engine(kind, body)
    assert all(first[oid_str(o)] is not None for o in scalars)
    assert all(first[f"{oid_str(o)}.1"] is None for o in scalars[:6])
    # the same answers again (uptime and hashrate move with the clock between the two)
    assert list(second) == list(first) == wanted
    assert [k for k, v in second.items() if v is None] == [k for k, v in first.items() if v is None]
    assert s1["too_big"] >= 1 and s1["errors"] == 0
    assert s2["too_big"] == s1["too_big"]  # the accepted size is remembered per agent
    assert len(rows) > 10 and all(o.startswith("1.3.6.1.4.1.") for o, _ in rows)
    assert site.stats().too_big == s1["too_big"]


# -- the hostile agent: dropped, counted, and the others keep being served -----------


@pytest.mark.parametrize("mode", ["random", "truncated", "wrong_id", "oversized"])
def test_hostile_answers_are_dropped_and_counted(
    hostile_agent: HostileAgent, snmpd_agent: SnmpdAgent, mode: str
) -> None:
    a = snmpd_agent
    bad = SnmpTarget("127.0.0.1", hostile_agent.port, PUBLIC, timeout_s=0.4, retries=1)
    good = a.target("v2c")
    hostile_agent.mode = mode
    kind = {"random": "dropped_malformed", "truncated": "dropped_malformed",
            "wrong_id": "dropped_mismatched", "oversized": "dropped_oversized"}[mode]

    async def body(e: LeanEngine) -> tuple[Any, ...]:
        async def neighbours() -> list[Any]:
            out = []
            for _ in range(8):  # served while the hostile answers arrive
                out.append(await e.get(good, [a.int_oid]))
                await asyncio.sleep(0.05)
            return out

        results = await asyncio.gather(
            e.get(bad, [oid_str(mm.OID_STATE)]), neighbours(), return_exceptions=True)
        return results[0], results[1], e.stats()

    # 8 kB: the 60 kB oversized answer is over our limit (the default 65507 takes it)
    first, served, stats = run_engine("lean", body, max_message_size=8192)
    assert isinstance(first, SnmpTimeout), first
    assert served == [{a.int_oid: a.int_value}] * 8
    assert stats[kind] == 2 and stats["dropped"] == 2  # two tries, one bad answer each
    assert stats["timeouts"] == 1
    assert hostile_agent.counters["received"] == 2


def test_oversized_under_the_limit_is_decoded_like_pysnmp(hostile_agent: HostileAgent) -> None:
    hostile_agent.mode = "oversized"
    t = SnmpTarget("127.0.0.1", hostile_agent.port, PUBLIC, timeout_s=1.0, retries=0)
    oid = oid_str(mm.OID_STATE)
    got = run_engine("lean", lambda e: e.get(t, [oid]))
    assert got == {oid: b"x" * 60_000}


def test_agent_with_repeated_decode_errors_goes_to_pysnmp(
    hostile_agent: HostileAgent, snmpd_agent: SnmpdAgent
) -> None:
    hostile_agent.mode = "truncated"
    bad = SnmpTarget("127.0.0.1", hostile_agent.port, PUBLIC, timeout_s=0.3, retries=2)
    oid = oid_str(mm.OID_STATE)

    async def body(e: AutoEngine) -> tuple[Any, ...]:
        with pytest.raises(SnmpTimeout):  # lean: 3 malformed answers; pysnmp: drops them too
            await e.get(bad, [oid])
        moved = e.uses_pysnmp(bad)
        hostile_agent.mode = "good"
        got = await e.get(bad, [oid])  # now served by pysnmp
        other = await e.get(snmpd_agent.target("v2c"), [snmpd_agent.int_oid])
        return moved, got, other, e.stats()

    moved, got, other, stats = run_engine("auto", body)
    assert moved and got == {oid: 1} and other == {snmpd_agent.int_oid: snmpd_agent.int_value}
    assert stats["fallbacks"] == 1 and stats["pysnmp_agents"] == 1
    assert stats["dropped_malformed"] == 3 and stats["dropped"] >= 6  # pysnmp counted its 3


def test_stray_datagrams_count_as_dropped(snmpd_agent: SnmpdAgent) -> None:
    async def body(e: LeanEngine) -> dict[str, int]:
        await e.get(snmpd_agent.target("v2c"), [snmpd_agent.int_oid])  # opens the socket
        tr = e._transports[2]  # AF_INET
        port = tr.get_extra_info("sockname")[1]
        loop = asyncio.get_running_loop()
        sender, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("127.0.0.1", port))
        for junk in (b"\x00", b"\x30\x03\x02\x01", b"\xff" * 50):
            sender.sendto(junk)
        sender.close()
        await asyncio.sleep(0.2)
        return e.stats()

    stats = run_engine("lean", body)
    assert stats["dropped_malformed"] == 3 and stats["dropped"] == 3


# -- the site file key ----------------------------------------------------------------


def _site_file(tmp_path: Path, engine_line: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(f'[site]\nname = "x"\n{engine_line}\n')
    return path


@pytest.mark.parametrize(("line", "cls"), [
    ("", AutoEngine), ('snmp_engine = "auto"', AutoEngine),
    ('snmp_engine = "pysnmp"', PysnmpEngine), ('snmp_engine = "lean"', LeanEngine)])
def test_site_key_picks_the_engine(tmp_path: Path, line: str, cls: type) -> None:
    site = load_site(_site_file(tmp_path, line), env={})
    assert isinstance(make_engine(site), cls)


def test_site_key_rejects_unknown_engine(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_site(_site_file(tmp_path, 'snmp_engine = "gufo"'), env={})
    text = str(info.value)
    assert "site.snmp_engine" in text and "auto" in text and "\n" not in text.strip()
