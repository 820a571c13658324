"""Issue 13, part 5: every number has a range and every read has a bound.
`check-config` refuses values that would fail or hang later, a site or
profile file that is not a regular file or is too large is refused at once,
and thousands of identical errors end with a summary line. Real files, and
the real command in a subprocess (no hang: each run has a 20 s limit)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opsconsole.core.errors import summarize
from opsconsole.core.profileload import MAX_FILE_BYTES, collect_profiles
from tests.fixtures.profiles import control, metric, write_profile
from tests.fixtures.sites import device_toml, site_toml
from tests.fixtures.sites import site_problems as problems
from tests.test_cli import cli, no_traceback

PDU = device_toml("pdu-1", "pdu", "127.0.0.1:1161", "apc-rpdu2", "lan")
HEAD = site_toml("Bounds", PDU)


def miner(extra: str = "", did: str = "m-1") -> str:
    return device_toml(did, "miner", "127.0.0.1:1162", "sim-miner", "lan") + f"{extra}\n"


@pytest.mark.parametrize("extra, expect", [
    ('pdu = "pdu-1"\noutlet = 99999999999999999999999',
     "groups[0].devices[1].outlet: 99999999999999999999999 is out of range (must be 1..1024)"),
    ('pdu = "pdu-1"\noutlet = 4294967296', "outlet: 4294967296 is out of range (must be 1..1024)"),
    ("position = 1000000", "position: 1000000 is out of range (must be 0..1000)"),
    ("timeout_s = 1e300", "timeout_s: 1e+300 is out of range"),
    ("retries = 99", "retries: 99 is out of range (must be 0..10)"),
    (f'rack = "{"R" * 2000}"', "rack: too long (2,000 characters, at most 1,024)"),
])
def test_device_numbers_and_strings_have_ranges(tmp_path: Path, extra: str, expect: str) -> None:
    errors = problems(tmp_path, HEAD + miner(extra))
    assert any(expect in e for e in errors), errors


@pytest.mark.parametrize("table, expect", [
    ("poll_interval_s = 1e9", "site.poll_interval_s: 1000000000.0 is out of range"),
    ("power_budget_kw = 1e12", "site.power_budget_kw: 1000000000000.0 is out of range"),
    ("snmp_timeout_s = 86400", "site.snmp_timeout_s: 86400 is out of range"),
    ("max_concurrency = 10000000", "site.max_concurrency: 10000000 is out of range"),
    (f'data_dir = "{"d" * 5000}"', "site.data_dir: too long (5,000 characters, at most 4,096)"),
])
def test_site_settings_have_ranges(tmp_path: Path, table: str, expect: str) -> None:
    errors = problems(tmp_path, site_toml("Bounds", PDU, miner(), site=table))
    assert any(expect in e for e in errors), errors


def test_gpu_index_and_budgets(tmp_path: Path) -> None:
    text = site_toml("Bounds", PDU, miner(), group_keys="expected_kw = { mining = 1e9 }\n")
    text += '\n[[groups.devices]]\nid = "gpu-0"\nkind = "gpu"\nnvml_index = 70000\n'
    errors = problems(tmp_path, text)
    assert any("groups[0].expected_kw.mining: 1000000000.0 is out of range" in e for e in errors)
    assert any("nvml_index: 70000 is out of range (must be 0..255)" in e for e in errors), errors


@pytest.mark.parametrize("step, expect", [
    ('action = "command"\nargv = ["true"]\ntimeout_s = 1e12', "timeout_s: 1000000000000.0 is out"),
    ('action = "nvml-power-limit"\ntargets = "gpus"\nwatts = 1e9', "watts: 1000000000.0 is out"),
    ('action = "http"\nurl = "http://127.0.0.1/' + "x" * 5000 + '"', "url: too long"),
    ('action = "command"\nargv = [' + ", ".join(['"a"'] * 2000) + "]", "at most 1024 arguments"),
    ('action = "wait-metric"\nmetric = "hashrate_ths"\nop = "<"\nvalue = 1e300',
     "value: 1e+300 is out of range"),
])
def test_duty_step_parameters_have_ranges(tmp_path: Path, step: str, expect: str) -> None:
    text = HEAD + miner() + '\n[[groups.devices]]\nid = "gpu-0"\nkind = "gpu"\nnvml_index = 0\n'
    text += f"\n[[groups.duties.idle]]\n{step}\n"
    errors = problems(tmp_path, text)
    assert any(expect in e for e in errors), errors


@pytest.mark.parametrize("oid, expect", [
    ("3.6.1.4", "first arc 3 is out of range (0, 1 or 2)"),
    ("1.45.6", "second arc 45 is out of range under 1 (0..39)"),
    ("1.3.6.1.4294967296", "arc 4294967296 is out of range (0..4294967295)"),
    ("1.3.6." + "9" * 40, "is out of range (0..4294967295)"),
    (".".join(["1"] * 200), "has 200 arcs (at most 128)"),
])
def test_profile_oids_fit_the_wire(tmp_path: Path, oid: str, expect: str) -> None:
    pdir = tmp_path / "profiles"
    write_profile(pdir, "p", "pdu", metric("power_w", oid))
    [line] = collect_profiles(pdir).errors
    assert line.startswith(f"{pdir / 'p.toml'}: metrics.power_w.oid: ") and expect in line, line


def test_not_regular_or_too_large_files_are_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "site.toml"
    os.mkfifo(fifo)  # a reader would block forever on open()
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    for path, expect in (("/dev/zero", "/dev/zero: not a regular file (a device)"),
                         (fifo, f"{fifo}: not a regular file (a FIFO)"),
                         (tmp_path, f"{tmp_path}: not a regular file (a folder)"),
                         (big, f"{big}: too large: {MAX_FILE_BYTES + 3:,} bytes (at most")):
        p = cli("check-config", path, timeout=20)
        assert p.returncode == 2, p.stderr
        no_traceback(p)
        assert p.stderr.strip().startswith(expect), p.stderr
        assert len(p.stderr.strip().splitlines()) == 1


def test_a_profile_fifo_beside_the_site_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    os.mkfifo(tmp_path / "profiles" / "fifo.toml")
    (tmp_path / "site.toml").write_text(HEAD + miner())
    p = cli("check-config", tmp_path / "site.toml", timeout=20)
    assert p.returncode == 0, p.stderr  # skipped, never opened


def test_an_integer_too_long_for_python(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(site_toml("Bounds", PDU, site="snmp_retries = " + "9" * 5000))
    p = cli("check-config", site, timeout=20)
    assert p.returncode == 2 and "TOML value out of range: an integer too long" in p.stderr
    no_traceback(p)


def test_thousands_of_identical_errors_end_with_a_summary(tmp_path: Path) -> None:
    text = HEAD + "".join(miner("position = -1", f"m-{i}") for i in range(3000))
    site = tmp_path / "site.toml"
    site.write_text(text)
    p = cli("check-config", site, timeout=60)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 51, lines[-3:]
    assert all("position: -1 is out of range" in ln for ln in lines[:50])
    assert lines[-1] == (f'{site}: ... and 2,950 more problems, 2,950 of them '
                         '"-1 is out of range (must be 0..1000)" (3,000 in all)')


def test_summarize_keeps_short_lists() -> None:
    assert summarize(["a: x"] * 3) == ["a: x"] * 3
    out = summarize([f"f: k{i}: p{i % 2}" for i in range(60)], limit=10)
    assert len(out) == 11 and out[-1].startswith("f: ... and 50 more problems, 25 of them")


def test_the_example_and_a_simulated_site_still_pass(sim_site, tmp_path: Path) -> None:
    p = cli("check-config", sim_site.config_path, timeout=30)
    assert p.returncode == 0, p.stderr


def test_profile_strings_and_folders_have_bounds(tmp_path: Path) -> None:
    pdir = tmp_path / "profiles"
    write_profile(pdir, "p", "pdu", control("label", "1.3.6.1.4.1.318.1", "string", "v" * 5000),
                  description="d" * 2000)
    errors = collect_profiles(pdir).errors
    assert any("description: too long (2,000 characters" in e for e in errors), errors
    assert any("controls.label.value: too long for one SNMP value (5,000 bytes" in e
               for e in errors), errors
    many = tmp_path / "many"
    many.mkdir()
    for i in range(1001):
        (many / f"p{i}.toml").write_text("")
    assert collect_profiles(many).errors == [f"{many}: 1,001 profile files (at most 1,000)"]


def test_more_devices_than_the_console_starts_fast_on(tmp_path: Path) -> None:
    body = "".join(device_toml(f"m{i}", "miner", "127.0.0.1:9", "sim-miner", "lan")
                   for i in range(25_000))
    errors = problems(tmp_path, HEAD + body)
    assert errors == [f"{tmp_path / 'site.toml'}: groups: 25,001 devices: at most 25,000 per "
                      "site file (split the site)"], errors[:3]
