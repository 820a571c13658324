"""The duty switching contract against a reference agent: net-snmp snmpd with a
writable `override`. `duty set --yes` sets the value (read back over real
UDP), exits 0 and lands in `audit`; with `--read-only` the same command
exits 4 and the agent keeps its value."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fixtures.profiles import toml_keys
from tests.fixtures.sites import device_toml, duty_toml, site_toml
from tests.fixtures.snmpd import SnmpdAgent, copy_snmpd_profiles


def site_text(a: SnmpdAgent) -> str:
    return site_toml(
        "snmpd lab",
        device_toml("lab-01", "miner", f"127.0.0.1:{a.port}", "lab-switch", "lab"),
        duty_toml("inference", "snmp-set", targets="miners", control="sleep"),
        duty_toml("mining", "snmp-set", targets="miners", control="wake"),
        credentials="[credentials.lab]\n" + toml_keys(version="2c", community=a.ro_community,
                                                      write_community=a.rw_community),
        group="lab")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsconsole", *args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


def _value(a: SnmpdAgent) -> str:
    out = subprocess.run(["snmpget", "-v2c", "-c", a.ro_community, "-Oqv", "-t", "1",
                          f"{a.host}:{a.port}", a.rw_oid], capture_output=True, text=True,
                         timeout=10)
    return out.stdout.strip()


def test_duty_set_against_snmpd_and_read_only(snmpd_agent: SnmpdAgent, tmp_path: Path) -> None:
    a = snmpd_agent
    copy_snmpd_profiles(tmp_path)
    assert a.rw_initial == 7  # lab-switch's wake value
    site = tmp_path / "site.toml"
    site.write_text(site_text(a))
    data = str(tmp_path / "data")
    try:
        done = _cli("duty", "set", "lab", "inference", "--config", str(site), "--data-dir", data,
                    "--yes")
        assert done.returncode == 0, done.stdout + done.stderr
        assert _value(a) == "42"

        audit = _cli("audit", "--config", str(site), "--data-dir", data, "--format", "json")
        assert audit.returncode == 0, audit.stderr
        text = audit.stdout
        (rec,) = json.loads(text)["records"]
        assert (rec["group"], rec["from"], rec["to"], rec["outcome"]) == (
            "lab", "mining", "inference", "done")
        (step,) = rec["steps"]
        assert step["action"] == "snmp-set" and step["status"] == "ok"
        assert [(d["device"], d["ok"]) for d in step["devices"]] == [("lab-01", True)]
        assert a.rw_community not in text and a.ro_community not in text

        ro = _cli("--read-only", "duty", "set", "lab", "mining", "--config", str(site),
                  "--data-dir", data, "--yes")
        assert ro.returncode == 4, ro.stdout + ro.stderr
        assert "read-only" in (ro.stdout + ro.stderr).lower()
        assert _value(a) == "42"  # nothing changed
    finally:
        # the fixture is shared: leave its writable value as found
        _cli("duty", "set", "lab", "mining", "--config", str(site), "--data-dir", data, "--yes")
        assert _value(a) == str(a.rw_initial)
