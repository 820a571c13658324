"""The wall window: read-only to the bone, the stale banner, riding out a
lost data source, rotation and pinning."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QMenu,
    QMenuBar,
    QPlainTextEdit,
    QScrollBar,
    QTextEdit,
    QWidget,
)

from opsconsole.core.duty.controller import READ_ONLY, REFUSED
from opsconsole.core.readings import Status
from opsconsole.core.wallconfig import WallConfig
from opsconsole.ui.duty import client as duty_client
from opsconsole.ui.wall.window import WallWindow
from tests.ui.duty_support import open_wall
from tests.ui.fakes import make_batch, make_site
from tests.ui.wall_support import FakeClock, RuntimeLog

CONTROLS = (QAbstractButton, QComboBox, QLineEdit, QMenuBar, QMenu, QAbstractSpinBox,
            QAbstractSlider, QTextEdit, QPlainTextEdit, QAbstractItemView)


def _builtin_hidden_scrollbar(w: QWidget) -> bool:
    """The one justified exception: a QGraphicsView (the charts' canvas) always
    owns two scroll bars; pyqtgraph turns them off, and they never show."""
    area = w.parent().parent() if w.parent() is not None else None
    return (isinstance(w, QScrollBar) and isinstance(area, pg.GraphicsView)
            and not w.isVisible()
            and area.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
            and area.verticalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff)


def controls_in(widgets: list[QWidget]) -> list[str]:
    return [f"{type(w).__name__}({w.objectName()})" for w in widgets
            if isinstance(w, CONTROLS) and not _builtin_hidden_scrollbar(w)]


@pytest.fixture
def manual(qtbot):
    """A wall on a hand-driven runtime and a fake clock, 10 s poll interval."""
    clock, runtimes = FakeClock(), RuntimeLog()
    win = WallWindow(runtime_factory=runtimes, clock=clock, rotate_s=3)
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    site = make_site(interval=10.0)
    win.open_site(site)
    qtbot.waitUntil(lambda: win.session is not None, timeout=5000)
    yield win, clock, runtimes, site
    win.close()


def push(qtbot, win, runtimes, batch) -> None:
    before = win.session.readings_in
    runtimes.last.push(batch)
    qtbot.waitUntil(lambda: win.session.readings_in > before, timeout=3000)


def test_wall_constructs_no_control_and_its_controller_refuses(qtbot, tmp_path: Path,
                                                               monkeypatch):
    def no_client(*_a, **_k):
        raise AssertionError("the wall constructed the duty GUI's client")

    monkeypatch.setattr(duty_client.DutyClient, "__init__", no_client)
    win = open_wall(qtbot, tmp_path / "data")
    qtbot.waitUntil(lambda: win.duty_states is not None and bool(win.duty_states.badges),
                    timeout=10000)
    assert win.page_names == ["totals", "rackmap", "charts", "alarms"]
    for k in range(len(win.pages)):  # every page built and shown once
        win.rotator.show(k)
    # nothing to press, type into or choose, anywhere in the application
    assert controls_in(win.findChildren(QWidget)) == []
    assert controls_in(QApplication.allWidgets()) == []
    assert win.findChildren(QAction) == []
    assert not hasattr(win, "menuBar")
    # the controller itself refuses, whoever asks
    ctl = win.duty_states.controller
    assert ctl.read_only
    result = win.bridge.runtime.submit(ctl.switch("row-b", "idle")).result(timeout=20)
    assert result.outcome == REFUSED and result.message == READ_ONLY
    assert [a["outcome"] for a in ctl.audit()] == ["refused"]
    assert win.duty_states.badges["row-b"] == "mining"  # nothing moved
    win.close()


def test_stale_banner_appears_and_clears(qtbot, manual):
    win, clock, runtimes, site = manual
    push(qtbot, win, runtimes, make_batch(site, ts=clock.t))
    win.tick()
    assert not win.banner.isVisible()
    assert "now" in win.header.data_time.text()
    clock.t += 29  # under three 10 s intervals: still fresh
    win.tick()
    assert not win.banner.isVisible()
    clock.t += 2
    win.tick()
    assert win.banner.isVisible() and win.fresh.stale
    assert "STALE DATA" in win.banner.text() and "31.0 s ago" in win.banner.text()
    push(qtbot, win, runtimes, make_batch(site, ts=clock.t))
    win.tick()
    assert not win.banner.isVisible()
    # timeouts keep arriving, but no device answers: that is stale too
    down = {d.id: Status.UNREACHABLE for d in site.devices()}
    clock.t += 40
    push(qtbot, win, runtimes, make_batch(site, ts=clock.t, overrides=down))
    win.tick()
    assert win.banner.isVisible()
    assert "devices not answering" in win.banner.text()


def test_no_data_at_all_is_stale_after_three_intervals(qtbot, manual):
    win, clock, _runtimes, _site = manual
    win.tick()
    assert not win.banner.isVisible()
    clock.t += 31
    win.tick()
    assert win.banner.isVisible() and win.banner.text().startswith("NO DATA")


def test_wall_rides_out_a_dead_collector(qtbot, manual):
    win, clock, runtimes, site = manual
    push(qtbot, win, runtimes, make_batch(site, ts=clock.t))
    session = win.session
    runtimes.last.alive = False  # the collector thread died
    clock.t += 31
    win.tick()
    assert win.banner.isVisible()
    assert "collector down, retrying in 5 s" in win.banner.text()
    clock.t += 5
    win.tick()  # back-off over: a new runtime
    qtbot.waitUntil(lambda: len(runtimes.made) == 2 and runtimes.last.running, timeout=5000)
    qtbot.waitUntil(lambda: win._bridge_up, timeout=5000)
    assert win.session is session, "same devices: history and alarms carry on"
    push(qtbot, win, runtimes, make_batch(site, ts=clock.t))
    win.tick()
    assert not win.banner.isVisible()
    assert win.restarts == 1


def test_rotation_pin_and_keys(qtbot, manual):
    win, _clock, _runtimes, _site = manual
    r = win.rotator
    assert r.rotate_ms == 3000 and r.rotating
    assert win.current_page() == "totals"
    r.next()  # what the timer does
    assert win.current_page() == "rackmap"
    assert win.stack.currentWidget() is win.pages[1]
    assert win.header.page_labels[1].objectName() == "wallPageOn"
    qtbot.keyClick(win, Qt.Key.Key_P)
    assert r.pinned and not r.rotating and win.header.pin.text() == "PINNED"
    qtbot.keyClick(win, Qt.Key.Key_4)
    assert win.current_page() == "alarms" and r.pinned
    qtbot.keyClick(win, Qt.Key.Key_Right)
    assert win.current_page() == "totals"
    qtbot.keyClick(win, Qt.Key.Key_Left)
    assert win.current_page() == "alarms"
    qtbot.keyClick(win, Qt.Key.Key_Space)
    assert not r.pinned and r.rotating and win.header.pin.text() == ""


def test_rotation_runs_on_its_own(qtbot):
    runtimes = RuntimeLog()
    site = replace(make_site(interval=10.0),
                   wall=WallConfig(rotate_s=3, pages=("alarms", "totals")))
    win = WallWindow(runtime_factory=runtimes)
    qtbot.addWidget(win)
    win.show()
    win.open_site(site)
    qtbot.waitUntil(lambda: win.session is not None, timeout=5000)
    assert win.page_names == ["alarms", "totals"]
    win.rotator._timer.setInterval(50)  # the [wall] value is checked above; go faster
    win.rotator._timer.start()
    qtbot.waitUntil(lambda: win.current_page() == "totals", timeout=2000)
    qtbot.waitUntil(lambda: win.current_page() == "alarms", timeout=2000)
    win.close()


def test_alarms_page_lists_active_alarms(qtbot, manual):
    win, clock, runtimes, site = manual
    hot = {"a-01": 95.0, "b-02": 91.0}
    push(qtbot, win, runtimes, make_batch(site, ts=clock.t, temps=hot))
    page = win.pages[win.page_names.index("alarms")]
    win.rotator.show(win.page_names.index("alarms"))
    assert page.summary.text() == "2 active alarms on 2 devices"
    assert page.shown == 2
    assert page.rows[0][1].text().startswith("a-01")
    assert "95 °C" in page.rows[0][2].text()


def test_acknowledged_alarm_shows_who_and_sorts_last(qtbot, manual):
    win, clock, runtimes, site = manual
    hot = {"a-01": 95.0, "b-02": 91.0}
    push(qtbot, win, runtimes, make_batch(site, ts=clock.t, temps=hot))
    tracker = win.session.alarms
    a01 = next(a for a in tracker.alarms() if a.device == "a-01")
    acked, _events = tracker.acknowledge("a-01", a01.key, "night-op", "fan swap booked",
                                         clock.t)
    assert acked is not None
    page = win.pages[win.page_names.index("alarms")]
    win.rotator.show(win.page_names.index("alarms"))
    page.refresh()
    assert page.rows[0][1].text().startswith("b-02")  # still open: first
    assert page.rows[1][1].text().startswith("a-01")
    assert "ack night-op" in page.rows[1][2].text()
