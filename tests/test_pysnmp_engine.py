"""What only PysnmpEngine does, over real UDP on loopback (net-snmp snmpd,
snmpsim as an APC rPDU2): value mapping, SET, SNMPv3, tooBig. The contract
every engine keeps is tests/test_engine_contract.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import rfc1902
from pysnmp.proto.api import v2c

from opsconsole.collectors.snmp.engine import (
    SnmpAuthError,
    SnmpError,
    SnmpTarget,
    SnmpTimeout,
)
from opsconsole.collectors.snmp.pysnmp_engine import PysnmpEngine, to_python
from opsconsole.core.site import Credentials
from tests.fixtures.engines import run_engine
from tests.fixtures.snmpd import SnmpdAgent
from tests.fixtures.snmpsim_agent import SnmpsimAgent

PUBLIC = Credentials(id="lan", version="2c", community="public")


# -- values ------------------------------------------------------------------------------


def test_to_python_maps_every_type() -> None:
    assert to_python(rfc1902.Integer32(-5)) == -5
    assert to_python(rfc1902.Gauge32(7)) == 7
    assert to_python(rfc1902.Counter32(8)) == 8
    assert to_python(rfc1902.Counter64(2**40)) == 2**40
    assert to_python(rfc1902.TimeTicks(100)) == 100
    assert to_python(rfc1902.Unsigned32(9)) == 9
    assert to_python(rfc1902.OctetString(b"\x00ab")) == b"\x00ab"
    assert to_python(rfc1902.IpAddress("10.0.1.11")) == "10.0.1.11"
    assert to_python(rfc1902.ObjectIdentifier("1.3.6.1.4.1.318")) == "1.3.6.1.4.1.318"
    assert to_python(v2c.NoSuchObject("")) is None
    assert to_python(v2c.NoSuchInstance("")) is None
    assert to_python(v2c.EndOfMibView("")) is None


# -- SET ------------------------------------------------------------------------------


def test_set_integer_then_read_back(snmpd_agent: SnmpdAgent) -> None:
    a = snmpd_agent

    async def body(e: PysnmpEngine) -> tuple[Any, ...]:
        echoed = await e.set(a.target("v2c-rw"), a.rw_oid, "integer", 1234)
        read = await e.get(a.target("v2c"), [a.rw_oid])
        via_v3 = await e.set(a.target("priv"), a.rw_oid, "integer", a.rw_initial)
        return echoed, read[a.rw_oid], via_v3, (await e.get(a.target("v2c"), [a.rw_oid]))

    echoed, read, via_v3, after = run_engine("pysnmp", body)
    assert echoed == 1234 and read == 1234
    assert via_v3 == a.rw_initial and after == {a.rw_oid: a.rw_initial}


def test_set_read_only_raises_naming_oid(snmpd_agent: SnmpdAgent) -> None:
    a = snmpd_agent
    with pytest.raises(SnmpError) as info:
        run_engine("pysnmp", lambda e: e.set(a.target("v2c-rw"), a.int_oid, "integer", 1))
    message = str(info.value)
    assert a.int_oid in message and "notWritable" in message
    assert "\n" not in message and a.rw_community not in message
    assert not isinstance(info.value, SnmpTimeout | SnmpAuthError)


def test_set_rejects_unknown_type_without_network() -> None:
    t = SnmpTarget("127.0.0.1", 9, PUBLIC)
    with pytest.raises(SnmpError, match="unknown type"):
        run_engine("pysnmp", lambda e: e.set(t, "1.3.6.1.4.1.32473.9.2.0", "float", 1))


# -- versions -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["noauth", "auth", "priv", "priv256"])
def test_v3_security_levels(snmpd_agent: SnmpdAgent, role: str) -> None:
    a = snmpd_agent
    assert a.target(role).credentials.security_level == a.v3_users[role].level

    async def body(e: PysnmpEngine) -> tuple[Any, Any]:
        t = a.target(role)
        return await e.get(t, [a.int_oid, a.string_oid]), await e.walk(t, a.table_column)

    got, rows = run_engine("pysnmp", body)
    assert got == {a.int_oid: a.int_value, a.string_oid: a.string_value}
    assert rows == list(a.table_rows)


def _v3_target(a: SnmpdAgent, role: str, timeout_s: float, **override: str) -> SnmpTarget:
    creds = a.v3_users[role].credentials(**override)
    return SnmpTarget(a.host, a.port, creds, timeout_s=timeout_s, retries=0)


def test_v3_wrong_auth_key_is_auth_error(snmpd_agent: SnmpdAgent) -> None:
    a = snmpd_agent
    t = _v3_target(a, "priv", 1.0, auth_key="not-the-authkey")
    with pytest.raises(SnmpAuthError) as info:
        run_engine("pysnmp", lambda e: e.get(t, [a.int_oid]))
    assert "SNMPv3 authentication failed" in str(info.value)
    assert "not-the-authkey" not in str(info.value)
    assert a.v3_users["priv"].priv_key not in str(info.value)


def test_v3_wrong_priv_key_is_auth_error(snmpd_agent: SnmpdAgent) -> None:
    # net-snmp drops a request it cannot decrypt without a report: the engine
    # tells it from a dead agent because discovery got an answer.
    a = snmpd_agent
    t = _v3_target(a, "priv", 0.4, priv_key="not-the-privkey")
    with pytest.raises(SnmpAuthError) as info:
        run_engine("pysnmp", lambda e: e.get(t, [a.int_oid]))
    assert "privacy" in str(info.value) and "not-the-privkey" not in str(info.value)


def test_v3_unknown_user_is_auth_error(snmpd_agent: SnmpdAgent) -> None:
    a = snmpd_agent
    t = _v3_target(a, "noauth", 1.0, user="nobody")
    with pytest.raises(SnmpAuthError):
        run_engine("pysnmp", lambda e: e.get(t, [a.int_oid]))


def test_v3_wrong_then_right_key_on_one_engine(snmpd_agent: SnmpdAgent) -> None:
    # pysnmp keys USM users by name: a key change must replace the old keys.
    a = snmpd_agent
    wrong = _v3_target(a, "priv", 1.0, auth_key="not-the-authkey")

    async def body(e: PysnmpEngine) -> Any:
        with pytest.raises(SnmpAuthError):
            await e.get(wrong, [a.int_oid])
        return await e.get(a.target("priv"), [a.int_oid])

    assert run_engine("pysnmp", body) == {a.int_oid: a.int_value}


# -- tooBig and hostile answers ------------------------------------------------------


def test_too_big_splits_and_remembers(snmpd_agent: SnmpdAgent) -> None:
    # net-snmp never answers tooBig over v2c (it fails sendto past 64 kB), but
    # it honours an SNMPv3 msgMaxSize: ask for ~95 kB with an 8 kB limit.
    a = snmpd_agent
    wanted = [*a.big_oids, *a.scalars, *(o for o, _ in a.table_rows), a.missing_oid]
    wanted += [f"{a.empty_subtree}.{i}.0" for i in range(1, 12)]
    assert len(wanted) >= 120

    async def body(e: PysnmpEngine) -> tuple[Any, ...]:
        t = a.target("noauth")
        first = await e.get(t, wanted)
        after_first = e.stats()
        second = await e.get(t, list(a.big_oids[:20]))
        stats = e.stats()
        # GETBULK under the same limit: the agent trims (or we halve on tooBig).
        rows = await e.walk(t, a.big_oids[0].rsplit(".", 1)[0])
        return first, after_first, second, stats, rows

    first, s1, second, s2, rows = run_engine("pysnmp", body, max_oids_per_pdu=128,
                                             max_message_size=8000)
    expected: dict[str, Any] = {o: a.big_value for o in a.big_oids}
    expected |= a.scalars | dict(a.table_rows)
    expected |= {o: None for o in wanted if o not in expected}
    assert first == expected
    assert s1["too_big"] >= 1 and s1["errors"] == 0
    # The accepted size is remembered per agent: no new tooBig round trip.
    assert second == {o: a.big_value for o in a.big_oids[:20]}
    assert s2["too_big"] == s1["too_big"]
    assert rows == [(o, a.big_value) for o in a.big_oids]


class _HostileAgent(asyncio.DatagramProtocol):
    """Answers every request with garbage, then with a response to another request id."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(b"\x30\x05garbage", addr)
        msg, _ = decoder.decode(data, asn1Spec=v2c.Message())
        request = v2c.apiMessage.get_pdu(msg)
        response = v2c.apiPDU.get_response(request)
        v2c.apiPDU.set_request_id(response, (int(v2c.apiPDU.get_request_id(request)) + 7) % 2**31)
        v2c.apiPDU.set_varbinds(response, v2c.apiPDU.get_varbinds(request))
        v2c.apiMessage.set_pdu(msg, response)
        self.transport.sendto(encoder.encode(msg), addr)


