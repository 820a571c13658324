"""The one hand-off from a worker thread to the GUI thread (ui/handoff.py):
items arrive on the GUI thread, in order, none lost, coalesced into fewer
deliveries than puts; held items wait for release; closed means silent."""

from __future__ import annotations

import threading

from opsconsole.ui.handoff import Handoff


def test_items_cross_in_order_coalesced_on_the_gui_thread(qtbot):
    h = Handoff()
    got: list[int] = []
    threads: list[bool] = []
    h.arrived.connect(lambda items: (got.extend(items),
                                     threads.append(threading.current_thread()
                                                    is threading.main_thread())))
    n = 20_000

    def produce() -> None:
        for i in range(n):
            h.put(i)

    worker = threading.Thread(target=produce, name="handoff-producer")
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(got) == n)
    assert got == list(range(n))
    assert all(threads)
    assert 1 <= h.deliveries < n  # one wake-up per event-loop turn, not one per item


def test_held_items_wait_for_release_and_closed_drops(qtbot):
    h = Handoff()
    got: list[str] = []
    h.arrived.connect(got.extend)
    h.held = True
    h.extend(["a", "b"])
    qtbot.wait(50)
    assert got == []
    h.release()
    assert got == ["a", "b"]
    h.close()
    h.put("c")
    qtbot.wait(50)
    assert got == ["a", "b"] and h.closed
