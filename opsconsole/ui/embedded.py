"""The embedded service (the default): `opsconsole --config FILE`,
`--demo` and `--wall` draw from a site service, started here as a child
process on loopback (`opsconsole serve --listen 127.0.0.1:0 --session-token-stdin`), unless this
user already runs one for the same site (its discovery file in the site's
data dir, opsconsole/service/embedded.py): then that one is used, and the
site is not polled twice.

The one-time token goes to the child on its stdin, never in argv or the
environment, and is never logged. stdin stays open: when this process ends,
however it ends, the pipe closes and the child stops (it watches for that),
unless other windows joined it: then it goes on for them and stops after the
last one (service/embedded.py), so a joined window keeps its site when the
window that started the service closes. `stop()` closes stdin, then waits
for the child to end or to say it goes on, and terminates it only if it does
neither. The child runs in its own session: a Ctrl-C in this terminal is
this window's, not the service's that other windows may be using.

This is the default (`OPSCONSOLE_EMBEDDED=0` or `--in-process`: poll in
this process instead, as before).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opsconsole.core.site import Site
from opsconsole.ui.remote import RemoteRuntime

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0  # a big site file takes a while to load in the child
STOP_WAIT_S = 15.0


def _relay(stream: Any, said: list[str], keep: int = 20) -> None:
    """The child's stderr, passed on to ours line by line (its log stays on
    the terminal), the last `keep` lines kept."""
    for line in stream:
        sys.stderr.write(line)
        said.append(line)
        del said[:-keep]


def _watch_stdout(stream: Any, detached: threading.Event) -> None:
    """The child's stdout after its URL line: `{"detached": true}` when it
    goes on for other windows after this one let go of it."""
    for line in stream:
        try:
            if json.loads(line).get("detached"):
                detached.set()
        except (ValueError, AttributeError):
            pass


class EmbeddedError(RuntimeError):
    """The child service did not start (one line)."""


def embedded_requested(in_process: bool = False) -> bool:
    """The default: the console and wall start (or join) a site service
    child. `--in-process`, OPSCONSOLE_EMBEDDED=0 or OPSCONSOLE_IN_PROCESS=1:
    they poll in their own process, as before the service existed."""
    return not (in_process or os.environ.get("OPSCONSOLE_EMBEDDED", "") == "0"
                or os.environ.get("OPSCONSOLE_IN_PROCESS", "") == "1")


def serve_argv() -> list[str]:
    """How to run `opsconsole serve` from this program: the frozen bundle is
    its own entry point (cli/main.py), a source tree runs the module."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "serve"]
    return [sys.executable, "-m", "opsconsole", "serve"]


def embedded_factory(*, demo: bool = False, data_dir: Path | None = None,
                     read_only: bool = False) -> Callable[..., EmbeddedRuntime]:
    """A runtime factory for CollectorBridge: the site (a loaded site file) comes
    from the bridge; with `demo` the child builds and runs the simulated site."""
    return functools.partial(EmbeddedRuntime, demo=demo, service_data_dir=data_dir,
                             service_read_only=read_only)


class EmbeddedRuntime(RemoteRuntime):
    def __init__(self, site: Site | None, on_batch: Callable[..., None],
                 on_cycle: Callable[..., None], *, demo: bool = False,
                 service_data_dir: Path | None = None, service_read_only: bool = False,
                 demo_site: Any = None, batch_interval_s: float = 0.5) -> None:
        super().__init__(site, on_batch, on_cycle, url="http://127.0.0.1", token="")
        self.file_site = site
        self.demo = demo
        self.service_data_dir = service_data_dir
        self.service_read_only = service_read_only
        self.proc: subprocess.Popen[str] | None = None
        self.detached = threading.Event()  # the child goes on for other windows

    def start(self) -> None:
        data_dir = self._data_dir()
        if not self.demo and self._adopt(data_dir):
            return
        token = secrets.token_urlsafe(32)
        self.url = self._spawn(token, data_dir)
        self._token = token
        try:
            super().start()
        except BaseException:
            self._stop_child()
            raise

    def _data_dir(self) -> Path:
        if self.service_data_dir is not None:
            return Path(self.service_data_dir)
        if self.demo:  # the simulator starts fresh every run, so does its journal
            return Path(tempfile.mkdtemp(prefix="opsconsole-demo-")) / "data"
        from opsconsole.core.datadir import resolve_data_dir

        assert self.file_site is not None
        return resolve_data_dir(self.file_site).path

    def _adopt(self, data_dir: Path) -> bool:
        from opsconsole.service.embedded import read_discovery

        doc = read_discovery(data_dir)
        if doc is None:
            return False
        self.url, self._token = doc["url"], doc["token"]
        try:
            RemoteRuntime.start(self)
        except Exception as exc:  # gone meanwhile, or not ours after all: start our own
            log.info("the site service in %s did not answer (%s); starting one", data_dir, exc)
            self.extras.clear()  # that attempt's link messages
            return False
        self.adopted = True
        log.info("using the site service already running for this site (pid %s)", doc["pid"])
        return True

    def _spawn(self, token: str, data_dir: Path) -> str:
        cmd = [*serve_argv(), "--listen", "127.0.0.1:0", "--session-token-stdin"]
        if self.demo or self.service_data_dir is not None:  # else the child resolves it too
            cmd += ["--data-dir", str(data_dir)]
        if self.demo:
            cmd.append("--demo")
        else:
            assert self.file_site is not None and self.file_site.path is not None
            cmd += ["--config", str(self.file_site.path)]
        if self.service_read_only:
            cmd.append("--read-only")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1,
                                     start_new_session=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        said: list[str] = []  # the child's last lines: a failed start names its reason
        threading.Thread(target=_relay, args=(self.proc.stderr, said), name="service-stderr",
                         daemon=True).start()
        self.proc.stdin.write(token + "\n")
        self.proc.stdin.flush()
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(self.proc.stdout.readline()),  # type: ignore[union-attr]
                                  name="service-start", daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_S)
        line = got[0] if got else ""
        try:
            url = json.loads(line)["url"]
        except (ValueError, KeyError, TypeError):
            rc = self._stop_child()
            why = next((ln for ln in reversed(said) if ln.strip()), "its messages are above")
            raise EmbeddedError(f"the site service did not start (exit {rc}): "
                                f"{why.strip().removeprefix('opsconsole: ')}") from None
        threading.Thread(target=_watch_stdout, args=(self.proc.stdout, self.detached),
                         name="service-stdout", daemon=True).start()
        log.info("site service started (pid %d) on %s", self.proc.pid, url)
        return str(url)

    @property
    def running(self) -> bool:
        """False once the child died (the wall's watchdog then starts a new one)."""
        return super().running and (self.proc is None or self.proc.poll() is None)

    def stop(self) -> None:
        super().stop()
        self._stop_child()

    def _stop_child(self) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # the child's signal to stop
        except OSError:
            pass
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline:
            try:
                return proc.wait(0.1)
            except subprocess.TimeoutExpired:
                if self.detached.is_set():  # other windows use it: theirs now
                    log.info("the site service (pid %d) goes on for the other windows "
                             "of this site", proc.pid)
                    threading.Thread(target=proc.wait, name="service-reaper",
                                     daemon=True).start()  # no zombie if it ends first
                    return None
        proc.terminate()
        try:
            return proc.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