def test_dropped_counts_malformed_and_mismatched_answers() -> None:
    async def body(e: PysnmpEngine) -> dict[str, int]:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            _HostileAgent, local_addr=("127.0.0.1", 0)
        )
        port = transport.get_extra_info("sockname")[1]
        try:
            t = SnmpTarget("127.0.0.1", port, PUBLIC, timeout_s=0.3, retries=1)
            with pytest.raises(SnmpTimeout):
                await e.get(t, ["1.3.6.1.2.1.1.3.0"])
        finally:
            transport.close()
        return e.stats()

    stats = run_engine("pysnmp", body)
    assert stats["dropped"] == 4  # two tries, two bad answers each
    assert stats["timeouts"] == 1


# -- snmpsim: an APC rPDU2 ------------------------------------------------------------


def test_snmpsim_outlet_control_is_settable(snmpsim_agent: SnmpsimAgent) -> None:
    s = snmpsim_agent
    oid = f"{s.outlet_control_column}.4"  # outlet 4 is off: control reads 2
    initial = s.value(oid)

    async def body(e: PysnmpEngine) -> tuple[Any, ...]:
        t = s.target()
        echoed = await e.set(t, oid, "integer", 1)  # immediateOn
        read = await e.get(t, [oid])
        await e.set(t, oid, "integer", initial)  # the session-wide agent stays as loaded
        return echoed, read[oid]

    assert run_engine("pysnmp", body) == (1, 1)
