"""Issue 13, command line: one duty truth across `poll`, `duty status` and
copies of the site file; incomplete aggregates and contradictions in the poll
output; storage faults exit 2 with one line naming the file. Real commands in
subprocesses against the simulated site on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from opsconsole.sim.site import SimSite
from tests.fixtures.ports import free_udp_port
from tests.test_cli import add_dead_device, cli, no_traceback


def run_env(root: Path, home: Path) -> dict[str, str]:
    """As another OS user would run it: its own HOME and XDG dirs, one data root."""
    return {"OPSCONSOLE_DATA_ROOT": str(root), "HOME": str(home),
            "XDG_DATA_HOME": str(home / ".local" / "share")}


def poll_doc(config: Path, env: dict[str, str]) -> dict:
    p = cli("poll", "--config", config, "--once", "--format", "json", env=env)
    assert p.returncode == 0, p.stderr
    no_traceback(p)
    return json.loads(p.stdout)


def duties(doc: dict) -> dict[str, str]:
    return {g["id"]: g["duty"] for g in doc["groups"]}


def test_one_duty_truth_whoever_and_wherever(sim_site: SimSite, tmp_path: Path) -> None:
    root = tmp_path / "root"
    alice, kiosk = run_env(root, tmp_path / "alice"), run_env(root, tmp_path / "kiosk")
    copy = tmp_path / "elsewhere" / "copy.toml"  # the same site file at another path
    copy.parent.mkdir()
    copy.write_text(sim_site.config_path.read_text())
    assert duties(poll_doc(copy, kiosk))["row-a"] == "mining"
    p = cli("duty", "set", "row-a", "idle", "--yes", "--config", sim_site.config_path,
            env=alice, timeout=120)
    assert p.returncode == 0, p.stderr
    for config, env in ((sim_site.config_path, alice), (copy, kiosk)):
        doc = poll_doc(config, env)
        assert duties(doc)["row-a"] == "idle"  # not the site file's "mining"
        assert doc["groups"][0]["duty_status"] == "ok"
        table = cli("poll", "--config", config, "--once", env=env)
        assert any(line.startswith("group row-a") and " idle " in line
                   for line in table.stdout.splitlines()), table.stdout
        status = cli("duty", "status", "--config", config, env=env)
        assert status.returncode == 0 and status.stdout.startswith("row-a: idle"), status.stderr
        assert "warning" not in status.stderr + table.stderr


def test_site_data_dir_key_and_the_two_dirs_warning(sim_site: SimSite, tmp_path: Path) -> None:
    env = run_env(tmp_path / "root", tmp_path / "home")
    assert cli("duty", "status", "--config", sim_site.config_path, env=env).returncode == 0
    p = cli("duty", "set", "row-a", "idle", "--yes", "--config", sim_site.config_path, env=env,
            timeout=120)
    assert p.returncode == 0, p.stderr
    copy = tmp_path / "copy" / "site.toml"
    copy.parent.mkdir()
    copy.write_text(sim_site.config_path.read_text().replace(
        "[site]\n", '[site]\ndata_dir = "state"\n', 1))
    p = cli("duty", "status", "--config", copy, env=env)
    assert p.returncode == 0 and (copy.parent / "state" / "duty.sqlite").is_file()
    [line] = [ln for ln in p.stderr.splitlines() if "warning" in ln]
    assert str(copy.parent / "state") in line  # relative to the site file's folder
    default = next((tmp_path / "root").iterdir())
    assert str(default) in line and "two data dirs" in line
    no_traceback(p)


def test_poll_says_what_its_sums_miss(sim_site: SimSite, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text(sim_site.config_path.read_text())
    add_dead_device(config, free_udp_port())
    env = run_env(tmp_path / "root", tmp_path / "home")
    doc = poll_doc(config, env)
    dead = next(g for g in doc["groups"] if g["id"] == "dead-row")
    assert dead["incomplete"] is True and dead["devices_not_answering"] == 1
    assert dead["missing"]["hashrate_ths"] == 1 and dead["hashrate_ths"] is None
    assert doc["totals"]["devices_not_answering"] == 1 and doc["totals"]["incomplete"]
    assert doc["totals"]["missing"]["hashrate_ths"] == 1
    row_a = next(g for g in doc["groups"] if g["id"] == "row-a")
    assert row_a["incomplete"] is False and row_a["missing"] == {}
    table = cli("poll", "--config", config, "--once", env=env).stdout
    site_line = next(ln for ln in table.splitlines() if ln.startswith("site "))
    assert "TH/s, 1 device not answering" in site_line and ">= " in site_line


def test_poll_flags_a_group_whose_telemetry_contradicts_its_duty(sim_site: SimSite,
                                                                 tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    text = sim_site.config_path.read_text()
    assert 'id = "row-a"\nname = "Row A"\nduty = "mining"' in text
    config.write_text(text.replace('id = "row-a"\nname = "Row A"\nduty = "mining"',
                                   'id = "row-a"\nname = "Row A"\nduty = "idle"'))
    env = run_env(tmp_path / "root", tmp_path / "home")
    doc = poll_doc(config, env)
    row_a = next(g for g in doc["groups"] if g["id"] == "row-a")
    assert row_a["duty"] == "idle" and row_a["contradiction"].startswith("idle but hashing")
    table = cli("poll", "--config", config, "--once", env=env).stdout
    assert "! row-a: idle but hashing" in table


# ---------------------------------------------------------------- storage errors exit 2

def one_line_exit_2(p: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    no_traceback(p)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


@contextlib.contextmanager
def read_only_dir(path: Path, files: dict[str, bytes] | None = None) -> Iterator[Path]:
    """A real read-only folder holding `files`: a tmpfs remounted read-only as
    root (root ignores file modes), else mode 555."""
    path.mkdir(parents=True)
    root = os.geteuid() == 0
    if root:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)], check=True)
    try:
        for name, data in (files or {}).items():
            (path / name).write_bytes(data)
        if root:
            subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
        else:
            path.chmod(0o555)
        yield path
    finally:
        if root:
            subprocess.run(["umount", str(path)], check=False)
        else:
            path.chmod(0o755)


def test_read_only_data_dir_exits_2(sim_site: SimSite, tmp_path: Path) -> None:
    with read_only_dir(tmp_path / "ro") as ro:
        for args in (("duty", "status"), ("duty", "set", "row-a", "idle", "--yes")):
            p = cli(*args, "--config", sim_site.config_path, "--data-dir", ro)
            one_line_exit_2(p, str(ro / "duty.sqlite"), "read-only", "switching is off")


def test_data_dir_that_is_a_file_exits_2(sim_site: SimSite, tmp_path: Path) -> None:
    dd = tmp_path / "dd"
    dd.write_text("not a folder")
    for args in (("duty", "status"), ("audit",), ("poll", "--once"),
                 ("history", "site", "power_w", "--since", "1h")):
        p = cli(*args, "--config", sim_site.config_path, "--data-dir", dd)
        one_line_exit_2(p, str(dd), "is a file, not a folder")


def test_corrupt_databases_exit_2(sim_site: SimSite, tmp_path: Path) -> None:
    dd = tmp_path / "dd"
    dd.mkdir()
    junk = b"definitely not SQLite\n" * 300
    (dd / "duty.sqlite").write_bytes(junk)
    for args in (("duty", "status"), ("audit",), ("poll", "--once"),
                 ("duty", "set", "row-a", "idle", "--yes")):
        p = cli(*args, "--config", sim_site.config_path, "--data-dir", dd)
        one_line_exit_2(p, str(dd / "duty.sqlite"), "corrupt")
    (dd / "history.sqlite").write_bytes(junk)
    p = cli("history", "site", "power_w", "--since", "1h", "--config", sim_site.config_path,
            "--data-dir", dd)
    one_line_exit_2(p, str(dd / "history.sqlite"), "corrupt")


def test_poll_reads_the_duty_from_a_read_only_data_dir(sim_site: SimSite,
                                                       tmp_path: Path) -> None:
    """Reading the duty needs no write: poll works on a read-only data dir."""
    src = tmp_path / "src"
    p = cli("duty", "set", "row-a", "idle", "--yes", "--config", sim_site.config_path,
            "--data-dir", src, timeout=120)
    assert p.returncode == 0, p.stderr
    p = cli("duty", "status", "--config", sim_site.config_path, "--data-dir", src)
    assert p.returncode == 0  # its close checkpointed the WAL into the file
    with read_only_dir(tmp_path / "ro", {"duty.sqlite": (src / "duty.sqlite").read_bytes()}) as ro:
        p = cli("poll", "--once", "--format", "json", "--config", sim_site.config_path,
                "--data-dir", ro)
        assert p.returncode == 0, p.stderr
        assert duties(json.loads(p.stdout))["row-a"] == "idle"
