"""The headless commands as a user runs them: `python -m opsconsole ...` in a
subprocess (stdin closed), against simulated agents and snmpd on loopback."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import opsconsole
from opsconsole.core.errors import ConfigError
from opsconsole.core.siteload import load_site
from opsconsole.sim.site import SimSite
from tests.fixtures.hostile import HostileAgent
from tests.fixtures.ports import free_udp_port
from tests.fixtures.sites import device_toml, site_toml
from tests.fixtures.snmpd import V3_USERS, SnmpdAgent

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "resources" / "examples" / "site.toml"
EXAMPLE_ENV = {"OPS_AUTH": "example-auth-key", "OPS_PRIV": "example-priv-key",
               "PDU_COMMUNITY": "pdu-read", "PDU_WRITE_COMMUNITY": "pdu-write"}
COMMUNITY_SECRET = "s3cret-community-xyz"
V3_SECRET = "s3cret-v3-key-xyz"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def cli(*args: str | Path, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in EXAMPLE_ENV}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "opsconsole", *map(str, args)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
        cwd=ROOT, env=full_env,
    )


def no_traceback(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout, p.stderr


def poll_json(config: Path, *extra: str, env: dict[str, str] | None = None) -> dict:
    p = cli("poll", "--config", config, "--once", "--format", "json", *extra, env=env)
    assert p.returncode == 0, p.stderr
    no_traceback(p)
    return json.loads(p.stdout)


def add_dead_device(config: Path, port: int) -> None:
    text = config.read_text().replace(
        "poll_interval_s = 10", "poll_interval_s = 10\nsnmp_timeout_s = 0.4\nsnmp_retries = 0", 1)
    text += ('\n[[groups]]\nid = "dead-row"\nduty = "idle"\n\n[[groups.devices]]\nid = "dead"\n'
             f'kind = "miner"\naddress = "127.0.0.1:{port}"\nprofile = "sim-miner"\n'
             'credentials = "sim"\n')
    config.write_text(text)


# ---------------------------------------------------------------- version, check-config

def test_version() -> None:
    p = cli("--version")
    assert p.returncode == 0
    assert p.stdout.strip() == f"opsconsole {opsconsole.__version__}"


def test_check_config_example() -> None:
    p = cli("check-config", EXAMPLE, env=EXAMPLE_ENV)
    assert p.returncode == 0, p.stderr
    assert "ok" in p.stdout and "Example hybrid site" in p.stdout
    no_traceback(p)
    for value in EXAMPLE_ENV.values():
        assert value not in p.stdout + p.stderr


def test_check_config_example_without_env_names_the_variables() -> None:
    p = cli("check-config", EXAMPLE)
    assert p.returncode == 2
    no_traceback(p)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == len(EXAMPLE_ENV)
    for var in EXAMPLE_ENV:
        assert sum(var in line for line in lines) == 1, var


MALFORMED = site_toml(  # a poll interval too short, no community, a port out of range
    "Bad", device_toml("d", "miner", "127.0.0.1:99999", "sim-miner", "c"),
    site="poll_interval_s = 0.1\n", credentials='[credentials.c]\nversion = "2c"\n', group="g")


def test_check_config_malformed_one_line_per_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(MALFORMED)
    with pytest.raises(ConfigError) as info:
        load_site(bad, env={})
    want = info.value.errors
    assert len(want) == 3  # poll interval, community, port
    p = cli("check-config", bad)
    assert p.returncode == 2
    no_traceback(p)
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert lines == want
    for line, key in zip(lines, ("site.poll_interval_s", "credentials.c.community",
                                 "groups[0].devices[0].address"), strict=True):
        assert line.startswith(f"{bad}: {key}: "), line


def test_check_config_toml_syntax_error(tmp_path: Path) -> None:
    bad = tmp_path / "syntax.toml"
    bad.write_text('[site]\nname = "x\n')
    p = cli("check-config", bad)
    assert p.returncode == 2
    no_traceback(p)
    assert len(p.stderr.strip().splitlines()) == 1
    assert str(bad) in p.stderr


def test_check_config_missing_file(tmp_path: Path) -> None:
    p = cli("check-config", tmp_path / "nope.toml")
    assert p.returncode == 2
    no_traceback(p)
    assert len(p.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- poll

def test_poll_once_json_contract(sim_site: SimSite) -> None:
    assert sim_site.config_path is not None
    site = load_site(sim_site.config_path, env={})
    doc = poll_json(sim_site.config_path)
    assert set(doc) >= {"site", "collected_at", "cycle_s", "devices", "groups"}
    assert doc["site"] == site.name
    assert ISO_Z.match(doc["collected_at"]), doc["collected_at"]
    assert isinstance(doc["cycle_s"], int | float) and 0 <= doc["cycle_s"] < 30
    assert [d["id"] for d in doc["devices"]] == [d.id for d in site.devices()]
    for d in doc["devices"]:
        assert set(d) >= {"id", "group", "kind", "status", "error", "metrics"}
        dev = site.device(d["id"])
        assert dev is not None and (d["group"], d["kind"]) == (dev.group, dev.kind)
        assert d["status"] == "ok" and d["error"] is None, d
        assert d["metrics"]
    miners = [d for d in doc["devices"] if d["kind"] == "miner"]
    assert len(miners) == 6
    for m in miners:
        assert set(m["metrics"]) >= {"hashrate_ths", "power_w", "temp_c", "fan_rpm", "state"}
        assert m["metrics"]["hashrate_ths"] > 1
    pdu = next(d for d in doc["devices"] if d["kind"] == "pdu")
    assert len(pdu["metrics"]["outlet_state"]) == 6
    gpus = [d for d in doc["devices"] if d["kind"] == "gpu"]
    assert [g["id"] for g in gpus] == ["gpu-0", "gpu-1"]
    assert [g["id"] for g in doc["groups"]] == [g.id for g in site.groups]
    for g in doc["groups"]:
        assert set(g) >= {"id", "duty", "devices_ok", "devices_total", "hashrate_ths", "power_w"}
        grp = site.group(g["id"])
        assert grp is not None and g["duty"] == grp.duty
        assert g["devices_ok"] == g["devices_total"] == len(grp.devices)
    row = next(g for g in doc["groups"] if g["id"] == "row-a")
    assert row["hashrate_ths"] == pytest.approx(
        sum(m["metrics"]["hashrate_ths"] for m in miners), rel=1e-3)
    assert row["power_w"] > 0


def test_poll_once_table_and_config_position(sim_site: SimSite) -> None:
    assert sim_site.config_path is not None
    site = load_site(sim_site.config_path, env={})
    p = cli("--config", sim_site.config_path, "poll", "--once", "--format", "table")
    assert p.returncode == 0, p.stderr
    no_traceback(p)
    lines = p.stdout.splitlines()
    for d in site.devices():
        rows = [line for line in lines if line.split()[:1] == [d.id]]
        assert len(rows) == 1, d.id
        assert f" {d.group} " in rows[0] and " ok " in rows[0]
    assert sum(line.startswith("group ") for line in lines) == len(site.groups)
    # --config before the subcommand works for json too
    p = cli("--config", sim_site.config_path, "poll", "--once", "--format", "json")
    assert p.returncode == 0 and len(json.loads(p.stdout)["devices"]) == len(site.devices())


def test_poll_with_an_unreachable_device_exits_0(sim_site: SimSite) -> None:
    assert sim_site.config_path is not None
    add_dead_device(sim_site.config_path, free_udp_port())
    doc = poll_json(sim_site.config_path)  # cli()'s timeout is the (generous) hang guard
    status = {d["id"]: d["status"] for d in doc["devices"]}
    assert status.pop("dead") == "unreachable"
    assert set(status.values()) == {"ok"}
    dead = next(d for d in doc["devices"] if d["id"] == "dead")
    assert dead["error"] and dead["metrics"] == {}
    grp = next(g for g in doc["groups"] if g["id"] == "dead-row")
    assert (grp["devices_ok"], grp["devices_total"]) == (0, 1)


def test_poll_without_config_is_usage_error() -> None:
    p = cli("poll", "--once")
    assert p.returncode == 2
    no_traceback(p)
    assert "--config" in p.stderr


def test_poll_bad_format_is_usage_error(sim_site: SimSite) -> None:
    p = cli("poll", "--config", sim_site.config_path, "--once", "--format", "xml")  # type: ignore[arg-type]
    assert p.returncode == 2
    no_traceback(p)


# ---------------------------------------------------------------- simulate

def test_simulate_then_poll_then_stop(tmp_path: Path) -> None:
    config = tmp_path / "sim" / "site.toml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsconsole", "simulate", "--miners", "5", "--gpus", "2",
         "--write-config", str(config)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while not config.exists() or not config.read_text().endswith("\n"):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "simulate wrote no site file"
            time.sleep(0.05)
        doc = poll_json(config)
        kinds = [d["kind"] for d in doc["devices"]]
        assert kinds.count("miner") == 5 and kinds.count("gpu") == 2 and "pdu" in kinds
        assert {d["status"] for d in doc["devices"]} == {"ok"}, doc["devices"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    # the agents are gone: SNMP devices unreachable, the poll still done
    config.write_text(config.read_text().replace(
        "poll_interval_s = 10", "poll_interval_s = 10\nsnmp_timeout_s = 0.4\nsnmp_retries = 0"))
    doc = poll_json(config)
    for d in doc["devices"]:
        assert d["status"] == ("ok" if d["kind"] == "gpu" else "unreachable"), d


def test_simulate_refuses_a_non_loopback_host() -> None:
    p = cli("simulate", "--host", "10.0.0.1", "--miners", "1", "--gpus", "0")
    assert p.returncode == 2  # at once: cli()'s timeout is the (generous) hang guard
    no_traceback(p)
    assert "loopback" in p.stderr and "simulating" not in p.stderr


# ---------------------------------------------------------------- secrets

def secret_site(tmp_path: Path, a: SnmpdAgent, *, valid: bool = True) -> Path:
    user = V3_USERS["auth"]
    path = tmp_path / ("site.toml" if valid else "bad.toml")
    creds = f"""
