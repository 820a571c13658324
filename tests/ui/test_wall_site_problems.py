"""The wall never goes black: a site file it cannot load (missing, invalid,
corrupt, none given) fills the screen with the file and its problems, the
wall keeps checking, and it starts by itself once the file is fixed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

from opsconsole.core.paths import default_site_file
from opsconsole.core.siteload import load_site
from opsconsole.ui.site_watch import SiteFileWatch
from opsconsole.ui.wall.problem_page import ZWSP
from opsconsole.ui.wall.window import WallWindow
from tests.ui.test_wall_screenshot import screen_file
from tests.ui.wall_support import RuntimeLog, one_miner_site

GOOD = one_miner_site("Fixed site")
BAD = GOOD.replace('duty = "mining"', 'duty = "sideways"').replace("16100", "99999")
CHECK_S = 0.1  # tests wait on counters and states, never on the clock


def page_text(win: WallWindow) -> str:
    p = win.problem_page
    texts = (w.text() for w in (p.title, p.file, p.note, p.lines, p.status, p.hint))
    return "\n".join(texts).replace(ZWSP, "")


@pytest.fixture
def wall(qtbot):
    runtimes = RuntimeLog()
    win = WallWindow(runtime_factory=runtimes, check_s=CHECK_S)
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    yield win, runtimes
    win.close()


@pytest.mark.parametrize(("content", "says"), [
    (None, "cannot read file"),
    (BAD.encode(), 'groups[0].duty'),
    (b"\xff\xfe\x00garbage\x00" * 50, "not UTF-8"),
    (b"[site\nname = ", "TOML syntax error"),
])
def test_broken_file_shows_the_page_then_starts_when_fixed(qtbot, wall, tmp_path, content, says):
    win, runtimes = wall
    path = tmp_path / "site.toml"
    if content is not None:
        path.write_bytes(content)
    win.open_file(path, load_site=load_site)
    qtbot.waitUntil(lambda: bool(win.problems), timeout=10_000)
    assert win.stack.currentWidget() is win.problem_page
    text = page_text(win)
    assert str(path) in text and says in text
    assert "starts by itself" in text
    assert not runtimes.made, "nothing polls a site that did not load"
    win.tick()
    assert not win.banner.isVisible(), "the page says it; no NO DATA banner on top"
    # unchanged: it keeps checking without loading again
    checks = win.watch.checks
    qtbot.waitUntil(lambda: win.watch.checks >= checks + 3, timeout=10_000)
    assert not runtimes.made and win.problems
    # fixed: the wall starts by itself
    path.write_text(GOOD)
    qtbot.waitUntil(lambda: win.session is not None, timeout=10_000)
    assert not win.problems
    assert win.stack.currentWidget() is win.pages[0]
    assert win.header.site.text() == "Fixed site"
    assert len(runtimes.made) == 1


def test_a_site_that_breaks_while_running_shows_the_page(qtbot, wall, tmp_path):
    win, runtimes = wall
    path = tmp_path / "site.toml"
    path.write_text(GOOD)
    win.open_file(path, load_site=load_site)
    qtbot.waitUntil(lambda: win.session is not None and win._bridge_up, timeout=10_000)
    path.write_text(BAD)
    runtimes.last.alive = False  # the collector died; its restart reads the file again
    win._restart_at = win.clock()
    win.tick()
    qtbot.waitUntil(lambda: bool(win.problems), timeout=10_000)
    assert win.stack.currentWidget() is win.problem_page
    win.rotator.next()  # page rotation never hides the problem page
    assert win.stack.currentWidget() is win.problem_page
    path.write_text(GOOD)
    qtbot.waitUntil(lambda: not win.problems and win._bridge_up, timeout=10_000)
    assert win.stack.currentWidget() in win.pages


def test_watch_loads_only_on_change(qtbot, tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(BAD)
    loads: list[Path] = []

    def counting_load(p: Path):
        loads.append(p)
        return load_site(p)

    watch = SiteFileWatch(path, counting_load, check_s=CHECK_S)
    got: list[object] = []
    watch.problems.connect(got.append)
    watch.loaded.connect(got.append)
    watch.load_now()
    qtbot.waitUntil(lambda: len(got) == 1, timeout=10_000)
    qtbot.waitUntil(lambda: watch.checks >= 5, timeout=10_000)
    assert len(loads) == 1, "an unchanged file is not parsed again"
    profiles = tmp_path / "profiles"
    profiles.mkdir()  # a profiles folder appearing can fix a site: load again
    qtbot.waitUntil(lambda: len(loads) == 2 and len(got) == 2, timeout=10_000)
    path.write_text(GOOD)
    qtbot.waitUntil(lambda: len(got) == 3 and not isinstance(got[-1], list), timeout=10_000)
    assert got[-1].name == "Fixed site"
    assert not watch.watching
    watch.close()


def _shot(tmp_path: Path, w: int, h: int, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    png = tmp_path / f"wall-{w}x{h}.png"
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={screen_file(tmp_path, w, h)}",
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_DATA_HOME": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-m", "opsconsole", "--wall", *args,
                           "--screenshot", str(png)],
                          env=env, capture_output=True, text=True, timeout=120)
    return proc, png


def _red_rows(png: Path) -> int:
    """Rows holding the page's red title (the theme's "bad")."""
    img = QImage(str(png))
    red = QColor("#ef5350").rgb()
    return sum(any(img.pixel(x, y) == red for x in range(0, img.width(), 3))
               for y in range(0, img.height() // 3))


@pytest.mark.parametrize(("w", "h"), [(1920, 1080), (3840, 2160)])
def test_screenshot_of_a_broken_site_is_the_problem_page(tmp_path, w, h):
    bad = tmp_path / "site.toml"
    bad.write_text(BAD)
    proc, png = _shot(tmp_path, w, h, "--config", str(bad))
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if str(bad) in ln]
    assert any("groups[0].duty" in ln for ln in lines)
    assert any("port 99999" in ln for ln in lines)
    assert "Traceback" not in proc.stderr
    img = QImage(str(png))
    assert (img.width(), img.height()) == (w, h)
    assert _red_rows(png) > h // 40, "the red title is on the page"


def test_wall_without_config_shows_the_default_file(tmp_path, monkeypatch):
    # the machine's own /etc/opsconsole/site.toml (a kiosk, a CI box with the .deb
    # installed) must not decide the test: the default path is pointed at tmp_path
    default = tmp_path / "etc" / "site.toml"
    monkeypatch.setenv("OPSCONSOLE_SITE_FILE", str(default))
    assert default_site_file() == default
    proc, png = _shot(tmp_path, 1920, 1080)
    assert proc.returncode == 2
    ours = [ln for ln in proc.stderr.splitlines() if "propagateSizeHints" not in ln]
    assert len(ours) == 1 and ours[0].startswith(f"{default}: "), ours
    assert "No such file" in ours[0]
    assert _red_rows(png) > 1080 // 40
