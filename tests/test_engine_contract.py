"""The SNMP engine contract (collectors/snmp/engine.py `SnmpEngine`), one
suite run against every engine: lean, pysnmp and auto. Real UDP agents on
loopback: net-snmp snmpd and snmpsim (an APC rPDU2). What only one engine
does lives in test_lean_engine.py and test_pysnmp_engine.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from opsconsole.collectors.snmp.engine import SnmpError, SnmpTarget, SnmpTimeout
from opsconsole.core.site import Credentials
from tests.fixtures.engines import ENGINE_KINDS, make_engine, run_engine
from tests.fixtures.ports import free_udp_port
from tests.fixtures.snmpd import SnmpdAgent
from tests.fixtures.snmpsim_agent import SnmpsimAgent

PUBLIC = Credentials(id="lan", version="2c", community="public")

pytestmark = pytest.mark.parametrize("kind", ENGINE_KINDS)


def test_get_scalars_exact_values(snmpd_agent: SnmpdAgent, kind: str) -> None:
    a = snmpd_agent
    wanted = [*a.scalars, a.sys_descr_oid, a.sys_uptime_oid]
    got = run_engine(kind, lambda e: e.get(a.target("v2c"), wanted))
    assert list(got) == wanted
    for oid, value in a.scalars.items():
        assert got[oid] == value, oid
    assert isinstance(got[a.sys_descr_oid], bytes) and got[a.sys_descr_oid]
    assert isinstance(got[a.sys_uptime_oid], int)


def test_get_mixes_present_and_missing(snmpd_agent: SnmpdAgent, kind: str) -> None:
    a = snmpd_agent
    dotted = "." + a.string_oid  # the caller's spelling is kept as the key
    wanted = [a.int_oid, a.missing_oid, dotted, f"{a.empty_subtree}.1.0", a.int_oid]
    got = run_engine(kind, lambda e: e.get(a.target("v2c"), wanted))
    assert got == {
        a.int_oid: a.int_value,
        a.missing_oid: None,
        dotted: a.string_value,
        f"{a.empty_subtree}.1.0": None,
    }


def test_walk_table_column_and_empty_subtree(snmpd_agent: SnmpdAgent, kind: str) -> None:
    a = snmpd_agent

    async def body(e: Any) -> tuple[Any, Any, Any]:
        t = a.target("v2c")
        return await e.walk(t, a.table_column), await e.walk(t, a.empty_subtree), e.stats()

    rows, empty, stats = run_engine(kind, body)
    assert rows == list(a.table_rows)
    assert empty == []
    assert stats["requests"] == 2  # one GETBULK each
    assert stats["timeouts"] == stats["errors"] == stats["dropped"] == 0


def test_walk_pages_and_get_chunks(snmpd_agent: SnmpdAgent, kind: str) -> None:
    a = snmpd_agent

    async def body(e: Any) -> tuple[Any, ...]:
        t = a.target("v2c")
        rows = await e.walk(t, a.big_oids[0].rsplit(".", 1)[0])
        walked = e.stats()["requests"]
        got = await e.get(t, list(a.big_oids))
        return rows, walked, got, e.stats()["requests"] - walked

    rows, walk_requests, got, get_requests = run_engine(
        kind, body, max_repetitions=25, max_oids_per_pdu=32)
    assert [o for o, _ in rows] == list(a.big_oids)
    assert all(v == a.big_value for _, v in rows)
    assert walk_requests >= 4  # 100 rows at <= 25 per GETBULK
    assert got == {o: a.big_value for o in a.big_oids}
    assert get_requests == 4  # 32 + 32 + 32 + 4


def test_v1_get_and_walk(snmpd_agent: SnmpdAgent, kind: str) -> None:
    a = snmpd_agent

    async def body(e: Any) -> tuple[Any, Any]:
        t = a.target("v1")
        got = await e.get(t, [a.int_oid, a.missing_oid, a.string_oid, a.unsigned_oid])
        return got, await e.walk(t, a.table_column)

    got, rows = run_engine(kind, body)
    # v1 answers noSuchName for the whole PDU: the engine retries without that OID.
    assert got == {
        a.int_oid: a.int_value,
        a.missing_oid: None,
        a.string_oid: a.string_value,
        a.unsigned_oid: a.unsigned_value,
    }
    assert rows == list(a.table_rows)


def test_rejects_names_and_bad_oids_without_network(kind: str) -> None:
    t = SnmpTarget("127.0.0.1", 9, PUBLIC)
    for bad in ("sysDescr.0", "1.3.6.x", "", "1"):
        with pytest.raises(SnmpError, match="not a numeric OID"):
            run_engine(kind, lambda e, bad=bad: e.get(t, [bad]))
    with pytest.raises(SnmpError, match="not a numeric OID"):
        run_engine(kind, lambda e: e.walk(t, "enterprises"))


def test_wrong_community_times_out(snmpd_agent: SnmpdAgent, kind: str) -> None:
    a = snmpd_agent
    t = SnmpTarget(a.host, a.port, Credentials("x", "2c", community="nope"), 0.3, 1)

    async def body(e: Any) -> Any:
        with pytest.raises(SnmpTimeout) as info:
            await e.get(t, [a.int_oid])
        assert "nope" not in str(info.value)
        return e.stats()

    stats = run_engine(kind, body)
    assert stats["timeouts"] == 1 and stats["requests"] == 1


def test_unreachable_port_gives_up_after_every_try(snmpd_agent: SnmpdAgent, kind: str) -> None:
    """Counted, not clocked: one timeout after all tries. It did wait for
    each try (a lower bound, which load cannot break)."""
    dead = SnmpTarget("127.0.0.1", free_udp_port(), PUBLIC, timeout_s=0.4, retries=1)

    async def body(e: Any) -> tuple[float, dict[str, int], dict[str, int]]:
        await e.get(snmpd_agent.target("v2c"), [snmpd_agent.int_oid])  # engine warm
        before = e.stats()
        start = time.monotonic()
        with pytest.raises(SnmpTimeout) as info:
            await e.get(dead, ["1.3.6.1.2.1.1.3.0"])
        assert "x 2 tries" in str(info.value), info.value
        return time.monotonic() - start, before, e.stats()

    elapsed, before, after = run_engine(kind, body)
    assert after["timeouts"] - before["timeouts"] == 1
    assert after["requests"] - before["requests"] == 1
    assert elapsed >= 0.4 * 2 - 0.05


def test_one_engine_one_loop(snmpd_agent: SnmpdAgent, kind: str) -> None:
    engine = make_engine(kind)
    t = snmpd_agent.target("v2c")
    assert asyncio.run(engine.get(t, [snmpd_agent.int_oid]))
    with pytest.raises(RuntimeError, match="another event loop"):
        asyncio.run(engine.get(t, [snmpd_agent.int_oid]))
    asyncio.run(engine.close())  # allowed once the owning loop is closed; it unbinds
    assert asyncio.run(engine.get(t, [snmpd_agent.int_oid])) == {
        snmpd_agent.int_oid: snmpd_agent.int_value
    }
    asyncio.run(engine.close())


def test_snmpsim_apc_get_and_walk(snmpsim_agent: SnmpsimAgent, kind: str) -> None:
    s = snmpsim_agent
    states, powers = s.column(s.outlet_state_column), s.column(s.outlet_power_column)
    assert len(states) == len(powers) == s.outlets == 8

    async def body(e: Any) -> tuple[Any, ...]:
        t = s.target()
        scalars = [s.total_power_oid, s.sys_descr_oid, s.sys_uptime_oid]
        got = await e.get(t, [*scalars, *(o for o, _ in states)])
        return (
            got,
            await e.walk(t, s.outlet_state_column),
            await e.walk(t, s.outlet_power_column),
            await e.walk(t, s.outlet_name_column),
        )

    got, state_rows, power_rows, name_rows = run_engine(kind, body)
    assert got[s.total_power_oid] == 1949  # 0.01 kW: 19.49 kW
    assert got[s.total_power_oid] * 10 == sum(int(v or 0) for _, v in powers)  # W
    assert got[s.sys_descr_oid] == s.value(s.sys_descr_oid)
    assert got[s.sys_uptime_oid] == 123456789
    assert state_rows == states and power_rows == powers
    assert [v for _, v in state_rows] == [2, 2, 2, 1, 2, 2, 1, 2]
    assert [v for _, v in power_rows] == [3250, 3240, 3275, 0, 3190, 3310, 0, 3225]
    assert name_rows[0] == (f"{s.outlet_name_column}.1", b"a1-miner-01")
