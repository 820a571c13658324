"""Device profiles: shipped ones load; a profiles/ folder beside the site file
adds and overrides by name; bad files are reported with file and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsconsole.core.errors import ConfigError
from opsconsole.core.kinds import DEVICE_KINDS
from opsconsole.core.metrics import CATALOGUE
from opsconsole.core.paths import profiles_dir
from opsconsole.core.profileload import load_profile_file, load_profiles
from opsconsole.core.siteload import load_site
from tests.fixtures.profiles import control, metric, write_profile
from tests.fixtures.sites import device_toml, duty_toml, site_toml, write_site

TEST_PROFILES = Path(__file__).parent / "data" / "sites" / "profiles"


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def _errors(folder: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_profiles(folder)
    return info.value.errors


# --------------------------------------------------------------------------- shipped


def test_shipped_profiles_load() -> None:
    profiles = load_profiles(None)
    assert "net-snmp-host" in profiles
    for name, prof in profiles.items():
        assert prof.name == name
        assert prof.kind in DEVICE_KINDS
        assert Path(prof.source).parent == profiles_dir()
        for name in prof.metrics:
            assert prof.kind in CATALOGUE[name].kinds


@pytest.mark.parametrize("name", ["sim-miner", "apc-rpdu2"])
def test_other_shipped_profiles_by_name(name: str) -> None:
    assert (profiles_dir() / f"{name}.toml").is_file()
    assert load_profiles(None)[name].name == name


def test_net_snmp_host() -> None:
    prof = load_profiles(None)["net-snmp-host"]
    assert prof.kind == "host"
    assert prof.controls == {}
    want = {
        "load_1m": ("1.3.6.1.4.1.2021.10.1.5.1", 0.01),
        "mem_total_kib": ("1.3.6.1.4.1.2021.4.5.0", 1.0),
        "mem_avail_kib": ("1.3.6.1.4.1.2021.4.6.0", 1.0),
        "uptime_s": ("1.3.6.1.2.1.25.1.1.0", 0.01),
    }
    assert {n: (m.oid, m.scale) for n, m in prof.metrics.items()} == want
    assert all(not m.walk for m in prof.metrics.values())
    assert prof.metrics["load_1m"].convert(153) == pytest.approx(1.53)
    assert prof.metrics["uptime_s"].convert(360000) == pytest.approx(3600.0)


def test_test_profiles_load() -> None:
    profiles = load_profiles(TEST_PROFILES)
    miner, pdu = profiles["test-miner"], profiles["test-pdu"]
    assert miner.metrics["temp_c"].oid == "1.3.6.1.4.1.32473.1.3"  # leading dot stripped
    assert miner.metrics["temp_c"].walk is True
    assert miner.metrics["state"].map == {0: "sleeping", 1: "mining"}
    assert miner.metrics["state"].convert(1) == "mining"
    assert miner.controls["wake"].value == 1 and miner.controls["wake"].type == "integer"
    outlet_on = pdu.controls["outlet_on"]
    assert outlet_on.index == "outlet"
    assert outlet_on.oid_for(7) == "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.7"
    assert pdu.metrics["outlet_state"].reduce == "list"


# --------------------------------------------------------------------------- override


def test_extra_dir_overrides_and_adds(tmp_path: Path) -> None:
    extra = tmp_path / "profiles"
    write_profile(extra, "net-snmp-host", "host",
                  metric("load_1m", "1.3.6.1.4.1.2021.10.1.5.2", scale=0.01),
                  file="my-host", description="site-specific")
    write_profile(extra, "new-miner", "miner", metric("power_w", "1.3.6.1.4.1.32473.5.1.0"))
    profiles = load_profiles(extra)
    host = profiles["net-snmp-host"]
    assert host.description == "site-specific"
    assert list(host.metrics) == ["load_1m"]
    assert host.source == str(extra / "my-host.toml")
    assert profiles["new-miner"].kind == "miner"
    assert "net-snmp-host" in load_profiles(None)  # the shipped one is untouched


def test_site_profiles_folder_overrides_and_adds(tmp_path: Path) -> None:
    """A profiles/ folder beside the site file: an override that adds a control
    the site uses, and a brand-new profile the site names."""
    write_profile(tmp_path / "profiles", "net-snmp-host", "host",
                  metric("uptime_s", "1.3.6.1.2.1.25.1.1.0", scale=0.01),
                  control("reboot", "1.3.6.1.4.1.2021.100.1.0", "integer", 1))
    write_profile(tmp_path / "profiles", "gw-miner", "miner",
                  metric("hashrate_ths", "1.3.6.1.4.1.32473.7.1.0"))
    site_file = write_site(tmp_path, site_toml(
        "Override",
        device_toml("h-1", "host", "10.0.0.1", "net-snmp-host", "lan"),
        device_toml("m-1", "miner", "10.0.0.2", "gw-miner", "lan"),
        duty_toml("idle", "snmp-set", targets=["h-1"], control="reboot"),
        group="g", duty="idle"))
    site = load_site(site_file, env={})
    assert "reboot" in site.profiles["net-snmp-host"].controls
    assert site.profiles["gw-miner"].kind == "miner"
    assert site.groups[0].duties["idle"][0].params == {"control": "reboot"}

    (tmp_path / "profiles" / "net-snmp-host.toml").unlink()  # back to the shipped one
    with pytest.raises(ConfigError) as info:
        load_site(site_file, env={})
    assert info.value.errors == [
        f'{site_file}: groups[0].duties.idle[0].control: control "reboot" is not defined in '
        'profile "net-snmp-host" (used by h-1)'
    ]


def test_bad_profile_in_site_folder_reported(tmp_path: Path) -> None:
    prof = _write(tmp_path / "profiles", "broken.toml", 'name = "broken"\nkind = "toaster"\n')
    site_file = _write(tmp_path, "site.toml", '[site]\nname = "X"\n')
    with pytest.raises(ConfigError) as info:
        load_site(site_file, env={})
    assert info.value.errors == [
        f'{prof}: kind: unknown kind "toaster": expected one of "miner", "pdu", "gpu", "host"'
    ]


# --------------------------------------------------------------------------- bad profiles

_OK_HEAD = 'name = "p"\nkind = "miner"\n'

BAD_PROFILES: list[tuple[str, str]] = [
    ('name = "p"\nkind = "miner"\nvendor = "x"\n', 'vendor: unknown key "vendor"'),
    ('nam = "p"\nkind = "miner"\n', 'nam: unknown key "nam" (did you mean "name"?)'),
    ('kind = "miner"\n', "name: missing required key"),
    ('name = "p"\n', "kind: missing required key"),
    ('name = "p"\nkind = "toaster"\n', 'kind: unknown kind "toaster"'),
    ('name = 5\nkind = "miner"\n', "name: expected a string, got an integer"),
    ('name = "p"\nkind = "miner"\ndescription = 1\n', "description: expected a string"),
    (_OK_HEAD + '[metrics.hashrate]\noid = "1.3"\n', 'metrics.hashrate: unknown metric "hashrate"'),
    (
        _OK_HEAD + '[metrics.util_pct]\noid = "1.3"\n',
        'metrics.util_pct: metric "util_pct" is not reported by miner devices (only gpu)',
    ),
    (_OK_HEAD + "[metrics.power_w]\nscale = 2\n", "metrics.power_w.oid: missing required key"),
    (
        _OK_HEAD + '[metrics.power_w]\noid = "1.3.6.x"\n',
        'metrics.power_w.oid: "1.3.6.x" is not a dotted numeric OID',
    ),
    (_OK_HEAD + '[metrics.power_w]\noid = "1"\n', "is not a dotted numeric OID"),
    (
        _OK_HEAD + '[metrics.power_w]\noid = "1.3"\nscale = "0.1"\n',
        "metrics.power_w.scale: expected a number, got a string",
    ),
    (
        _OK_HEAD + '[metrics.power_w]\noid = "1.3"\noffset = true\n',
        "metrics.power_w.offset: expected a number, got a boolean",
    ),
    (
        _OK_HEAD + '[metrics.power_w]\noid = "1.3"\nreduce = "avg"\n',
        'metrics.power_w.reduce: unknown reducer "avg"',
    ),
    (
        _OK_HEAD + '[metrics.power_w]\noid = "1.3"\nwalk = "yes"\n',
        "metrics.power_w.walk: expected a boolean",
    ),
    (
        _OK_HEAD + '[metrics.state]\noid = "1.3"\nmap = { one = "off" }\n',
        'metrics.state.map.one: key "one" is not an integer code',
    ),
    (
        _OK_HEAD + '[metrics.state]\noid = "1.3"\nmap = { "1" = 2 }\n',
        "metrics.state.map.1: expected a non-empty string, got an integer",
    ),
    (
        _OK_HEAD + '[metrics.state]\noid = "1.3"\nmap = "off"\n',
        "metrics.state.map: expected a table, got a string",
    ),
    (
        _OK_HEAD + '[metrics.power_w]\noid = "1.3"\nmultiplier = 2\n',
        'metrics.power_w.multiplier: unknown key "multiplier"',
    ),
    (_OK_HEAD + 'metrics = "x"\n', "metrics: expected a table, got a string"),
    (
        _OK_HEAD + '[controls.sleep]\noid = "1.3"\ntype = "int"\nvalue = 0\n',
        'controls.sleep.type: unknown type "int"',
    ),
    (
        _OK_HEAD + '[controls.sleep]\noid = "1.3"\ntype = "integer"\nvalue = "0"\n',
        'controls.sleep.value: expected an integer for type "integer", got a string',
    ),
    (
        _OK_HEAD + '[controls.sleep]\noid = "1.3"\ntype = "integer"\nvalue = true\n',
        'controls.sleep.value: expected an integer for type "integer", got a boolean',
    ),
    (
        _OK_HEAD + '[controls.sleep]\noid = "1.3"\ntype = "unsigned"\nvalue = -1\n',
        "controls.sleep.value: -1 is out of range for an SNMP Unsigned32",
    ),
    (
        _OK_HEAD + '[controls.sleep]\noid = "1.3"\ntype = "string"\nvalue = 1\n',
        'controls.sleep.value: expected a string for type "string", got an integer',
    ),
    (
        _OK_HEAD + '[controls.sleep]\noid = "1.3"\ntype = "integer"\n',
        "controls.sleep.value: missing required key",
    ),
    (
        _OK_HEAD + '[controls.sleep]\noid = "1.3"\ntype = "integer"\nvalue = 0\nindex = "port"\n',
        'controls.sleep.index: unknown index "port"',
    ),
    (
        _OK_HEAD + '[controls.sleep]\noid = "1.3"\ntype = "integer"\nvalue = 0\nmode = 1\n',
        'controls.sleep.mode: unknown key "mode"',
    ),
    ('name = "p"\nkind = \n', "line 2, column 8: TOML syntax error"),
]


@pytest.mark.parametrize(("text", "want"), BAD_PROFILES, ids=[w for _, w in BAD_PROFILES])
def test_bad_profile(text: str, want: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "profiles", "bad.toml", text)
    errors = _errors(tmp_path / "profiles")
    for line in errors:
        assert line.startswith(f"{path}: "), line
    assert any(want in line for line in errors), "\n".join(errors)


def test_bad_profile_reports_everything(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "profiles",
        "bad.toml",
        'name = "p"\nkind = "pdu"\ncolour = 1\n'
        '[metrics.hashrate_ths]\noid = "1.3"\n'
        '[metrics.power_w]\noid = "x"\nreduce = "median"\n'
        '[controls.outlet_on]\noid = "1.3"\ntype = "integer"\nvalue = "on"\n',
    )
    other = _write(tmp_path / "profiles", "also-bad.toml", 'name = "q"\nkind = "gpu"\nwat = 1\n')
    errors = _errors(tmp_path / "profiles")
    assert errors == [
        f'{other}: wat: unknown key "wat"',
        f'{path}: colour: unknown key "colour"',
        f'{path}: metrics.hashrate_ths: metric "hashrate_ths" is not reported by pdu devices '
        "(only miner)",
        f'{path}: metrics.power_w.oid: "x" is not a dotted numeric OID (like "1.3.6.1.2.1.1.3.0")',
        f'{path}: metrics.power_w.reduce: unknown reducer "median": expected one of "max", "min", '
        '"mean", "sum", "list" (did you mean "mean"?)',
        f'{path}: controls.outlet_on.value: expected an integer for type "integer", got a string',
    ]


def test_duplicate_name_in_one_folder(tmp_path: Path) -> None:
    a = _write(tmp_path / "profiles", "a.toml", 'name = "dup"\nkind = "host"\n')
    b = _write(tmp_path / "profiles", "b.toml", 'name = "dup"\nkind = "host"\n')
    assert _errors(tmp_path / "profiles") == [f'{b}: name: profile "dup" is also defined in {a}']


def test_load_profile_file_returns_declared_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.toml", 'name = "x"\nkind = "nope"\n')
    profile, errors, declared = load_profile_file(path)
    assert profile is None and declared == "x" and len(errors) == 1


def test_extra_dir_missing_is_fine(tmp_path: Path) -> None:
    assert "net-snmp-host" in load_profiles(tmp_path / "absent")
