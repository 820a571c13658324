"""`--ca-file`: the CLI's --connect forms trust a site service's self-signed
certificate (made in the test) on a real TLS service on 127.0.0.1, and say in
one line what is wrong when the certificate or the file is not the right one."""

from __future__ import annotations

import json
from pathlib import Path

from opsconsole.sim.site import SimSite
from tests.fixtures.tls import self_signed
from tests.service.support import Service, interval


def test_cli_trusts_the_service_certificate_given_with_ca_file(
        sim_site: SimSite, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path / "tls")
    other, _ = self_signed(tmp_path / "other", "someone else")
    cfg = interval(sim_site.config_path, tmp_path / "site.toml", 1)
    svc = Service(cfg, tmp_path / "data", "--tls-cert", str(cert), "--tls-key", str(key),
                  scheme="https")
    wall = svc.token("wall", "viewer", tmp_path)
    secret = wall.read_text().strip()
    svc.start()
    try:
        got = svc.cli("poll", "--once", "--format", "json", "--ca-file", cert, token=wall)
        assert got.returncode == 0, got.stderr
        doc = json.loads(got.stdout)
        assert doc["site"] == "Simulated site" and {d["id"] for d in doc["devices"]} >= {
            "a-01", "pdu-a1"}
        status = svc.cli("duty", "status", "--ca-file", cert, token=wall)
        assert status.returncode == 0 and status.stdout.startswith("row-a: "), status.stderr

        # the wrong certificate: refused, one line, and why
        wrong = svc.cli("poll", "--once", "--ca-file", other, token=wall)
        assert wrong.returncode == 1 and wrong.stdout == ""
        assert wrong.stderr.count("\n") == 1 and "not trusted" in wrong.stderr
        assert "--ca-file" in wrong.stderr and secret not in wrong.stderr
        # a file that is not a certificate, or none: a usage error naming it
        junk = tmp_path / "junk.pem"
        junk.write_text("not a certificate\n")
        for bad in (junk, tmp_path / "missing.pem"):
            r = svc.cli("poll", "--once", "--ca-file", bad, token=wall)
            assert r.returncode == 2 and str(bad) in r.stderr and "--ca-file" in r.stderr, (
                r.stderr)
            assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    finally:
        svc.stop()
