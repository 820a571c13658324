"""The bridge: batches cross threads as queued signals, coalesced, and stop
joins the collector thread."""

from __future__ import annotations

import threading
import time

from opsconsole.ui.bridge import CollectorBridge
from tests.ui.conftest import collector_threads
from tests.ui.fakes import FakeRuntime, make_site


def test_batches_arrive_on_gui_thread_coalesced(qtbot):
    site = make_site(rows=1, miners_per_row=5, gpus=0)
    bridge = CollectorBridge(site, runtime_factory=FakeRuntime, batch_interval_s=0.005)
    got: list[tuple[int, bool]] = []
    bridge.batch.connect(lambda b: got.append((len(b), threading.current_thread()
                                                is threading.main_thread())))
    with qtbot.waitSignal(bridge.started, timeout=5000):
        bridge.start()
    qtbot.waitUntil(lambda: len(got) >= 1, timeout=3000)
    time.sleep(0.3)  # the GUI is busy: the collector keeps going, nothing queues up
    qtbot.wait(50)
    produced = bridge.runtime.batches
    bridge.stop()
    assert all(on_main for _n, on_main in got)
    assert len(got) < produced  # coalesced: fewer signals than batches
    assert sum(n for n, _ in got) >= 5 * (produced - 2)  # readings are not lost
    assert collector_threads() == []


def test_stop_while_starting(qtbot):
    class SlowStart(FakeRuntime):
        def start(self) -> None:
            time.sleep(0.3)
            super().start()

    bridge = CollectorBridge(make_site(), runtime_factory=SlowStart)
    bridge.start()
    bridge.stop()  # must not leave the collector running
    assert collector_threads() == []


def test_failed_start_is_reported(qtbot):
    class Broken(FakeRuntime):
        def start(self) -> None:
            raise OSError("address already in use")

    bridge = CollectorBridge(make_site(), runtime_factory=Broken)
    with qtbot.waitSignal(bridge.failed, timeout=3000) as sig:
        bridge.start()
    assert "address already in use" in sig.args[0]
    bridge.stop()
