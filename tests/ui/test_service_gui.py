"""What the console shows of a real `opsconsole serve` on loopback beside its
readings: the History window reads the service's history over the API (on
the client's thread), and the service's storage faults (a corrupt journal:
the service runs on with switching off) are the same red banner and
"DUTY ?" tiles a console polling in its own process shows."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pytestqt.exceptions import TimeoutError

from opsconsole.core.history import SITE_KEY
from opsconsole.core.history.lookup import parse_when
from opsconsole.core.store import SITE
from opsconsole.sim.site import SimSite
from opsconsole.ui import services
from opsconsole.ui.main_window import MainWindow
from opsconsole.ui.settings import Settings
from opsconsole.ui.wall.totals_page import TotalsPage
from opsconsole.ui.wall.window import WallWindow
from tests.service.conftest import http
from tests.service.support import Service, interval
from tests.ui.test_fault_banner import corrupt


def start(sim_site: SimSite, tmp_path: Path, data: Path) -> Service:
    cfg = interval(sim_site.config_path, tmp_path / "site.toml", 1)
    svc = Service(cfg, data)
    svc.viewer = svc.token("viewer-user", "viewer", tmp_path)  # type: ignore[attr-defined]
    return svc.start()


@pytest.fixture
def svc(sim_site: SimSite, tmp_path: Path) -> Iterator[Service]:
    s = start(sim_site, tmp_path, tmp_path / "data")
    try:
        yield s
    finally:
        s.stop()


def console(qtbot, svc: Service, data_dir: Path | None = None) -> MainWindow:
    win = MainWindow(Settings(), data_dir=data_dir)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    win.open_remote(svc.url, svc.viewer.read_text().strip())  # type: ignore[attr-defined]
    with qtbot.waitSignal(win.first_data):
        pass
    return win


def service_points(svc: Service, target: str, metric: str) -> list[dict]:
    status, doc = http("GET", f"{svc.url}/api/v1/history?target={target}&metric={metric}"
                       "&since=1h", svc.viewer)  # type: ignore[attr-defined]
    assert status == 200, doc
    return doc["doc"]["points"]


def test_history_window_reads_the_services_history(qtbot, svc: Service) -> None:
    win = console(qtbot, svc)
    assert win.session.replica and win.session.history is None  # nothing recorded here
    qtbot.waitUntil(lambda: len(service_points(svc, "site", "power_w")) >= 2, timeout=30000)
    dlg = services.open_history(win)
    assert dlg is not None and dlg.fetch is not None
    dlg.select(SITE_KEY, "power_w")

    def drawn() -> bool:
        return (dlg.answered == dlg.asked and dlg.series is not None
                and dlg.series.metric == "power_w" and len(dlg.series) >= 2)
    with contextlib.suppress(TimeoutError):  # said below, with what the window shows
        qtbot.waitUntil(drawn, timeout=60000)
    assert drawn(), (dlg.asked, dlg.answered, dlg.info.text())
    assert "from the site service" in dlg.info.text()
    # the points drawn are the service's: same times and values as its answer
    points = service_points(svc, "site", "power_w")
    drawn = dict(zip(dlg.series.ts.tolist(), dlg.series.mean.tolist(), strict=True))
    from opsconsole.core.history.lookup import parse_when

    common = [p for p in points if parse_when(p["time"], 0) in drawn]
    assert len(common) >= 2
    assert all(np.isclose(drawn[parse_when(p["time"], 0)], p["mean"], equal_nan=True)
               for p in common), [(drawn[parse_when(p["time"], 0)], p) for p in common]
    # another target and metric: a new question, the answer for it only
    dlg.select(win.session.devices[0].id, "power_w")
    qtbot.waitUntil(lambda: dlg.answered == dlg.asked, timeout=30000)
    assert dlg.series.key == win.session.devices[0].id
    win.close()


def test_history_window_says_when_the_service_cannot_answer(qtbot, svc: Service) -> None:
    win = console(qtbot, svc)
    dlg = services.open_history(win)
    qtbot.waitUntil(lambda: dlg.answered == dlg.asked, timeout=30000)
    svc.stop()
    dlg.set_range("24 h")
    qtbot.waitUntil(lambda: "cannot be read from the site service" in dlg.info.text(),
                    timeout=60000)
    win.close()


def test_a_corrupt_journal_is_a_banner_not_a_dead_service(qtbot, sim_site: SimSite,
                                                            tmp_path: Path) -> None:
    data = tmp_path / "data"
    corrupt(data, "duty.sqlite")
    svc = start(sim_site, tmp_path, data)  # it starts: switching off, polling on
    try:
        status, doc = http("GET", svc.url + "/api/v1/duty/status", svc.viewer)  # type: ignore[attr-defined]
        assert status == 200 and doc["groups"] == []  # no duty made up
        win = console(qtbot, svc)
        banner = win.fault_banner
        qtbot.waitUntil(lambda: banner.isVisible() and bool(banner.faults), timeout=30000)
        text = banner.text()
        assert str(data / "duty.sqlite") in text and "Duty switching is off" in text, text
        assert "corrupt" in text
        tiles = win.console.tiles.tiles
        for g in win.session.site.groups:
            assert tiles[g.id].badge.text() == "DUTY ?"
        # the service keeps polling: readings arrive
        n = win.session.readings_in
        qtbot.waitUntil(lambda: win.session.readings_in > n, timeout=30000)
        win.close()
        # the wall says the same, and keeps saying it (its own duty poll clears nothing)
        wall = WallWindow(rotate_s=3600)
        qtbot.addWidget(wall)
        wall.open_remote(svc.url, svc.viewer.read_text().strip())  # type: ignore[attr-defined]
        with qtbot.waitSignal(wall.first_data):
            pass
        wall.resize(1280, 720)
        wall.show()
        qtbot.waitUntil(wall.faults.isVisible, timeout=30000)
        assert str(data / "duty.sqlite") in wall.faults.text()
        assert "Duty switching is off" in wall.faults.text()
        totals = next(p for p in wall.pages if isinstance(p, TotalsPage))
        qtbot.wait(6000)  # past a duty-state poll of the wall's
        totals.refresh()
        assert wall.faults.isVisible()
        assert all(t.duty.text() == "DUTY ?" for gid, t in totals.tiles.items()
                   if gid in {g.id for g in wall.session.site.groups})
        wall.close_site()
        assert "duty.sqlite" in svc.log and "Traceback" not in svc.log
    finally:
        svc.stop()


def test_a_service_with_another_data_dir_is_said(qtbot, svc: Service, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    win = console(qtbot, svc, data_dir=mine)
    banner = win.fault_banner
    qtbot.waitUntil(banner.isVisible, timeout=30000)
    assert not banner.faults  # a warning (amber), not a fault
    text = banner.text()
    assert "Two data dirs" in text and str(svc.data_dir) in text and str(mine) in text
    assert len(text.splitlines()) == 1
    win.close()
    same = console(qtbot, svc, data_dir=svc.data_dir)
    qtbot.wait(1500)
    assert not same.fault_banner.isVisible()
    same.close()


def test_a_new_window_starts_with_the_services_recent_trends(qtbot, svc: Service) -> None:
    qtbot.waitUntil(lambda: len(service_points(svc, "site", "power_w")) >= 4, timeout=60000)
    recorded = {parse_when(p["time"], 0): p["mean"] for p in service_points(svc, "site", "power_w")}
    connected_at = time.time()
    win = console(qtbot, svc)
    feed = win.replica
    assert feed is not None
    qtbot.waitUntil(lambda: feed.backfills >= 1, timeout=30000)
    assert feed.backfilled >= 3
    store = win.session.store
    x, y = store.agg_series(SITE, "power_w", 3600)
    drawn = {float(t): float(v) for t, v in zip(x, y, strict=True) if not np.isnan(v)}
    # slots from before this window existed are on its chart, with the recorded values
    older = [t for t in recorded if t in drawn and t + 2 * store.interval < connected_at]
    assert len(older) >= 3, (sorted(recorded), sorted(drawn))
    assert all(np.isclose(drawn[t], recorded[t], rtol=1e-5) for t in older)
    win.close()
