"""A running site service over the simulated site, with one token per role."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsconsole.sim.site import SimSite
from tests.service.support import Service, interval


@pytest.fixture
def svc(sim_site: SimSite, tmp_path: Path) -> Iterator[Service]:
    cfg = interval(sim_site.config_path, tmp_path / "site.toml", 1)
    s = Service(cfg, tmp_path / "data")
    s.tokens = {role: s.token(role + "-user", role, tmp_path)  # type: ignore[attr-defined]
                for role in ("viewer", "operator", "admin")}
    s.start()
    try:
        yield s
    finally:
        s.stop()


def http(method: str, url: str, token: Path | str | None = None, body: Any = None,
         raw: bytes | None = None, timeout: float = 60) -> tuple[int, Any]:
    """One real HTTP request: (status, decoded JSON or text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                        else None)
    req = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        text = token.read_text().strip() if isinstance(token, Path) else token
        req.add_header("Authorization", f"Bearer {text}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, payload = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode()
