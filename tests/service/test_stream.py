"""The push stream against a real service: a snapshot first, then deltas and
duty progress; a client that stops reading gets a fresh snapshot after its
queue overflowed, and never slows polling (counted in poll cycles)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsconsole.client import SiteClient
from opsconsole.sim.site import SimSite
from tests.service.conftest import http
from tests.service.support import Service, interval


def health(svc: Service) -> dict:
    st, doc = http("GET", svc.url + "/healthz")
    assert st == 200
    return doc


def test_snapshot_first_then_deltas_and_duty_progress(svc: Service) -> None:
    token = svc.tokens["viewer"].read_text().strip()  # type: ignore[attr-defined]

    async def go() -> list[dict]:
        seen: list[dict] = []
        async with SiteClient(svc.url, token) as client:
            async for msg in client.stream():
                seen.append(msg)
                if len(seen) == 3:  # now switch a group from another client
                    proc = await asyncio.create_subprocess_exec(
                        *cli_args(svc, "duty", "set", "row-a", "idle", "--yes"),
                        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
                    await proc.wait()
                    assert proc.returncode == 0
                if any(m["type"] == "groups" and any(
                        g["group"] == "row-a" and g["duty"] == "idle" and g["status"] == "ok"
                        for g in m["groups"]) for m in seen[3:]):
                    return seen
        raise AssertionError("the stream ended")

    seen = asyncio.run(asyncio.wait_for(go(), 300))
    first = seen[0]
    assert first["type"] == "snapshot" and first["role"] == "viewer"
    assert {d["id"] for d in first["poll"]["devices"]} >= {"a-01", "a-06", "pdu-a1", "gpu-1"}
    assert {g["group"] for g in first["duty"]} == {"row-a", "gpu-a"}
    kinds = [m["type"] for m in seen]
    assert "readings" in kinds
    readings = next(m for m in seen if m["type"] == "readings")
    assert readings["devices"] and "metrics" in readings["devices"][0] and readings["totals"]
    duty = [m["event"] for m in seen if m["type"] == "duty"]
    assert [e["kind"] for e in duty][:2] == ["plan-start", "step-start"]
    assert duty[-1]["kind"] == "done" and duty[-1]["outcome"] == "done"
    seqs = [m["seq"] for m in seen[1:]]
    assert seqs == sorted(seqs)


def cli_args(svc: Service, *args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "opsconsole", *args, "--connect", svc.url, "--token-file",
            str(svc.tokens["operator"])]  # type: ignore[attr-defined]


@pytest.fixture
def busy_svc(sim_site_factory, tmp_path: Path) -> Iterator[Service]:
    """100 miners polled every 0.5 s, stream queues of 8 messages."""
    site: SimSite = sim_site_factory(miners=100, gpus=2)
    cfg = interval(site.config_path, tmp_path / "site.toml", 0.5)
    svc = Service(cfg, tmp_path / "data", env={"OPSCONSOLE_STREAM_QUEUE": "8"})
    svc.tokens = {"viewer": svc.token("wall", "viewer", tmp_path)}  # type: ignore[attr-defined]
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


@pytest.mark.timeout(900)
def test_a_client_that_does_not_read_never_slows_polling(busy_svc: Service) -> None:
    svc = busy_svc
    token = svc.tokens["viewer"].read_text().strip()  # type: ignore[attr-defined]
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # a tiny window, then no reads
    slow.connect(("127.0.0.1", svc.port))
    key = base64.b64encode(os.urandom(16)).decode()
    slow.sendall((f"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += slow.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    try:
        t0 = time.monotonic()
        c0 = health(svc)["cycles"]
        while health(svc)["stream"]["overflows"] == 0:  # the slow client's queue overflows
            assert time.monotonic() - t0 < 600, "no overflow"
            time.sleep(0.5)
        c1 = health(svc)["cycles"]
        print(f"overflow after {time.monotonic() - t0:.1f} s, {c1 - c0} cycles")
        b1 = health(svc)["batches"]
        while health(svc)["cycles"] < c1 + 4:  # polling goes on at its pace
            assert time.monotonic() - t0 < 900, "polling stalled behind a slow client"
            time.sleep(0.25)
        assert health(svc)["batches"] > b1
        assert health(svc)["stream"]["clients"] == 1
        # a fast client meanwhile gets its snapshot at once
        st, doc = http("GET", svc.url + "/api/v1/snapshot", token=token)
        assert st == 200 and sum(d["kind"] == "miner" for d in doc["devices"]) == 100
        # when the slow client reads again, a fresh snapshot follows what it had missed
        slow.settimeout(60)
        got = b""
        while got.count(b'"type": "snapshot"') < 2:
            chunk = slow.recv(65536)
            assert chunk, "stream closed before the fresh snapshot"
            got += chunk
    finally:
        slow.close()
