"""Profile-driven collection over real UDP: site files loaded with the real
loader, polled with Poller.poll_once against net-snmp's snmpd, snmpsim (APC
rPDU2) and the hostile agent next to simulated miners. No mocked network."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from opsconsole.collectors.poller import Poller
from opsconsole.core.profileload import load_profiles
from opsconsole.core.readings import Reading, Status
from opsconsole.core.site import Site
from opsconsole.core.siteload import load_site
from opsconsole.sim.agent import SnmpAgentProtocol
from opsconsole.sim.miner import ManualClock, SimMiner
from opsconsole.sim.site import SimSite
from tests.fixtures.hostile import HostileAgent, datagrams, udp_socket, with_next_id
from tests.fixtures.ports import free_udp_port
from tests.fixtures.profiles import metric, write_profile
from tests.fixtures.sites import device_toml, lan_credentials, site_toml
from tests.fixtures.snmpd import PROFILES as SNMPD_PROFILES
from tests.fixtures.snmpd import V3_USERS, SnmpdAgent, copy_snmpd_profiles
from tests.fixtures.snmpsim_agent import SnmpsimAgent

DEAD_TIMEOUT_S = 0.5
DEAD_RETRIES = 1
WRONG_AUTH_KEY = "wrong-auth-key-0xdead"
V3 = V3_USERS["priv"]  # authPriv SHA/AES
V3_BADKEY_USER = V3_USERS["auth"]  # a different user: pysnmp keys USM users by name


def poll(site: Site) -> tuple[dict[str, Reading], dict[str, int]]:
    """One poll_once on a fresh loop: readings by device, engine stats."""

    async def main() -> tuple[list[Reading], dict[str, int]]:
        poller = Poller(site, lambda batch: None)
        try:
            readings = await poller.poll_once()
            return readings, poller.engine.stats()
        finally:
            await poller.close()

    readings, stats = asyncio.run(main())
    assert len(readings) == len(site.devices())
    return {r.device: r for r in readings}, stats


# ---------------------------------------------------------------- snmpd, user profiles

def test_snmpd_profiles_read_what_the_agent_serves(snmpd_agent: SnmpdAgent) -> None:
    """tests/data/snmpd_profiles hold the fixture's OIDs literally: they must
    not drift from tests/fixtures/snmpd.py."""
    a = snmpd_agent
    served = {a.int_oid, a.unsigned_oid, a.string_oid, a.negative_oid, a.rw_oid,
              a.table_column, a.missing_oid, a.empty_subtree}
    profiles = load_profiles(SNMPD_PROFILES)
    names = {p.stem for p in SNMPD_PROFILES.glob("*.toml")}
    assert names <= set(profiles)
    for name in names:
        prof = profiles[name]
        oids = {m.oid for m in prof.metrics.values()} | {c.oid for c in prof.controls.values()}
        assert oids <= served, (name, oids - served)


def lab_site(tmp_path: Path, a: SnmpdAgent, dead_port: int) -> Path:
    copy_snmpd_profiles(tmp_path)
    here = f"{a.host}:{a.port}"
    bad = V3_BADKEY_USER
    text = f"""
[site]
name = "Lab"
snmp_timeout_s = 1.0
snmp_retries = 1

[credentials.lan]
version = "2c"
community = "{a.ro_community}"

[credentials.v3]
version = "3"
user = "{V3.user}"
auth_protocol = "{V3.auth_protocol}"
auth_key_env = "LAB_AUTH"
priv_protocol = "{V3.priv_protocol}"
priv_key_env = "LAB_PRIV"

[credentials.v3-bad]
version = "3"
user = "{bad.user}"
auth_protocol = "{bad.auth_protocol}"
auth_key_env = "LAB_BAD_AUTH"

