"""Never a number built on missing data without saying so, on screen: sums
over silent devices are lower bounds (">= 2.3 kW, 10 devices not answering")
in the console's header and tiles and on the wall; a group with 0 of N
devices answering is red; a group whose telemetry contradicts its duty is
flagged; with nothing answering the numbers are dashes, never zeros."""

from __future__ import annotations

import pytest

from opsconsole.core.readings import Status
from opsconsole.ui import units
from opsconsole.ui.wall.totals_page import TotalsPage
from opsconsole.ui.wall.window import WallWindow
from tests.ui.fakes import FakeRuntime, make_batch, make_site
from tests.ui.wall_support import RuntimeLog
from tests.ui.windows import shown_window


@pytest.fixture
def console(qtbot, settings):
    win = shown_window(qtbot, settings, (1600, 900), runtime_factory=FakeRuntime)
    win.start_site(make_site(), source="fake")
    with qtbot.waitSignal(win.first_data, timeout=5000):
        pass
    win.bridge.runtime.stop()  # no more fake batches: the test feeds its own
    yield win
    win.close()


def feed(win, batch) -> None:
    win.session.ingest(batch)
    win.console._dirty = True
    win.console.refresh()


def down(site, *groups: str, first: int | None = None) -> dict[str, Status]:
    """Every device of `groups` unreachable (or only the first `first`)."""
    ids = [d.id for g in site.groups if g.id in groups for d in g.devices]
    return {i: Status.UNREACHABLE for i in ids[:first]}


def test_console_marks_sums_over_silent_devices(console):
    site = console.session.site
    feed(console, make_batch(site, overrides=down(site, "row-a", first=3)))
    header, tiles = console.console.header, console.console.tiles
    assert header.power.value.text().startswith(">= ")
    assert "3 devices not answering" in header.power.detail.text()
    assert header.hashrate.value.text().startswith(">= ")
    assert header.hashrate.detail.text() == "3 devices not answering"
    row_a, row_b = tiles.tiles["row-a"], tiles.tiles["row-b"]
    assert ">= " in row_a.hashrate.text() and ">= " in row_a.power.text()
    assert ">= " not in row_b.hashrate.text() and ">= " not in row_b.power.text()
    assert not row_a.alert, "some answer: amber numbers, not a red tile"
    # all of row-b silent: 0 of 10 answering is red
    feed(console, make_batch(site, overrides=down(site, "row-b")))
    assert "none of 10 devices answering" in row_b.alert
    assert console.console.theme.bad in row_b.ok.text() and "0/10 ok" in row_b.ok.text()
    assert units.NA in row_b.hashrate.text() and units.NA in row_b.power.text()


def test_nothing_answering_shows_dashes_not_zeros(console):
    site = console.session.site
    everyone = {d.id: Status.UNREACHABLE for d in site.devices()}
    feed(console, make_batch(site, overrides=everyone))
    header = console.console.header
    assert header.hashrate.value.text() == units.NA
    assert header.power.value.text() == units.NA
    assert header.devices.value.text() == "0 / 22"
    assert header.devices.detail.text() == "22 devices not answering"
    assert all(t.alert for t in console.console.tiles.tiles.values())


def test_console_flags_a_group_whose_telemetry_contradicts_its_duty(console):
    site = console.session.site
    tiles = console.console.tiles
    tiles.set_duty("row-a", "idle")  # the journal says idle; its miners hash
    tiles.set_duty("row-b", "mining")
    feed(console, make_batch(site))
    row_a, row_b = tiles.tiles["row-a"], tiles.tiles["row-b"]
    assert row_a.flag == "idle but hashing"
    assert "⚠ idle but hashing" in row_a.title.text()
    assert row_a.alert.startswith("idle but hashing:") and "TH/s" in row_a.alert
    assert not row_b.flag and not row_b.alert
    tiles.set_duty("row-a", "switching")  # mid-switch: no contradiction to flag
    feed(console, make_batch(site))
    assert not row_a.flag


@pytest.fixture
def wall(qtbot):
    runtimes = RuntimeLog()
    win = WallWindow(runtime_factory=runtimes)
    qtbot.addWidget(win)
    win.resize(1920, 1080)
    win.show()
    site = make_site()
    win.open_site(site)
    qtbot.waitUntil(lambda: win.session is not None, timeout=5000)
    yield win, runtimes, site
    win.close()


def push(qtbot, win, runtimes, batch) -> TotalsPage:
    before = win.session.readings_in
    runtimes.last.push(batch)
    qtbot.waitUntil(lambda: win.session.readings_in > before, timeout=3000)
    totals = next(p for p in win.pages if isinstance(p, TotalsPage))
    totals.refresh()
    return totals


def test_wall_marks_incomplete_sums_dead_groups_and_contradictions(qtbot, wall):
    win, runtimes, site = wall
    totals = next(p for p in win.pages if isinstance(p, TotalsPage))
    totals.duties = {"row-a": "idle", "row-b": "mining", "gpu-rack": "inference"}
    totals = push(qtbot, win, runtimes, make_batch(site, overrides=down(site, "row-b")))
    assert totals.power.value.text().startswith(">= ")
    assert totals.power.detail.text() == "10 devices not answering"
    assert totals.hashrate.value.text().startswith(">= ")
    row_a, row_b = totals.tiles["row-a"], totals.tiles["row-b"]
    assert row_b.alert and row_b.property("alert") == "true", "0 of 10 answering is red"
    assert row_b.ok.value.text() == "0/10"
    assert row_b.rate.value.text() == units.NA and row_b.power.value.text() == units.NA
    assert row_a.alert and row_a.flag.isVisible()
    assert row_a.flag.text().startswith("⚠ idle but hashing:")
    assert not totals.tiles["gpu-rack"].alert


def test_a_value_that_is_no_reading_is_a_dash_on_the_gpu_card(console):
    """A NaN (or a metric left out: a sentinel the collector dropped) never
    reaches a card as "nan MHz" or as a made-up 0."""
    from opsconsole.core.readings import Reading

    site = console.session.site
    batch = make_batch(site)
    gpu = next(r for r in batch if r.device == "gpu-0")
    metrics = {**gpu.metrics, "sm_clock_mhz": float("nan"), "util_pct": float("nan")}
    del metrics["power_w"]
    batch = [Reading(r.device, r.ts, r.status, metrics, None, 0.02) if r is gpu else r
             for r in batch]
    feed(console, batch)
    panel = console.console.gpus
    panel.refresh()
    card = next(c for c in panel.cards if c.device_id == "gpu-0")
    assert card.clocks.text() == f"clocks {units.NA}"
    assert card.util.text() == units.NA
    assert card.power.text() == units.NA
    assert "nan" not in " ".join((card.clocks.text(), card.temps.text(), card.util.text()))


def test_devices_waiting_for_a_first_answer_are_not_all_answering():
    assert units.answering(0, 0, 20000) == "20,000 not answered yet"
    assert units.answering(5, 3, 10) == "3 devices not answering, 2 not answered yet"
    assert units.answering(10, 0, 10) == "all answering"
    assert units.answering(9, 1, 10) == "1 device not answering"
