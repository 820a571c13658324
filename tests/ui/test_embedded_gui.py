"""The embedded default (ui/embedded.py, service/embedded.py): a site file
or the demo runs in a real `opsconsole serve` child on loopback; the token
travels on its stdin (never argv); a second window of the same site uses the
running service (discovery file, 0600); the child stops with the GUI, even
one killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

from opsconsole.service.embedded import DISCOVERY, read_discovery
from opsconsole.sim.site import SimSite
from opsconsole.ui.embedded import EmbeddedRuntime
from opsconsole.ui.main_window import MainWindow, load_site_file
from opsconsole.ui.settings import Settings
from tests.test_duty_support import ROOT


def gone(pid: int) -> bool:
    """No such process, or a zombie nobody reaped yet."""
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def test_console_runs_the_site_in_a_child_service_and_a_second_window_joins_it(
        qtbot, sim_site: SimSite, tmp_path: Path) -> None:
    data = tmp_path / "data"
    win = _join(qtbot, sim_site, data)
    runtime = win.bridge.runtime
    assert isinstance(runtime, EmbeddedRuntime) and not runtime.adopted
    proc = runtime.proc
    assert proc is not None and proc.poll() is None
    assert win.session.replica and win.session.history is None  # the child writes history
    assert not [t.name for t in threading.enumerate() if t.name == "collector"]
    # the token: on stdin, never on the command line `ps` shows
    argv = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode().split("\0")
    assert runtime._token and runtime._token not in " ".join(argv)
    assert "--session-token-stdin" in argv
    # the discovery file: private, names the child and where it listens
    disc = data / DISCOVERY
    assert stat.S_IMODE(disc.stat().st_mode) == 0o600
    doc = read_discovery(data)
    assert doc is not None and doc["pid"] == proc.pid and doc["url"] == runtime.url
    # a second window of the same site joins it rather than polling twice
    win2 = _join(qtbot, sim_site, data)
    r2 = win2.bridge.runtime
    assert isinstance(r2, EmbeddedRuntime) and r2.adopted and r2.proc is None
    assert r2.url == runtime.url
    win2.close_site()
    assert proc.poll() is None  # the second window's exit leaves the service alone
    win.close_site()
    assert proc.returncode == 0  # stopped cleanly when the first window closed
    assert not disc.exists()


def test_the_child_stops_when_the_gui_is_killed(sim_site: SimSite, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OPSCONSOLE_EMBEDDED": "1"}
    gui = subprocess.Popen([sys.executable, "-m", "opsconsole", "--config",
                            str(sim_site.config_path), "--data-dir", str(data)],
                           cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        child = None
        for _ in range(1200):  # a hang guard of 120 s, never a speed check
            doc = read_discovery(data)
            if doc is not None:
                child = doc["pid"]
                break
            assert gui.poll() is None, "the GUI exited"
            threading.Event().wait(0.1)
        assert child is not None and not gone(child)
        gui.send_signal(signal.SIGKILL)
        gui.wait(30)
        for _ in range(600):
            if gone(child):
                break
            threading.Event().wait(0.1)
        assert gone(child), "the service outlived the GUI"
    finally:
        if gui.poll() is None:
            gui.kill()
            gui.wait(30)


def test_serve_reads_its_token_from_stdin_and_stops_when_stdin_ends(
        sim_site: SimSite, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "opsconsole", "serve", "--config",
                             str(sim_site.config_path), "--data-dir", str(tmp_path / "d"),
                             "--listen", "127.0.0.1:0", "--session-token-stdin"],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("osc_test-session-token\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    url = json.loads(line)["url"]
    assert url.startswith("http://127.0.0.1:")
    from tests.service.conftest import http
    assert http("GET", url + "/api/v1/whoami", "osc_test-session-token")[1]["role"] == "operator"
    assert http("GET", url + "/api/v1/whoami", "osc_wrong")[0] == 401
    proc.stdin.close()
    assert proc.wait(60) == 0
    assert "osc_test-session-token" not in proc.stderr.read()  # never logged


def test_the_wall_starts_a_new_service_when_its_child_dies(
        qtbot, sim_site: SimSite, tmp_path: Path) -> None:
    from opsconsole.ui.wall.window import WallWindow

    site = load_site_file(sim_site.config_path)
    wall = WallWindow(data_dir=tmp_path / "data", rotate_s=3600)
    wall.embedded = True
    qtbot.addWidget(wall)
    wall.open_site(site)
    with qtbot.waitSignal(wall.first_data):
        pass
    first = wall.bridge.runtime
    assert isinstance(first, EmbeddedRuntime) and first.proc is not None
    pid = first.proc.pid
    first.proc.send_signal(signal.SIGKILL)
    qtbot.waitUntil(lambda: wall.restarts >= 1 and wall.bridge is not None
                    and isinstance(wall.bridge.runtime, EmbeddedRuntime)
                    and wall.bridge.runtime.proc is not None
                    and wall.bridge.runtime.proc.pid != pid, timeout=60_000)
    qtbot.waitUntil(lambda: wall.bridge.runtime.runner is not None
                    and wall.bridge.runtime.runner.connects >= 1, timeout=60_000)
    wall.close_site()


def _join(qtbot, sim_site: SimSite, data: Path) -> MainWindow:
    """A window on the site with the embedded service on: it starts the child
    service, or joins the one already serving `data`."""
    win = MainWindow(Settings(), data_dir=data)
    win.embedded = True
    qtbot.addWidget(win)
    win.open_file(sim_site.config_path, load_site_file(sim_site.config_path))
    with qtbot.waitSignal(win.first_data):
        pass
    return win


def _keeps_drawing(qtbot, win: MainWindow) -> None:
    n = win.session.readings_in
    qtbot.waitUntil(lambda: win.session.readings_in > n)
    assert win.replica is not None and win.replica.connected


def test_a_joined_window_keeps_the_service_when_the_starter_closes(
        qtbot, sim_site: SimSite, tmp_path: Path) -> None:
    data = tmp_path / "data"
    starter = _join(qtbot, sim_site, data)
    first = starter.bridge.runtime
    proc = first.proc
    assert proc is not None and not first.adopted
    joined = _join(qtbot, sim_site, data)
    assert joined.bridge.runtime.adopted
    starter.close_site()  # returns without waiting the service out: it is the joiner's now
    assert first.detached.is_set() and proc.poll() is None
    _keeps_drawing(qtbot, joined)
    assert read_discovery(data) is not None  # a third window still finds it
    assert (data / "service.log").exists()  # its log, now that no terminal carries it
    joined.close_site()
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=120000)
    assert proc.returncode == 0 and not (data / DISCOVERY).exists()


def test_a_joined_window_keeps_the_service_when_the_starter_is_killed(
        qtbot, sim_site: SimSite, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("OPSCONSOLE_EMBEDDED", None)  # the default: a child service
    gui = subprocess.Popen([sys.executable, "-m", "opsconsole", "--config",
                            str(sim_site.config_path), "--data-dir", str(data)],
                           cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        qtbot.waitUntil(lambda: read_discovery(data) is not None, timeout=120000)
        child = read_discovery(data)["pid"]  # type: ignore[index]
        joined = _join(qtbot, sim_site, data)
        assert joined.bridge.runtime.adopted
        gui.send_signal(signal.SIGKILL)
        gui.wait(30)
        qtbot.wait(4000)  # past the service's grace for its starter's stream
        assert not gone(child), "the service left the joined window when its starter died"
        _keeps_drawing(qtbot, joined)
        joined.close_site()
        qtbot.waitUntil(lambda: gone(child), timeout=120000)
    finally:
        if gui.poll() is None:
            gui.kill()
            gui.wait(30)


def test_a_corrupt_journal_leaves_the_embedded_window_on_its_site_with_a_banner(
        qtbot, sim_site: SimSite, tmp_path: Path) -> None:
    from tests.ui.test_fault_banner import corrupt

    data = tmp_path / "data"
    corrupt(data, "duty.sqlite")
    win = _join(qtbot, sim_site, data)  # the child starts despite the journal, and polls
    assert isinstance(win.bridge.runtime, EmbeddedRuntime) and not win.bridge.runtime.adopted
    banner = win.fault_banner
    qtbot.waitUntil(lambda: not banner.isHidden() and bool(banner.faults))
    assert str(data / "duty.sqlite") in banner.text()
    assert "Duty switching is off" in banner.text()
    assert all(t.badge.text() == "DUTY ?" for gid, t in win.console.tiles.tiles.items()
               if gid in {g.id for g in win.session.site.groups})
    _keeps_drawing(qtbot, win)
    win.close_site()
