"""Start net-snmp's snmpd on loopback for benchmarks, with the overrides a
bench asks for (the launch and readiness helpers are the tests' own)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# the tests' agent helpers, one copy for both (benches run as scripts from bench/)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fixtures.ports import free_udp_port
from tests.fixtures.snmpd import SNMPD, stop_process, wait_until_answers

__all__ = ["Snmpd", "free_udp_port", "stop_process"]


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
        log = self.dir / "snmpd.log"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [SNMPD, "-f", "-Lo", "-C", "-c", str(self.dir / "snmpd.conf"),
                 "-p", str(self.dir / "pid"),
                 f"udp:{self.port}" if wildcard else f"udp:127.0.0.1:{self.port}"],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )
        try:
            wait_until_answers(self.proc, probe_host, self.port, community, 15.0, "snmpd", log)
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)
