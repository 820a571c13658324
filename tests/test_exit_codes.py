"""Issue 13, part 6: exit codes mean what the README says. `duty set` with
standard input closed is a refusal (4) and audited; out-of-range options are
bad usage (2) with one clear error line. Real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from opsconsole.sim.site import SimSite
from tests.test_cli import ROOT, cli, no_traceback


def test_duty_set_with_stdin_closed_is_refused_and_audited(sim_site: SimSite,
                                                           tmp_path: Path) -> None:
    common = ["--config", str(sim_site.config_path), "--data-dir", str(tmp_path)]
    # `<&-`: the command starts with file descriptor 0 closed (sys.stdin is None)
    p = subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh", sys.executable, "-m", "opsconsole",
                        "duty", "set", "row-a", "idle", *common],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 4, p.stderr
    no_traceback(p)
    assert "no terminal to confirm on" in p.stderr
    audit = cli("audit", "--format", "json", *common)
    [rec] = json.loads(audit.stdout)["records"]
    assert rec["outcome"] == "refused" and "no terminal" in rec["message"]
    assert rec["group"] == "row-a" and rec["to"] == "idle"


@pytest.mark.parametrize("args, option", [
    (("poll", "--once", "--metrics-port", "70000"), "--metrics-port"),
    (("--metrics-port", "0", "poll", "--once"), "--metrics-port"),
    (("audit", "--limit", "-1"), "--limit"),
    (("audit", "--limit", "0"), "--limit"),
    (("--screenshot-after", "-5"), "--screenshot-after"),
    (("--screenshot-after", "nan"), "--screenshot-after"),
    (("simulate", "--miners", "-3"), "--miners"),
    (("simulate", "--fault-rate", "inf"), "--fault-rate"),
])
def test_out_of_range_options_exit_2(args: tuple[str, ...], option: str, tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[site]\nname = "x"\n')
    p = cli(*args, "--config", site, timeout=30)
    assert p.returncode == 2, (p.returncode, p.stderr)
    no_traceback(p)
    [err] = [ln for ln in p.stderr.splitlines() if "error:" in ln]
    assert f"argument {option}" in err and ("out of range" in err or "not a" in err), err


def test_plan_read_only_says_a_set_would_be_refused(sim_site: SimSite, tmp_path: Path) -> None:
    common = ["--config", str(sim_site.config_path), "--data-dir", str(tmp_path)]
    p = cli("duty", "plan", "row-a", "idle", "--read-only", *common, timeout=60)
    assert p.returncode == 4, p.stderr
    assert "REFUSED: read-only mode" in p.stdout and "a set would be refused" in p.stdout
    assert "idle" in p.stdout.splitlines()[0]  # the plan itself is still shown
    no_traceback(p)


def test_retry_on_a_healthy_group_has_nothing_to_retry(sim_site: SimSite, tmp_path: Path) -> None:
    common = ["--config", str(sim_site.config_path), "--data-dir", str(tmp_path)]
    done = cli("duty", "set", "row-a", "idle", "--yes", *common, timeout=120)
    assert done.returncode == 0, done.stderr
    p = cli("duty", "retry", "row-a", "--yes", *common, timeout=60)
    assert p.returncode == 4, p.stderr
    first = p.stdout.splitlines()[0]
    assert first.startswith("retry row-a: idle -> idle"), first  # no made-up direction
    assert "nothing to retry: group row-a is ok in idle" in p.stdout
    no_traceback(p)


def test_audit_of_an_unknown_group(sim_site: SimSite, tmp_path: Path) -> None:
    p = cli("audit", "--group", "nope", "--config", sim_site.config_path, "--data-dir", tmp_path)
    assert p.returncode == 2
    assert p.stderr.strip().startswith('opsconsole audit: unknown group "nope" (groups: row-a')
    ok = cli("audit", "--group", "row-a", "--config", sim_site.config_path, "--data-dir", tmp_path)
    assert ok.returncode == 0 and "no duty switches recorded" in ok.stdout


def test_sigterm_ends_a_command_with_143(sim_site: SimSite, tmp_path: Path) -> None:
    """As the README lists it: a poll ended by SIGTERM exits 128 + 15 in a shell."""
    p = subprocess.run(["sh", "-c", f'"{sys.executable}" -m opsconsole poll --config '
                        f'"{sim_site.config_path}" --data-dir "{tmp_path}" >/dev/null 2>&1 & '
                        'pid=$!; sleep 3; kill -TERM $pid; wait $pid'],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 143, (p.returncode, p.stderr)
