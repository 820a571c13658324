"""Helpers for the duty GUI tests (no tests here): small simulated sites run
in-process by the window's own collector (like --demo), and a window on one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from opsconsole.sim.site import SimSite
from opsconsole.ui.duty.switch_dialog import DutyDialog
from opsconsole.ui.main_window import MainWindow
from opsconsole.ui.wall.window import WallWindow
from tests.fixtures.sim import FAST_TIMING
from tests.test_duty_support import gate_argv, set_duties
from tests.ui.windows import open_demo, shown_window

# row-a: 12 miners + pdu-a1 (13 devices: typed confirmation); row-b: 4 miners +
# pdu-b1 (5 devices); gpu-a: 2 simulated GPUs.
SMALL = {"miners": 16, "gpus": 2, "seed": 1, "miners_per_row": 12, "fault_rate": 0.0,
         "timing": FAST_TIMING, "reboot_s": 1.0}
ROW_B_MINERS = [f"b-{i:02d}" for i in range(1, 5)]
SLEEP = {"action": "snmp-set", "targets": "miners", "control": "sleep"}
WAKE = {"action": "snmp-set", "targets": "miners", "control": "wake"}
ASLEEP = {"action": "wait-metric", "targets": "miners", "metric": "hashrate_ths", "op": "<",
          "value": 1, "timeout_s": 20}


def small_site(**kw: Any) -> SimSite:
    return SimSite(**{**SMALL, **kw})


class GatedSite(SimSite):
    """row-b's idle duty blocks in a command step until `gate`.go exists:
    sleep, gate, wait for hashrate < 1."""

    def __init__(self, gate: Path, **kw: Any) -> None:
        super().__init__(**{**SMALL, **kw})
        self.gate = gate

    def site_toml(self, nvml_simulated: bool = True) -> str:
        gate = {"action": "command", "argv": gate_argv(self.gate), "timeout_s": 30}
        return set_duties(super().site_toml(nvml_simulated), "row-b", {
            "idle": [SLEEP, gate, ASLEEP], "mining": [WAKE]})


def open_window(qtbot: Any, settings: Any, data_dir: Path,
                factory: Callable[[], SimSite] = small_site, read_only: bool = False,
                size: tuple[int, int] = (1280, 800)) -> MainWindow:
    win = open_demo(qtbot, shown_window(qtbot, settings, size, read_only=read_only,
                                        data_dir=data_dir, demo_factory=factory))
    qtbot.waitUntil(lambda: win.duty is not None and bool(win.duty.client.states),
                    timeout=10000)
    return win


def open_wall(qtbot: Any, data_dir: Path, factory: Callable[[], SimSite] = small_site
              ) -> WallWindow:
    """A 1280x720 wall on `data_dir`, shown once the demo site's first data is in."""
    win = WallWindow(data_dir=data_dir, demo_factory=factory)
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    with qtbot.waitSignal(win.first_data, timeout=30000):
        win.open_demo()
    return win


def planned(qtbot: Any, dlg: DutyDialog, timeout: int = 10000) -> None:
    qtbot.waitUntil(lambda: dlg.plan is not None, timeout=timeout)


def finish(qtbot: Any, dlg: DutyDialog, timeout: int = 30000) -> Any:
    """Execute the dialog's plan and wait for its result."""
    with qtbot.waitSignal(dlg.switch_finished, timeout=timeout) as blocker:
        assert dlg.execute()
    return blocker.args[0]
