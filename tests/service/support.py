"""A real `opsconsole serve` process on a free loopback port, against a real
simulated site, and helpers to talk to it (no tests here)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from opsconsole.service.tokens import TokenBook
from tests.fixtures.ports import free_tcp_port
from tests.test_duty_support import ROOT, cli


class Service:
    """`opsconsole serve` in a subprocess; its stderr is collected in `log`."""

    def __init__(self, config: Path, data_dir: Path, *extra: str,
                 env: dict[str, str] | None = None, scheme: str = "http") -> None:
        self.config, self.data_dir, self.extra = Path(config), Path(data_dir), extra
        self.env = {**os.environ, **(env or {})}
        self.port = free_tcp_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self._reader: threading.Thread | None = None

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def start(self, wait_s: float = 60.0) -> Service:
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "opsconsole", "serve", "--config", str(self.config),
             "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}",
             *self.extra],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, env=self.env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        t0 = time.monotonic()
        while "opsconsole serve: site" not in self.log:
            if self.proc.poll() is not None:
                self._reader.join(5)
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.log}")
            if time.monotonic() - t0 > wait_s:
                raise AssertionError(f"serve did not start: {self.log}")
            time.sleep(0.05)
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(10)
        if self._reader is not None:
            self._reader.join(5)
        self.proc = None
        return rc

    def token(self, name: str, role: str, tmp: Path) -> Path:
        """A token made by the real CLI, written to a file; its path."""
        r = cli("token", "create", name, "--role", role, "--config", self.config,
                "--data-dir", self.data_dir)
        assert r.returncode == 0, r.stderr
        token = r.stdout.strip()
        assert r.stdout == token + "\n" and token.startswith("osc_")  # alone on stdout
        path = tmp / f"{name}.token"
        path.write_text(token + "\n")
        return path

    def cli(self, *args: Any, token: Path | None = None, **kw: Any
            ) -> subprocess.CompletedProcess[str]:
        extra = ["--connect", self.url] + (["--token-file", str(token)] if token else [])
        return cli(*args, *extra, **kw)


def book(data_dir: Path) -> TokenBook:
    return TokenBook(data_dir)


def interval(config: Path, dst: Path, seconds: float, extra_site: str = "") -> Path:
    """A copy of a generated site file polling every `seconds`."""
    text = config.read_text()
    assert "poll_interval_s = 10" in text
    dst.write_text(text.replace("poll_interval_s = 10",
                                f"poll_interval_s = {seconds:g}{extra_site}", 1))
    return dst


WARM_RULE = """
[[alarms.rules]]
name = "warm"
metric = "temp_c"
op = ">"
value = 1
hold_s = 0
kind = "miner"
"""


def warm_service(config: Path, tmp_path: Path, operator: str) -> tuple[Service, Path, Path]:
    """A service (not started) polling `config`'s site every second with the
    rule "warm" (any miner above 1 °C) on, and its operator and viewer token files."""
    cfg = interval(config, tmp_path / "site.toml", 1)
    cfg.write_text(cfg.read_text() + WARM_RULE)
    svc = Service(cfg, tmp_path / "data")
    return svc, svc.token(operator, "operator", tmp_path), svc.token("wall", "viewer", tmp_path)


def warm_alarms(svc: Service, token: Path) -> list[dict]:
    """The service's "warm" alarms on a-01."""
    from tests.service.conftest import http  # the conftest imports this module

    st, doc = http("GET", svc.url + "/api/v1/alarms", token=token)
    assert st == 200
    return [a for a in doc["alarms"] if a["device"] == "a-01" and a["key"] == "rule:warm"]


def wait_for(what: str, fn, limit_s: float = 300.0):
    """fn()'s first truthy answer (asked every 0.3 s); fails after `limit_s`."""
    t0 = time.monotonic()
    while not (got := fn()):
        assert time.monotonic() - t0 < limit_s, f"waited in vain for {what}"
        time.sleep(0.3)
    return got


__all__ = ["WARM_RULE", "Service", "book", "interval", "signal", "wait_for", "warm_alarms",
           "warm_service"]
