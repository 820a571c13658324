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
