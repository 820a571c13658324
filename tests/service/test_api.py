"""The site service's HTTP API against a real `opsconsole serve` process on
loopback: roles, limits, the rate limit, secrets, /metrics."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from tests.fixtures.tls import self_signed
from tests.service.conftest import http
from tests.service.support import Service

API = "/api/v1"


def test_every_endpoint_needs_a_token_and_the_right_role(svc: Service) -> None:
    t = svc.tokens  # type: ignore[attr-defined]
    u = svc.url + API
    assert http("GET", u + "/snapshot")[0] == 401
    assert http("GET", u + "/snapshot", token="osc_not-a-token")[0] == 401
    st, doc = http("GET", u + "/snapshot", token=t["viewer"])
    assert st == 200 and {d["id"] for d in doc["devices"]} >= {"a-01", "pdu-a1", "gpu-0"}
    assert http("GET", u + "/whoami", token=t["viewer"])[1]["role"] == "viewer"
    plan = {"group": "row-a", "duty": "idle"}
    assert http("POST", u + "/duty/plan", t["viewer"], plan)[0] == 403
    st, doc = http("POST", u + "/duty/plan", t["operator"], plan)
    assert st == 200 and doc["plan"]["to_duty"] == "idle" and doc["summary"]
    assert http("POST", u + "/alarms/acknowledge", t["viewer"],
                {"subject": "a-01", "key": "temp"})[0] == 403
    assert http("GET", u + "/tokens", t["operator"])[0] == 403
    st, doc = http("GET", u + "/tokens", t["admin"])
    assert st == 200 and {x["name"] for x in doc["tokens"]} == {
        "viewer-user", "operator-user", "admin-user"}
    assert all("sha256" not in x for x in doc["tokens"])
    # every endpoint of the API answers 401 without a token
    for method, path in (("GET", "/site"), ("GET", "/groups"), ("GET", "/duty/status"),
                         ("POST", "/duty/run"), ("GET", "/duty/requests"),
                         ("POST", "/duty/requests/1/approve"), ("GET", "/audit"),
                         ("GET", "/history"), ("GET", "/alarms"), ("GET", "/events"),
                         ("GET", "/alarms/log"), ("GET", "/stream"), ("GET", "/tokens")):
        assert http(method, u + path, body={} if method == "POST" else None)[0] == 401, path
    # a revoked token stops working at once, on the running service
    st, made = http("POST", u + "/tokens", t["admin"], {"name": "temp", "role": "viewer"})
    assert st == 200 and http("GET", u + "/whoami", token=made["token"])[0] == 200
    assert http("DELETE", u + "/tokens/temp", t["admin"])[0] == 200
    assert http("GET", u + "/whoami", token=made["token"])[0] == 401


def test_bad_requests_get_4xx_and_the_service_runs_on(svc: Service) -> None:
    t = svc.tokens  # type: ignore[attr-defined]
    u = svc.url + API
    assert http("POST", u + "/duty/plan", t["operator"], raw=b"{not json")[0] == 400
    assert http("POST", u + "/duty/plan", t["operator"], raw=b"[1, 2]")[0] == 400
    assert http("POST", u + "/duty/plan", t["operator"], {"group": 5})[0] == 400
    assert http("POST", u + "/duty/plan", t["operator"],
                {"group": "row-a", "duty": "nap"})[0] == 400
    st, doc = http("POST", u + "/duty/plan", t["operator"], {"group": "no-such", "duty": "idle"})
    assert st == 400 and 'unknown group "no-such"' in doc["error"]
    assert http("POST", u + "/duty/plan", t["operator"], raw=b"x" * 200_000)[0] == 413
    assert http("GET", u + "/audit?limit=zero", t["viewer"])[0] == 400
    assert http("GET", u + "/nothing-here", t["viewer"])[0] == 404

    # a body that never arrives: 408, and the service answers meanwhile
    token = t["operator"].read_text().strip()
    with socket.create_connection(("127.0.0.1", svc.port)) as s:
        s.sendall(f"POST {API}/duty/plan HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}"
                  "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode())
        assert http("GET", u + "/whoami", t["viewer"])[0] == 200
        s.settimeout(60)
        answer = s.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 408"), answer
    # a request head that never ends (slowloris): 408 too, and the connection is closed
    with socket.create_connection(("127.0.0.1", svc.port)) as s:
        s.sendall(b"GET /api/v1/whoami HTTP/1.1\r\nHost: x\r\n")
        assert http("GET", u + "/whoami", t["viewer"])[0] == 200
        s.settimeout(120)
        answer = s.recv(4096).decode()
        assert answer.startswith("HTTP/1.1 408") and "request head" in answer, answer
        assert s.recv(4096) == b""  # closed
    assert http("GET", u + "/snapshot", t["viewer"])[0] == 200


def test_failed_authentication_is_rate_limited(svc: Service) -> None:
    u = svc.url + API + "/whoami"
    codes = [http("GET", u, token=f"osc_wrong{i}")[0] for i in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    # even a good token waits: the address is blocked, not the token
    assert http("GET", u, token=svc.tokens["viewer"])[0] == 429  # type: ignore[attr-defined]
    assert http("GET", svc.url + "/healthz")[0] == 200  # outside /api: no token, no limit


def test_no_token_or_secret_reaches_logs_audit_or_metrics(svc: Service, tmp_path: Path) -> None:
    t = svc.tokens  # type: ignore[attr-defined]
    secrets = [p.read_text().strip() for p in t.values()] + ["private"]  # + write community
    r = svc.cli("duty", "set", "row-a", "idle", "--yes", token=t["operator"])
    assert r.returncode == 0, r.stdout + r.stderr
    bad = svc.cli("audit", token=tmp_path / "missing.token")
    assert bad.returncode == 2 and "cannot read the token file" in bad.stderr
    _, metrics = http("GET", svc.url + "/metrics")
    assert "opsconsole_hashrate_ths" in metrics
    audit = svc.cli("audit", "--format", "json", token=t["viewer"])
    tokens_file = (svc.data_dir / "tokens.json").read_text()
    svc.stop()
    for secret in secrets:
        for where, text in (("serve log", svc.log), ("cli", r.stdout + r.stderr),
                            ("metrics", metrics), ("audit", audit.stdout),
                            ("tokens.json", tokens_file)):
            assert secret not in text, f"a secret reached the {where}"
    recs = json.loads(audit.stdout)["records"]
    assert recs[-1]["user"] == "operator-user" and recs[-1]["host"] == "127.0.0.1"


def test_listen_rules(sim_site, tmp_path: Path) -> None:
    from tests.test_duty_support import cli

    cfg = sim_site.config_path
    r = cli("serve", "--config", cfg, "--data-dir", tmp_path, "--listen", "10.255.0.1:8470")
    assert r.returncode == 2 and "not loopback" in r.stderr and "--insecure-http" in r.stderr
    r = cli("serve", "--config", cfg, "--data-dir", tmp_path, "--listen", "127.0.0.1:8470",
            "--tls-cert", tmp_path / "none.pem")
    assert r.returncode == 2 and "go together" in r.stderr
    r = cli("serve", "--config", cfg, "--data-dir", tmp_path, "--listen", "somehost:1")
    assert r.returncode == 2 and "IP address" in r.stderr
    svc = Service(cfg, tmp_path / "d", "--insecure-http").start()
    try:
        assert http("GET", svc.url + "/healthz")[0] == 200
    finally:
        svc.stop()
    assert "WARNING" in svc.log and "--insecure-http" in svc.log
    again = Service(cfg, tmp_path / "d", "--insecure-http").start()
    again.stop()
    assert "--insecure-http" in again.log  # at every start


def test_tls(sim_site, tmp_path: Path) -> None:
    self_signed(tmp_path)
    svc = Service(sim_site.config_path, tmp_path / "d", "--tls-cert", str(tmp_path / "cert.pem"),
                  "--tls-key", str(tmp_path / "key.pem"), scheme="https")
    tok = svc.token("v", "viewer", tmp_path)
    svc.start()
    try:
        assert "https://127.0.0.1" in svc.log
        trusted = svc.cli("poll", "--once", "--format", "json", token=tok,
                          env={**svc.env, "SSL_CERT_FILE": str(tmp_path / "cert.pem")})
        assert trusted.returncode == 0, trusted.stderr
        assert json.loads(trusted.stdout)["site"] == "Simulated site"
        untrusted = svc.cli("poll", "--once", token=tok)
        assert untrusted.returncode == 1 and "cannot reach" in untrusted.stderr
        assert "not trusted" in untrusted.stderr and "--ca-file" in untrusted.stderr
        assert tok.read_text().strip() not in untrusted.stderr
    finally:
        svc.stop()


def test_metrics_and_health_need_no_token(svc: Service) -> None:
    t0 = time.monotonic()
    while http("GET", svc.url + "/healthz")[1]["cycles"] < 1:
        assert time.monotonic() - t0 < 120
        time.sleep(0.2)
    st, text = http("GET", svc.url + "/metrics")
    assert st == 200 and 'opsconsole_hashrate_ths{device="a-01"' in text
    assert "opsconsole_poll_cycle_seconds" in text