[credentials.lan]
version = "2c"
community = "{COMMUNITY_SECRET}"
write_community = "{COMMUNITY_SECRET}-w"

[credentials.v3]
version = "3"
user = "{user.user}"
auth_protocol = "{user.auth_protocol}"
auth_key_env = "SECRET_AUTH"
"""
    if not valid:
        creds += f"""
[credentials.broken]
version = "3"
user = "x"
community = "{COMMUNITY_SECRET}"
auth_protocol = "SHA"
auth_key = "{V3_SECRET}"
priv_protocol = "ROT13"
priv_key = "{V3_SECRET}"

[credentials.short]
version = "2c"
community_env = "SECRET_AUTH"
auth_key = "{V3_SECRET}"
"""
    path.write_text(site_toml(
        "Secrets",
        device_toml("wrong-community", "host", f"{a.host}:{a.port}", "net-snmp-host", "lan"),
        device_toml("nobody-home", "host", f"127.0.0.1:{free_udp_port()}", "net-snmp-host",
                    "lan"),
        device_toml("wrong-key", "host", f"{a.host}:{a.port}", "net-snmp-host", "v3"),
        site="snmp_timeout_s = 0.5\nsnmp_retries = 0\n", credentials=creds, group="g"))
    return path


def test_secrets_never_printed(snmpd_agent: SnmpdAgent, tmp_path: Path) -> None:
    env = {"SECRET_AUTH": V3_SECRET}
    good = secret_site(tmp_path, snmpd_agent)
    runs = [cli("check-config", good, env=env),
            cli("-vv", "poll", "--config", good, "--once", "--format", "json", env=env),
            cli("poll", "--config", good, "--once", "--format", "table", env=env)]
    assert [p.returncode for p in runs] == [0, 0, 0], [p.stderr for p in runs]
    doc = json.loads(runs[1].stdout)
    status = {d["id"]: d["status"] for d in doc["devices"]}
    assert status == {"wrong-community": "unreachable", "nobody-home": "unreachable",
                      "wrong-key": "error"}
    bad = secret_site(tmp_path, snmpd_agent, valid=False)
    runs += [cli("check-config", bad, env=env), cli("poll", "--config", bad, "--once", env=env)]
    assert [p.returncode for p in runs[3:]] == [2, 2]
    with pytest.raises(ConfigError) as info:
        load_site(bad, env=env)
    assert len(info.value.errors) >= 3
    assert runs[3].stderr.strip().splitlines() == info.value.errors
    for p in runs:
        no_traceback(p)
        for secret in (COMMUNITY_SECRET, V3_SECRET, "s3cret"):
            assert secret not in p.stdout and secret not in p.stderr, (p.args, secret)


@pytest.mark.parametrize("mode", ["random"])
def test_poll_hostile_agent_no_traceback(hostile_agent: HostileAgent, tmp_path: Path,
                                         mode: str) -> None:
    hostile_agent.mode = mode
    config = tmp_path / "site.toml"
    config.write_text(
        '[site]\nname = "H"\nsnmp_timeout_s = 0.4\nsnmp_retries = 0\n'
        '[credentials.sim]\nversion = "2c"\ncommunity = "public"\n'
        '[[groups]]\nid = "g"\nduty = "mining"\n[[groups.devices]]\nid = "h"\nkind = "miner"\n'
        f'address = "127.0.0.1:{hostile_agent.port}"\nprofile = "sim-miner"\n'
        'credentials = "sim"\n')
    doc = poll_json(config)  # exit 0, no traceback
    assert doc["devices"][0]["status"] in ("unreachable", "error")
    assert hostile_agent.counters[f"mode:{mode}"] >= 1
