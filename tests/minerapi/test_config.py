"""Site-file keys for api miners: parsed into Device/Credentials, and every
mistake reported on one line naming the file and key, with did-you-mean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from opsconsole.core.siteload import load_site
from tests.fixtures.profiles import metric, write_profile
from tests.fixtures.sites import LAN, device_toml, duty_toml, site_problems, site_toml, write_site

GOOD = site_toml(
    "api",
    device_toml("s19-017", "miner", "10.0.3.17", creds="miner-web", api="cgminer",
                firmware="auto"),
    device_toml("m30-2", "miner", "10.0.3.18:14028", api="cgminer", firmware="whatsminer"),
    duty_toml("idle", "miner-power", state="sleep", targets="miners"),
    duty_toml("mining", "miner-power", state="wake", targets=["s19-017"]),
    credentials='[credentials.miner-web]\nuser = "root"\npassword_env = "MINER_PW"\n\n' + LAN)


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    return site_problems(tmp_path, text, {"MINER_PW": "s3cret-pw"} if env is None else env)


def test_api_miners_load(tmp_path):
    site = load_site(write_site(tmp_path, GOOD), env={"MINER_PW": "s3cret-pw"})
    a, b = site.devices()
    assert (a.api, a.firmware, a.host, a.port, a.profile) == (
        "cgminer", "auto", "10.0.3.17", 4028, None)
    assert (b.firmware, b.port, b.credentials) == ("whatsminer", 14028, None)
    cred = site.credentials["miner-web"]
    assert cred.user == "root" and cred.password == "s3cret-pw"
    assert "s3cret" not in repr(cred)
    step = site.group("row-a").duties["idle"][0]
    assert step.action == "miner-power" and step.params == {"state": "sleep"}


@pytest.mark.parametrize("old,new,want", [
    ('firmware = "auto"', 'firmware = "antminr"',
     'groups[0].devices[0].firmware: unknown firmware "antminr"'),
    ('firmware = "auto"', 'firmwre = "auto"',
     'groups[0].devices[0].firmwre: unknown key "firmwre" (did you mean "firmware"?)'),
    ('api = "cgminer"\nfirmware = "auto"', 'api = "cgminr"\nfirmware = "auto"',
     'groups[0].devices[0].api: unknown api "cgminr"'),
    ('password_env = "MINER_PW"', 'pasword_env = "MINER_PW"',
     'credentials.miner-web.pasword_env: unknown key "pasword_env" '
     '(did you mean "password_env"?)'),
    ('password_env = "MINER_PW"', 'password_env = "NOPE"',
     'credentials.miner-web.password_env: environment variable "NOPE" is not set'),
    ('state = "sleep"', 'state = "slep"', 'duties.idle[0].state: unknown state "slep"'),
    ('state = "sleep"', 'stat = "sleep"', 'unknown key "stat" (did you mean "state"?)'),
    ('action = "miner-power"\nstate = "sleep"', 'action = "miner-powr"\nstate = "sleep"',
     'did you mean "miner-power"?'),
    ('credentials = "miner-web"', 'credentials = "lan"',
     'credentials "lan" are SNMP credentials: an api miner needs user and password_env'),
    ('credentials = "miner-web"', 'credentials = "miner-wbe"',
     'unknown credentials "miner-wbe" (did you mean "miner-web"?)'),
    ('firmware = "auto"', 'firmware = "auto"\nprofile = "sim-miner"',
     "groups[0].devices[0].profile: not used by api miners"),
    ('community = "public"', 'community = "public"\npassword = "x"',
     "credentials.lan.password: a miner login key"),
    ('firmware = "whatsminer"', 'firmware = "whatsminer"\nweb_port = 70000',
     "groups[0].devices[1].web_port"),
    ('[[groups.devices]]\nid = "m30-2"', '[[groups.devices]]\nid = "snmp-1"\nkind = "miner"\n'
     'address = "10.0.3.30"\nprofile = "net-snmp-host"\ncredentials = "lan"\n\n'
     '[[groups.devices]]\nid = "m30-2"',
     'profile "net-snmp-host" is for host devices'),
])
def test_mistakes_are_named(tmp_path, old, new, want):
    assert old in GOOD
    lines = problems(tmp_path, GOOD.replace(old, new, 1))
    assert any(want in line for line in lines), lines
    assert all(line.startswith(str(tmp_path / "site.toml")) for line in lines)
    assert not any("s3cret" in line for line in lines)


def test_check_config_cli(tmp_path):
    bad = write_site(tmp_path, GOOD.replace('firmware = "auto"', 'firmware = "brains"'))
    proc = subprocess.run([sys.executable, "-m", "opsconsole", "check-config", str(bad)],
                          capture_output=True, text=True, env={"MINER_PW": "x", "PATH": ""},
                          timeout=120)
    assert proc.returncode == 2
    assert 'unknown firmware "brains"' in proc.stderr + proc.stdout
    assert '(did you mean "braiins"?)' in proc.stderr + proc.stdout


def test_miner_power_on_an_snmp_miner_needs_its_profiles_control(tmp_path):
    write_profile(tmp_path / "profiles", "no-sleep", "miner",
                  metric("hashrate_ths", "1.3.6.1.4.1.32473.1.1.0"))
    text = GOOD.replace('\n[[groups.devices]]\nid = "m30-2"',
                        device_toml("snmp-1", "miner", "10.0.3.30", "no-sleep", "lan")
                        + '\n[[groups.devices]]\nid = "m30-2"')
    lines = problems(tmp_path, text)
    assert any('duties.idle[0].state: profile "no-sleep" (of snmp-1) has no control "sleep"'
               in line for line in lines), lines
    fixed = text.replace('profile = "no-sleep"', 'profile = "sim-miner"')
    ok = load_site(write_site(tmp_path, fixed), env={"MINER_PW": "s3cret-pw"})
    assert ok.device("snmp-1").api is None


def test_one_list_of_firmware_families() -> None:
    """The site file's firmware values, the collector's parsers and the
    simulator's flavours name the same families."""
    from opsconsole.collectors.minerapi.families import FAMILY
    from opsconsole.core.minerapi_config import FAMILIES, FIRMWARES
    from opsconsole.sim.minerapi.flavours import FLAVOURS

    assert ("auto", *FAMILIES) == FIRMWARES
    assert set(FAMILY) == set(FAMILIES) == set(FLAVOURS)
