"""Faults are seen, not whispered: a corrupt journal, history or alarm log
shows a persistent banner in the console and on the wall, naming the file
and what is off, with one log line each and no traceback."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from opsconsole.core.storage import HISTORY
from opsconsole.ui.wall.totals_page import TotalsPage
from opsconsole.ui.wall.window import WallWindow
from tests.ui.duty_support import open_wall, open_window, small_site
from tests.ui.windows import open_demo, shown_window

GARBAGE = b"this is not an SQLite database\x00\xff" * 64
FILES = {"duty.sqlite": "Duty switching is off", "history.sqlite": "History is not being",
         "alarms.sqlite": "Alarms are not being"}


def corrupt(data: Path, *names: str) -> None:
    data.mkdir(parents=True, exist_ok=True)
    for name in names:
        (data / name).write_bytes(GARBAGE)


def storage_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "opsconsole.core.storage"]


@pytest.mark.parametrize("broken", [("duty.sqlite",), ("history.sqlite",), ("alarms.sqlite",),
                                    tuple(FILES)])
def test_console_banner_names_each_broken_file(qtbot, settings, tmp_path, caplog, broken):
    data = tmp_path / "data"
    corrupt(data, *broken)
    caplog.set_level(logging.WARNING)
    win = MainWindowFor(qtbot, settings, data, journal_ok="duty.sqlite" not in broken)
    banner = win.fault_banner
    qtbot.waitUntil(lambda: banner.isVisible() and len(banner.faults) == len(broken),
                    timeout=10000)
    text = banner.text()
    for name in broken:
        assert str(data / name) in text and FILES[name] in text, text
        assert "corrupt" in text
    for name in set(FILES) - set(broken):
        assert str(data / name) not in text
    if "alarms.sqlite" in broken and "history.sqlite" not in broken:
        assert win.session.history is not None, "a corrupt alarm log keeps history on"
    records = storage_records(caplog)
    assert len(records) == len(broken), [r.getMessage() for r in records]
    assert all(r.exc_info is None for r in caplog.records), "no traceback in the log"
    qtbot.wait(1500)  # the banner stays: it is no 5-second status message
    assert banner.isVisible()
    win.close()


def MainWindowFor(qtbot, settings, data: Path, journal_ok: bool):
    """The demo on `data`; open_window waits for the journal only when it can answer."""
    if journal_ok:
        return open_window(qtbot, settings, data)
    win = open_demo(qtbot, shown_window(qtbot, settings, data_dir=data, demo_factory=small_site))
    assert win.duty is None  # no switching on a journal that cannot be read
    return win


def test_a_fault_reported_from_another_thread_reaches_the_banner(qtbot, settings, tmp_path):
    win = open_window(qtbot, settings, tmp_path / "data")
    banner = win.fault_banner
    assert not banner.isVisible()
    faults = win.session.storage_faults
    # the history writer reports from its own thread
    t = threading.Thread(target=faults.report,
                         args=(tmp_path / "data" / "history.sqlite", HISTORY, "the disk is full"))
    t.start()
    t.join()
    qtbot.waitUntil(banner.isVisible, timeout=5000)
    assert "history.sqlite: the disk is full" in banner.text()
    faults.clear(HISTORY)
    qtbot.waitUntil(lambda: not banner.isVisible(), timeout=5000)
    win.close()


def test_wall_banner_names_a_corrupt_journal_and_clears_when_fixed(qtbot, tmp_path, caplog):
    data = tmp_path / "data"
    corrupt(data, "duty.sqlite")
    caplog.set_level(logging.WARNING)
    win = open_wall(qtbot, data)
    qtbot.waitUntil(win.faults.isVisible, timeout=10000)
    assert str(data / "duty.sqlite") in win.faults.text()
    assert "Duty switching is off" in win.faults.text()
    totals = next(p for p in win.pages if isinstance(p, TotalsPage))
    totals.refresh()
    assert totals.tiles["row-a"].duty.text() == "DUTY ?", "no duty made up from the site file"
    assert len(storage_records(caplog)) == 1
    assert all(r.exc_info is None for r in caplog.records)
    (data / "duty.sqlite").unlink()  # fixed: the wall asks the journal again by itself
    qtbot.waitUntil(lambda: not win.faults.isVisible(), timeout=20000)
    qtbot.waitUntil(lambda: totals.duties.get("row-a") == "mining", timeout=20000)
    win.close()


def test_wall_warns_when_its_site_has_two_data_dirs(qtbot, tmp_path):
    from opsconsole.core.datadir import resolve_data_dir
    from opsconsole.core.duty import Journal
    from opsconsole.core.siteload import load_site
    from tests.ui.test_wall_site_problems import GOOD
    from tests.ui.wall_support import RuntimeLog

    path = tmp_path / "site.toml"
    path.write_text(GOOD)
    first = tmp_path / "first"
    resolve_data_dir(load_site(path), first)  # a console ran with --data-dir first
    Journal.in_dir(first).close()
    win = WallWindow(data_dir=tmp_path / "second", runtime_factory=RuntimeLog())
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    win.open_file(path, load_site=load_site)
    qtbot.waitUntil(lambda: win.session is not None, timeout=10000)
    assert win.dir_warning.isVisible()
    text = win.dir_warning.text()
    assert str(first) in text and str(tmp_path / "second") in text
    win.close()


def test_history_window_on_a_corrupt_history_says_so(qtbot, settings, tmp_path, caplog):
    from opsconsole.ui import services

    data = tmp_path / "data"
    corrupt(data, "history.sqlite")
    caplog.set_level(logging.WARNING)
    win = open_window(qtbot, settings, data)
    dlg = services.open_history(win)  # used to raise sqlite3.DatabaseError into Qt
    qtbot.waitUntil(lambda: dlg.answered == dlg.asked, timeout=60_000)  # read off the GUI thread
    assert str(data / "history.sqlite") in dlg.info.text()
    assert "corrupt" in dlg.info.text()
    assert "History is not being recorded" in win.fault_banner.text()
    assert len(storage_records(caplog)) == 1, "said once, not again by the window"
    assert all(r.exc_info is None for r in caplog.records)
    dlg.close()
    win.close()
