"""Start net-snmp's snmpd on loopback for benchmarks (tests use their own fixture)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SNMPD = shutil.which("snmpd") or "/usr/sbin/snmpd"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate, then kill if it lingers: benches never leave agents behind."""
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


class Snmpd:
    """snmpd -f on 127.0.0.1:port with a read community and some overrides."""

    def __init__(self, overrides: dict[str, tuple[str, str]] | None = None,
                 community: str = "public", *, sources: str = "127.0.0.1",
                 wildcard: bool = False, probe_host: str = "127.0.0.1"):
        """`wildcard`: listen on udp:PORT (every address), so that one socket
        answers a whole 127.x range of simulated devices; `sources` still
        limits who is answered (loopback only)."""
        self.port = free_udp_port()
        self.probe_host = probe_host
        self.dir = Path(tempfile.mkdtemp(prefix="opsconsole-bench-snmpd-"))
        lines = [f"rocommunity {community} {sources}"]
        for oid, (typ, val) in (overrides or {}).items():
            lines.append(f"override {oid} {typ} {val}")
        (self.dir / "snmpd.conf").write_text("\n".join(lines) + "\n")
        env = dict(os.environ, SNMP_PERSISTENT_DIR=str(self.dir / "persist"), MIBS="")
        self.proc = subprocess.Popen(
            [SNMPD, "-f", "-Lo", "-C", "-c", str(self.dir / "snmpd.conf"),
             "-p", str(self.dir / "pid"),
             f"udp:{self.port}" if wildcard else f"udp:127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            r = subprocess.run(["snmpget", "-v2c", "-c", "public", "-t", "0.3", "-r", "0",
                                f"{self.probe_host}:{self.port}", "1.3.6.1.2.1.1.3.0"],
                               capture_output=True, text=True)
            if r.returncode == 0:
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("snmpd did not answer within 15 s")

    def stop(self) -> None:
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)
