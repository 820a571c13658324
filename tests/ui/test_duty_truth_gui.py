"""One duty truth on screen: the console's tiles and the wall's pills show a
group's duty from the journal, never the site file's starting duty; before
the journal answers (or without one) they say the duty is unknown."""

from __future__ import annotations

from pathlib import Path

from opsconsole.core.duty import DONE, Journal, Plan
from opsconsole.ui.theme import UNKNOWN_DUTY
from opsconsole.ui.wall.totals_page import TotalsPage
from opsconsole.ui.wall.window import WallWindow
from tests.ui.duty_support import open_wall, open_window
from tests.ui.fakes import make_site
from tests.ui.wall_support import RuntimeLog


def switched_elsewhere(data_dir: Path) -> None:
    """row-b went mining -> idle in another process (the CLI, another console);
    the site file still says mining."""
    journal = Journal.in_dir(data_dir)
    sid = journal.begin(Plan("row-b", "mining", "idle"), "mining")
    assert isinstance(sid, int)
    journal.finish(sid, DONE, "switched by another process")
    journal.close()


def test_console_tiles_show_the_journals_duty(qtbot, settings, tmp_path):
    data = tmp_path / "data"
    switched_elsewhere(data)
    win = open_window(qtbot, settings, data)
    tiles = win.console.tiles
    assert win.session.site.group("row-b").duty == "mining"  # the site file's start
    qtbot.waitUntil(lambda: tiles.tiles["row-b"].badge.duty == "idle", timeout=10000)
    assert tiles.tiles["row-b"].badge.text() == "IDLE"
    assert tiles.tiles["row-a"].badge.text() == "MINING"  # never switched: the file's duty
    win.close()


def test_wall_pills_show_the_journals_duty(qtbot, tmp_path):
    data = tmp_path / "data"
    switched_elsewhere(data)
    win = open_wall(qtbot, data)
    totals = next(p for p in win.pages if isinstance(p, TotalsPage))
    qtbot.waitUntil(lambda: totals.duties.get("row-b") == "idle", timeout=10000)
    totals.refresh()
    assert totals.tiles["row-b"].duty.text() == "IDLE"
    assert totals.tiles["row-a"].duty.text() == "MINING"
    win.close()


def test_without_a_journal_the_duty_is_unknown_not_the_site_files(qtbot):
    runtimes = RuntimeLog()  # a runtime with no duty controller: no journal to ask
    win = WallWindow(runtime_factory=runtimes)
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    win.open_site(make_site())
    qtbot.waitUntil(lambda: win.session is not None, timeout=5000)
    totals = next(p for p in win.pages if isinstance(p, TotalsPage))
    totals.refresh()
    pill = totals.tiles["row-a"].duty
    assert pill.duty == UNKNOWN_DUTY and pill.text() == "DUTY ?"
    win.close()
