"""A site of thousands of groups starts like any other: the console's strip
builds MAX_TILES tiles and finds the rest by id or name; the wall's totals
page gives its tiles to the groups in trouble first and counts the rest. And
the console reads its site file off the GUI thread: the window draws first."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from opsconsole.core.readings import Status
from opsconsole.core.site import Group
from opsconsole.ui.views import tiles as tiles_mod
from opsconsole.ui.wall import totals_page
from opsconsole.ui.wall.totals_page import TotalsPage
from opsconsole.ui.wall.window import WallWindow
from tests.ui.fakes import make_batch, make_site
from tests.ui.wall_support import RuntimeLog


def many_groups(n: int):
    """n groups of one miner each (check-config accepts any number)."""
    base = make_site(rows=1, miners_per_row=n, gpus=0)
    groups = tuple(Group(f"g{k:04d}", f"Group {k}", "mining",
                         (replace(d, group=f"g{k:04d}"),))
                   for k, d in enumerate(base.groups[0].devices))
    return replace(base, groups=groups)


def test_console_strip_is_capped_and_finds_the_rest(qtbot, window, monkeypatch):
    monkeypatch.setattr(tiles_mod, "MAX_TILES", 20)
    site = many_groups(50)
    window.start_site(site, source="fake")
    with qtbot.waitSignal(window.first_data, timeout=10000):
        pass
    strip = window.console.tiles
    assert len(strip.tiles) == 21  # the site tile and 20 groups
    assert strip.more is not None and "+30 more groups" in strip.more.label.text()
    with qtbot.waitSignal(strip.group_selected, timeout=2000) as sig:
        strip.more.find.setText("Group 42")  # a name typed as the completer shows it
        strip.more._pick("g0042 — Group 42")
    assert sig.args == ["g0042"]
    assert strip.selected == "g0042" and strip.more.find.text() == "g0042"
    assert window.console.devices.proxy.rowCount() == 1  # the views follow the selection
    strip.select(None)
    assert strip.more.find.text() == ""


def test_wall_tiles_go_to_groups_in_trouble_first(qtbot, monkeypatch):
    monkeypatch.setattr(totals_page, "MAX_TILES", 10)
    runtimes = RuntimeLog()
    win = WallWindow(runtime_factory=runtimes)
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    site = many_groups(30)
    win.open_site(site)
    qtbot.waitUntil(lambda: win.session is not None, timeout=5000)
    totals = next(p for p in win.pages if isinstance(p, TotalsPage))
    assert len(totals.slots) == 9 and totals.more is not None
    # g0025's miner stops answering: its group takes a tile from a healthy one
    down = {site.groups[25].devices[0].id: Status.UNREACHABLE}
    before = win.session.readings_in
    runtimes.last.push(make_batch(site, overrides=down))
    qtbot.waitUntil(lambda: win.session.readings_in > before, timeout=5000)
    totals.refresh()
    assert "g0025" in totals.tiles
    assert list(totals.tiles)[-1] == "g0025", "tiles stay in file order"
    assert totals.tiles["g0025"].ok.value.text() == "0/1"
    assert totals.more.title.text() == "+21 more groups"
    assert totals.more.ok.value.text() == "21/21"
    win.close()


def test_console_reads_the_site_file_off_the_gui_thread(qtbot, window, tmp_path: Path):
    path = tmp_path / "site.toml"
    path.write_text('[site]\nname = "Bad"\npoll_interval_s = -5\n')
    window.open_file_in_background(path)
    assert window.stack.currentWidget() is window.starting  # drawn before the file is read
    assert "Reading" in window.starting.label.text()
    qtbot.waitUntil(lambda: window.dialog is not None and window.dialog.isVisible(),
                    timeout=10000)
    assert any("poll_interval_s" in line for line in window.dialog.lines)
    assert window.bridge is None
    window.dialog.close()