[[groups]]
id = "lab"
duty = "mining"
"""
    text += device_toml("m-v2c", "miner", here, "lab-miner", "lan")
    text += device_toml("m-v3", "miner", here, "lab-miner", "v3")
    text += device_toml("p-v2c", "pdu", here, "lab-pdu", "lan")
    text += device_toml("p-v3", "pdu", here, "lab-pdu", "v3")
    text += device_toml("host", "host", here, "net-snmp-host", "lan")
    text += device_toml("m-missing", "miner", here, "lab-miner-missing", "lan")
    text += device_toml("m-text", "miner", here, "lab-miner-text", "lan")
    text += device_toml("m-badkey", "miner", here, "lab-miner", "v3-bad")
    text += device_toml("dead", "miner", f"127.0.0.1:{dead_port}", "lab-miner", "lan",
                        timeout_s=DEAD_TIMEOUT_S, retries=DEAD_RETRIES)
    path = tmp_path / "site.toml"
    path.write_text(text)
    return path


LAB_ENV = {"LAB_AUTH": V3.auth_key or "", "LAB_PRIV": V3.priv_key or "",
           "LAB_BAD_AUTH": WRONG_AUTH_KEY}


@pytest.fixture(scope="module")
def lab_poll(snmpd_agent: SnmpdAgent, tmp_path_factory: pytest.TempPathFactory):
    """One poll of the whole lab site (every snmpd case at once, as a site would)."""
    path = lab_site(tmp_path_factory.mktemp("lab"), snmpd_agent, free_udp_port())
    site = load_site(path, env=LAB_ENV)
    readings, stats = poll(site)
    return site, readings, stats


def expected_miner(a: SnmpdAgent) -> dict[str, object]:
    column = [v for _, v in a.table_rows]
    return {
        "hashrate_ths": a.int_value * 0.5 + 1.0,
        "power_w": a.unsigned_value * 0.001,
        "temp_inlet_c": a.negative_value + 20.0,
        "temp_c": max(column),
        "fan_rpm": sum(column),
        "state": "mining",
    }


@pytest.mark.parametrize("device", ["m-v2c", "m-v3"])
def test_user_profile_miner_exact_values(lab_poll, snmpd_agent: SnmpdAgent, device: str) -> None:
    site, readings, _ = lab_poll
    assert site.profiles["lab-miner"].source.endswith("lab-miner.toml")
    r = readings[device]
    assert r.status is Status.OK, r.error
    assert r.error is None
    assert r.metrics == pytest.approx(expected_miner(snmpd_agent))
    assert r.metrics["state"] == "mining"
    assert isinstance(r.metrics["temp_c"], int)  # unscaled integers stay integers


@pytest.mark.parametrize("device", ["p-v2c", "p-v3"])
def test_user_profile_pdu_lists_and_map(lab_poll, snmpd_agent: SnmpdAgent, device: str) -> None:
    a = snmpd_agent
    r = lab_poll[1][device]
    assert r.status is Status.OK, r.error
    column = [v for _, v in a.table_rows]  # 10 20 30 40
    assert r.metrics["power_w"] == pytest.approx(a.int_value * 10.0)
    assert r.metrics["outlet_power_w"] == pytest.approx([v * 2.0 for v in column])
    # unknown codes are shown as their number, never hidden or invented
    assert r.metrics["outlet_state"] == ["off", "on", "30", "40"]


def test_shipped_net_snmp_host_profile(lab_poll) -> None:
    r = lab_poll[1]["host"]
    assert r.status is Status.OK, r.error
    m = r.metrics
    assert set(m) == {"load_1m", "mem_total_kib", "mem_avail_kib", "uptime_s"}
    assert 0 <= m["load_1m"] < 10_000
    assert 16 * 1024 <= m["mem_total_kib"] < 2**40  # at least 16 MiB, less than 1 PiB
    assert 0 <= m["mem_avail_kib"] <= m["mem_total_kib"]
    assert 0 < m["uptime_s"] < 100 * 365 * 86400


def test_missing_oid_is_absent_and_partial(lab_poll) -> None:
    r = lab_poll[1]["m-missing"]
    assert r.status is Status.PARTIAL
    assert r.metrics == {"hashrate_ths": 42}  # nothing made up for power_w / temp_c
    assert r.error and "2 of 3" in r.error


def test_text_for_a_numeric_metric_is_absent_not_a_value(lab_poll) -> None:
    """snmpd serves "hello ops" where the profile expects a temperature."""
    r = lab_poll[1]["m-text"]
    assert r.status is Status.PARTIAL
    assert r.metrics == {"hashrate_ths": 42, "temp_c": 40}
    assert r.error and "not a number: temp_inlet_c" in r.error


def test_wrong_v3_auth_key_is_error_without_the_key(lab_poll) -> None:
    r = lab_poll[1]["m-badkey"]
    assert r.status is Status.ERROR
    assert r.metrics == {}
    assert r.error and "\n" not in r.error
    assert "auth" in r.error.lower()
    for secret in (WRONG_AUTH_KEY, V3_BADKEY_USER.auth_key, V3.auth_key, V3.priv_key):
        assert secret and secret not in r.error


def test_unreachable_within_timeout_others_ok(lab_poll) -> None:
    _, readings, stats = lab_poll
    r = readings["dead"]
    assert r.status is Status.UNREACHABLE
    assert r.metrics == {}
    # counted, not clocked: it gave up after its own tries (no more), and it did
    # wait for each (a lower bound, which load cannot break)
    assert r.error and f"x {DEAD_RETRIES + 1} tries" in r.error, r.error
    assert r.duration_s >= DEAD_TIMEOUT_S * (DEAD_RETRIES + 1) * 0.8
    others = {d: x.status for d, x in readings.items() if d not in ("dead", "m-missing",
                                                                      "m-badkey", "m-text")}
    assert set(others.values()) == {Status.OK}, others
    assert stats["timeouts"] >= 1


def test_profile_override_by_name_beside_the_site(snmpd_agent: SnmpdAgent, tmp_path: Path) -> None:
    """A `profiles/` folder beside the site file overrides a shipped profile by name."""
    a = snmpd_agent
    write_profile(tmp_path / "profiles", "sim-miner", "miner",
                  metric("hashrate_ths", a.int_oid, scale=0.001))
    (tmp_path / "site.toml").write_text(site_toml(
        "Override", device_toml("m", "miner", f"{a.host}:{a.port}", "sim-miner", "lan"),
        group="g"))
    readings, _ = poll(load_site(tmp_path / "site.toml", env={}))
    assert readings["m"].status is Status.OK, readings["m"].error
    assert readings["m"].metrics == {"hashrate_ths": pytest.approx(0.042)}


# ---------------------------------------------------------------- snmpsim: APC rPDU2

def test_shipped_apc_rpdu2_against_snmpsim(snmpsim_agent: SnmpsimAgent, tmp_path: Path) -> None:
    a = snmpsim_agent
    (tmp_path / "site.toml").write_text(site_toml(
        "APC", device_toml("pdu-1", "pdu", f"{a.host}:{a.port}", "apc-rpdu2", "lan", timeout_s=3),
        credentials=lan_credentials(a.community), group="row"))
    readings, _ = poll(load_site(tmp_path / "site.toml", env={}))
    r = readings["pdu-1"]
    assert r.status is Status.OK, r.error
    total = a.value(a.total_power_oid)
    assert isinstance(total, int)
    assert r.metrics["power_w"] == pytest.approx(total * 10.0)
    power = [v for _, v in a.column(a.outlet_power_column)]
    states = [v for _, v in a.column(a.outlet_state_column)]
    assert len(power) == len(states) == a.outlets
    assert r.metrics["outlet_power_w"] == power
    assert r.metrics["outlet_state"] == [{1: "off", 2: "on"}[v] for v in states]  # type: ignore[index]
    assert set(r.metrics["outlet_state"]) == {"on", "off"}  # the file has both


# ---------------------------------------------------------------- hostile agent

def hostile_site(sim: SimSite, agent: HostileAgent) -> Site:
    assert sim.config_path is not None
    text = sim.config_path.read_text()
    text += '\n[[groups]]\nid = "bad"\nduty = "mining"\n' + device_toml(
        "hostile", "miner", f"{agent.host}:{agent.port}", "sim-miner", "sim",
        timeout_s=0.5, retries=0)
    sim.config_path.write_text(text)
    return load_site(sim.config_path, env={})


@pytest.mark.parametrize("mode", ["random", "truncated", "wrong_id", "oversized"])
def test_hostile_device_does_not_spoil_the_poll(
    sim_site_factory: Callable[..., SimSite], hostile_agent: HostileAgent, mode: str
) -> None:
    sim = sim_site_factory(miners=3, gpus=0)
    site = hostile_site(sim, hostile_agent)
    good = [d.id for d in site.devices() if d.id != "hostile"]
    assert len(good) == 4  # 3 miners + their PDU

    async def main() -> list[tuple[dict[str, Reading], dict[str, int]]]:
        poller = Poller(site, lambda batch: None)
        out = []
        try:
            for m in ("good", mode, mode, "good"):
                hostile_agent.mode = m
                readings = await poller.poll_once()
                out.append(({r.device: r for r in readings}, poller.engine.stats()))
        finally:
            await poller.close()
        return out

    (first, s0), (bad1, s1), (bad2, s2), (last, _) = asyncio.run(main())
    assert {r.status for r in first.values()} == {Status.OK}
    for readings in (bad1, bad2):
        h = readings["hostile"]
        assert h.status is not Status.OK
        assert "hashrate_ths" not in h.metrics  # nothing made up from a spoiled answer
        assert all(not isinstance(v, str) or len(v) < 100 for v in h.metrics.values())
        # (with snmp_engine = "pysnmp", wrong_id fails here: see
        # test_spoofed_request_id_reaches_another_request)
        assert {readings[d].status for d in good} == {Status.OK}, {
            d: readings[d].error for d in good}
    if mode == "oversized":
        # a 60 KB answer is a valid SNMP message (under msgMaxSize 65507): it is
        # decoded, not dropped; its wrong-typed first varbind is refused instead
        assert bad1["hostile"].status is Status.PARTIAL
        assert "not a number: hashrate_ths" in (bad1["hostile"].error or "")
    elif mode == "wrong_id":
        # the device's GETs are in flight together: an answer carrying the id of
        # its next GET to the same agent is taken as that GET's answer and then
        # refused by the varbind check; one whose id is pending nowhere is
        # dropped. Which of the two happens is the scheduler's choice, so each
        # bad cycle must show one of them, and never a made-up value
        for (before, after), r in (((s0, s1), bad1["hostile"]), ((s1, s2), bad2["hostile"])):
            assert r.status in (Status.UNREACHABLE, Status.ERROR)
            assert after["dropped"] > before["dropped"] or "varbinds for" in (r.error or ""), (
                r.error, before, after)
    else:
        assert bad1["hostile"].status in (Status.UNREACHABLE, Status.ERROR)
        assert s1["dropped"] > s0["dropped"]
        assert s2["dropped"] > s1["dropped"]
    assert hostile_agent.counters[f"mode:{mode}"] >= 2
    assert {r.status for r in last.values()} == {Status.OK}  # the poller keeps going


class _LateSpoofer:
    """Answers every request correctly but 0.3 s late and with request id + 1
    (a wrong_id agent that is also slow, so the id it names is surely pending)."""

    def __init__(self) -> None:
        self.sock = udp_socket()
        self.port = self.sock.getsockname()[1]
        self.proto = SnmpAgentProtocol(SimMiner("spoofer", 7, clock=ManualClock(5000.0)))
        self.received = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for data, addr in datagrams(self.sock, self.stop):
            good = self.proto.handle(data)
            self.received.set()
            if good is None:
                continue
            time.sleep(0.3)
            with contextlib.suppress(OSError):
                self.sock.sendto(with_next_id(good), addr)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


# Not PysnmpEngine: pysnmp matches v1/v2c answers by request id only, so a spoofed
# id can spoil a neighbour's poll, and whether it does depends on timing (a test of
# it could not be strict). AutoEngine reads v1/v2c through the lean engine; the
# limitation is documented in docs/architecture.md ("SNMP engines").
@pytest.mark.parametrize("engine", ["lean", "auto"])
def test_spoofed_request_id_reaches_another_request(hostile_agent: HostileAgent,
                                                    engine: str) -> None:
    """Deterministic: agent B (the hostile fixture in delay mode) answers
    correctly 1.5 s late; agent A answers 0.3 s late with request id + 1,
    which is B's request. B's GET must still wait for B's own answer: the
    lean engine matches answers by request id and source address."""
    from opsconsole.collectors.poller import make_engine
    from opsconsole.collectors.snmp.engine import SnmpTarget
    from opsconsole.core.site import Credentials, Site

    spoofer = _LateSpoofer()
    creds = Credentials(id="sim", version="2c", community="public")
    oid = "1.3.6.1.4.1.32473.1.8.0"
    slow = SnmpTarget("127.0.0.1", hostile_agent.port, creds, 3.0, 0)

    async def main() -> float:
        e = make_engine(Site(name="x", path=None, snmp_engine=engine))
        try:
            await e.get(slow, [oid])  # warm: engine, socket, transport
            hostile_agent.set_mode("delay", delay_s=1.5)
            a = asyncio.ensure_future(
                e.get(SnmpTarget("127.0.0.1", spoofer.port, creds, 1.0, 0), [oid]))
            while not spoofer.received.is_set():  # A's request is on the wire
                await asyncio.sleep(0.005)
            t0 = time.monotonic()
            b = await e.get(slow, [oid])
            took = time.monotonic() - t0
            assert b == {oid: 1}
            await asyncio.gather(a, return_exceptions=True)
            return took
        finally:
            await e.close()

    try:
        took = asyncio.run(main())
    finally:
        spoofer.close()
    assert took >= 1.3, f"B's GET returned after {took:.2f} s: it got A's spoofed answer"
