"""Render the GPU-host / inference views of the demo, offscreen, main window at
1920x1080: the GPU panel (remote GPUs grouped by host), the inference panel
and the earnings view, before and after the hybrid rack enters inference.

    QT_QPA_PLATFORM=offscreen python -m tests.ui.gpu_host_screenshots [OUT_DIR]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from opsconsole.ui.main_window import MainWindow
from tests.ui.duty_screenshots import demo_window, run_switch


def settle(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def shoot(app: QApplication, win: MainWindow, tab: str, path: Path) -> None:
    console = win.console
    assert console is not None
    tabs = console.tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i).startswith(tab)))
    console._dirty = True
    console.refresh()
    console.earnings.refresh(force=True)
    settle(app, 0.5)
    win.grab().save(str(path))


def main(out: Path) -> None:
    app, win, _ = demo_window()
    settle(app, 12.0)  # a few polls: sparklines and the history the estimates read
    out.mkdir(parents=True, exist_ok=True)
    shoot(app, win, "GPUs", out / "gpu-hosts-mining.png")
    shoot(app, win, "Earnings", out / "earnings-mining.png")
    duty = win.duty
    assert duty is not None
    run_switch(app, duty.open_switch("gpu-a", duty="inference"))
    for d in duty.dialogs.values():
        d.close()
    settle(app, 25.0)  # the simulated vLLM ramps up over 15 s
    shoot(app, win, "Inference", out / "inference.png")
    shoot(app, win, "Earnings", out / "earnings-inference.png")
    console = win.console
    assert console is not None
    console.select_group("gpu-a")  # the rack: its remote server's GPUs under their heading
    tabs = console.tabs
    tabs.setCurrentIndex(0)
    settle(app, 0.3)
    heading = console.gpus.headings["gpu-a-node1"]
    console.gpus.verticalScrollBar().setValue(heading.y())
    shoot(app, win, "GPUs", out / "gpu-hosts-inference.png")
    win.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
