"""The CLI's --connect forms against a real service, beside the local forms
on the same simulated site and data dir: same output, same exit codes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

from opsconsole.sim import miner as mm
from opsconsole.sim.site import SimSite
from tests.service.conftest import http
from tests.service.support import Service
from tests.test_duty_support import cli


def local(svc: Service, *args: str | Path):
    r = cli(*args, "--config", svc.config, "--data-dir", svc.data_dir)
    # a warning about this machine's other data dirs for the same site (left by other
    # runs) is the local form's business, not an output to compare
    r.stderr = "".join(x for x in r.stderr.splitlines(keepends=True)
                       if not x.startswith("opsconsole: warning: "))
    return r


def test_poll_once_matches_the_local_form(svc: Service) -> None:
    viewer = svc.tokens["viewer"]  # type: ignore[attr-defined]
    here = local(svc, "poll", "--once", "--format", "json")
    there = svc.cli("poll", "--once", "--format", "json", token=viewer)
    assert here.returncode == there.returncode == 0, there.stderr
    a, b = json.loads(here.stdout), json.loads(there.stdout)
    assert a.keys() == b.keys()
    assert [d["id"] for d in a["devices"]] == [d["id"] for d in b["devices"]]
    assert [d.keys() for d in a["devices"]] == [d.keys() for d in b["devices"]]
    assert [(g["id"], g["duty"], g["devices_total"]) for g in a["groups"]] == [
        (g["id"], g["duty"], g["devices_total"]) for g in b["groups"]]
    assert a["groups"][0].keys() == b["groups"][0].keys()
    assert a["totals"].keys() == b["totals"].keys()
    assert {d["status"] for d in b["devices"]} == {"ok"}
    # the readings themselves: the same simulated miners, polled by either
    rate = {d["id"]: d["metrics"].get("hashrate_ths") for d in a["devices"]}
    for d in b["devices"]:
        if d["kind"] == "miner":
            assert abs(d["metrics"]["hashrate_ths"] - rate[d["id"]]) < 0.2 * rate[d["id"]]
    ta = local(svc, "poll", "--once", "--format", "table").stdout.splitlines()
    tb = svc.cli("poll", "--once", token=viewer).stdout.splitlines()
    assert len(ta) == len(tb) and ta[1] == tb[1]  # the header
    assert [x.split()[:4] for x in ta[2:]] == [x.split()[:4] for x in tb[2:]]
    assert svc.cli("poll", "--format", "json", token=viewer).returncode == 2  # needs --once


def test_duty_commands_match_the_local_forms(svc: Service, sim_site: SimSite) -> None:
    op, viewer = svc.tokens["operator"], svc.tokens["viewer"]  # type: ignore[attr-defined]
    pairs = {
        "plan": (local(svc, "duty", "plan", "row-a", "idle"),
                 svc.cli("duty", "plan", "row-a", "idle", token=op)),
        "no tty": (local(svc, "duty", "set", "row-a", "idle"),
                   svc.cli("duty", "set", "row-a", "idle", token=op)),
        "unknown": (local(svc, "duty", "set", "row-zz", "idle", "--yes"),
                    svc.cli("duty", "set", "row-zz", "idle", "--yes", token=op)),
        "resume": (local(svc, "duty", "resume", "row-a", "--yes"),
                   svc.cli("duty", "resume", "row-a", "--yes", token=op)),
        "status": (local(svc, "duty", "status"), svc.cli("duty", "status", token=viewer)),
        "status?": (local(svc, "duty", "status", "nope"),
                    svc.cli("duty", "status", "nope", token=viewer)),
    }
    codes = {k: (a.returncode, b.returncode) for k, (a, b) in pairs.items()}
    assert codes == {"plan": (0, 0), "no tty": (4, 4), "unknown": (2, 2), "resume": (4, 4),
                     "status": (0, 0), "status?": (2, 2)}
    for k in ("no tty", "unknown", "resume", "status", "status?"):
        a, b = pairs[k]
        assert a.stderr == b.stderr, k
    for k in ("plan", "resume"):  # the step lines; power now is each one's own measurement
        a, b = pairs[k]
        sa, sb = a.stdout.splitlines(), b.stdout.splitlines()
        assert sa[0] == sb[0] and sa[2:] == sb[2:], k
    assert pairs["status"][0].stdout == pairs["status"][1].stdout == (
        "row-a: mining\ngpu-a: inference\n")

    there = svc.cli("duty", "set", "row-a", "idle", "--yes", token=op)
    assert there.returncode == 0, there.stdout + there.stderr
    assert [sim_site.miner(f"a-{i:02d}").sample().state
                                 for i in range(1, 7)] == [mm.SLEEPING] * 6
    here = local(svc, "duty", "set", "row-a", "mining", "--yes")
    assert here.returncode == 0, here.stdout + here.stderr
    strip = [x for x in here.stdout.splitlines() if x.startswith(("[", "      "))]
    assert strip and [x.split(":")[0] for x in strip] == [
        x.split(":")[0] for x in there.stdout.splitlines() if x.startswith(("[", "      "))]
    assert there.stdout.splitlines()[-1].startswith("done: row-a is now in idle (switch #")
    assert here.stdout.splitlines()[-1].startswith("done: row-a is now in mining (switch #")

    # the audit and status read the same journal: the same text, byte for byte
    for args in (("audit",), ("audit", "--format", "json"), ("audit", "--limit", "2"),
                 ("duty", "status")):
        a, b = local(svc, *args), svc.cli(*args, token=viewer)
        assert a.returncode == b.returncode == 0
        assert a.stdout == b.stdout, args
    recs = json.loads(svc.cli("audit", "--format", "json", token=viewer).stdout)["records"]
    users = [(r["user"], r["host"], r["outcome"]) for r in recs]
    assert ("operator-user", "127.0.0.1", "done") in users
    assert users[-1][2] == "done" and users[-1][0] != "operator-user"  # the OS user


def test_history_matches_the_local_form(svc: Service) -> None:
    viewer = svc.tokens["viewer"]  # type: ignore[attr-defined]
    t0 = time.monotonic()
    while len(local(svc, "history", "site", "power_w", "--since", "1h").stdout.splitlines()) < 9:
        assert time.monotonic() - t0 < 300, "no history written"
        time.sleep(1)
    time.sleep(1)
    # rows up to a few seconds ago: the writer commits every second, so they are final
    until = datetime.fromtimestamp(time.time() - 5, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    since = datetime.fromtimestamp(time.time() - 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for fmt in ("csv", "json"):
        args = ("history", "site", "power_w", "--since", since, "--until", until,
                "--format", fmt)
        a, b = local(svc, *args), svc.cli(*args, token=viewer)
        assert a.returncode == b.returncode == 0
        assert a.stdout == b.stdout and len(a.stdout.splitlines()) >= 3
    a = local(svc, "history", "a-01", "hashrat_ths")
    b = svc.cli("history", "a-01", "hashrat_ths", token=viewer)
    assert a.returncode == b.returncode == 2
    assert 'did you mean "hashrate_ths"' in a.stderr and 'did you mean "hashrate_ths"' in b.stderr


def test_connect_needs_a_valid_token(svc: Service, tmp_path: Path, monkeypatch) -> None:
    r = svc.cli("duty", "status")  # no --token-file, no OPSCONSOLE_TOKEN
    assert r.returncode == 2 and "a token is required" in r.stderr
    (tmp_path / "bad.token").write_text("osc_bad\n")
    r = svc.cli("duty", "status", token=tmp_path / "bad.token")
    assert r.returncode == 2 and "valid token" in r.stderr and "osc_bad" not in r.stderr
    import os

    env = {**os.environ,
           "OPSCONSOLE_TOKEN": svc.tokens["viewer"].read_text().strip()}  # type: ignore[attr-defined]
    r = svc.cli("duty", "status", env=env)
    assert r.returncode == 0 and "row-a:" in r.stdout
    down = cli("duty", "status", "--connect", "http://127.0.0.1:9", env=env)
    assert down.returncode == 1 and "cannot reach the site service" in down.stderr
    assert http("GET", svc.url + "/healthz")[0] == 200
