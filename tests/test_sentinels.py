"""Sentinels: raw values a device uses to say "not available" are no reading,
never a number. Against net-snmp snmpd on loopback (its overrides serve -17 and
a table of 10, 20, 30, 40), through the real poller."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsconsole.core.errors import ConfigError
from opsconsole.core.profileload import collect_profiles, load_profiles
from opsconsole.core.readings import Status
from opsconsole.core.siteload import load_site
from tests.fixtures.profiles import metric, write_profile
from tests.fixtures.sites import device_toml, lan_credentials, site_toml
from tests.fixtures.snmpd import SnmpdAgent
from tests.test_collect_real_agents import poll


def lab_site(tmp_path: Path, a: SnmpdAgent, metrics: str, kind: str = "pdu") -> Path:
    write_profile(tmp_path / "profiles", "lab", kind, metrics)
    site = tmp_path / "site.toml"
    site.write_text(site_toml(
        "Lab", device_toml("dev-1", kind, f"{a.host}:{a.port}", "lab", "lan"),
        site="snmp_timeout_s = 1.0\n", credentials=lan_credentials(a.ro_community), group="rack"))
    return site


def test_sentinel_values_are_no_reading(snmpd_agent: SnmpdAgent, tmp_path: Path) -> None:
    a = snmpd_agent
    site = load_site(lab_site(tmp_path, a, f"""
[metrics.power_w]
oid = "{a.negative_oid}"
sentinels = [{a.negative_value}, 2147483647]

[metrics.outlet_power_w]
oid = "{a.table_column}"
walk = true
reduce = "list"
sentinels = [20]
"""))
    readings = poll(site)[0]
    r = readings["dev-1"]
    assert "power_w" not in r.metrics  # -17 means "not available" here: no number at all
    assert r.status is Status.PARTIAL and "1 of 2 metrics" in (r.error or "")
    # outlet 2 said "not available": it stays outlet 2, with no value
    assert r.metrics["outlet_power_w"] == [10, None, 30, 40]


def test_without_sentinels_the_same_values_are_numbers(snmpd_agent: SnmpdAgent,
                                                       tmp_path: Path) -> None:
    a = snmpd_agent
    site = load_site(lab_site(tmp_path, a, f"""
[metrics.temp_inlet_c]
oid = "{a.negative_oid}"

[metrics.temp_c]
oid = "{a.table_column}"
walk = true
reduce = "max"
sentinels = [40]
""", kind="miner"))
    r = poll(site)[0]["dev-1"]
    assert r.metrics["temp_inlet_c"] == a.negative_value and r.status is Status.OK
    assert r.metrics["temp_c"] == 30  # the hottest real row: 40 is the sentinel


@pytest.mark.parametrize("value, problem", [
    ("[]", "expected a list of 1 to 16 numbers"),
    ('"-1"', "expected a list of 1 to 16 numbers"),
    ('[-1, "x"]', "every sentinel must be a finite number"),
    ("[nan]", "every sentinel must be a finite number"),
    (str(list(range(17))), "expected a list of 1 to 16 numbers"),
])
def test_bad_sentinels_are_one_line(tmp_path: Path, value: str, problem: str) -> None:
    pdir = tmp_path / "profiles"
    write_profile(pdir, "p", "pdu", metric("power_w", "1.3.6.1.4.1.318.1"),
                  f"sentinels = {value}\n")
    errors = collect_profiles(pdir).errors
    [line] = errors
    assert line.startswith(f"{pdir / 'p.toml'}: ") and problem in line, errors
    with pytest.raises(ConfigError):
        load_profiles(pdir)


def test_shipped_profiles_declare_their_mib_sentinels() -> None:
    profiles = collect_profiles().profiles
    apc, host = profiles["apc-rpdu2"], profiles["net-snmp-host"]
    assert apc.metrics["power_w"].sentinels == {-1}
    assert apc.metrics["outlet_power_w"].sentinels == {-1}
    assert host.metrics["mem_total_kib"].sentinels == {2147483647}
    assert host.metrics["mem_avail_kib"].sentinels == {2147483647}
