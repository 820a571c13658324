"""Render docs/screenshots/duty-dialog.png (a switch in progress on the demo's
hybrid rack) and docs/screenshots/audit.png, offscreen, with the main window
at 1920x1080:

    QT_QPA_PLATFORM=offscreen python -m tests.ui.duty_screenshots [OUT_DIR]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from opsconsole.ui import theme as themes
from opsconsole.ui.duty.switch_dialog import DutyDialog
from opsconsole.ui.main_window import MainWindow
from opsconsole.ui.settings import Settings


def wait(app: QApplication, cond, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        app.processEvents()
        time.sleep(0.01)


def run_switch(app: QApplication, dlg: DutyDialog, cancel: bool = False) -> None:
    wait(app, lambda: dlg.plan is not None)
    dlg.confirm_edit.setText(dlg.group)
    done: list = []
    dlg.switch_finished.connect(done.append)
    assert dlg.execute(), dlg.plan.summary_lines() if dlg.plan else "no plan"
    if cancel:  # as soon as it runs: it stops after its first step
        wait(app, lambda: dlg.client.cancel(dlg.group))
    wait(app, lambda: bool(done), 120)


def demo_window() -> tuple[QApplication, MainWindow, themes.Theme]:
    """The console on the demo at 1920x1080 (settings and data in a fresh temporary
    folder), once the duty journal has answered and the first readings are in."""
    tmp = Path(tempfile.mkdtemp(prefix="opsconsole-shots-"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings = Settings(QSettings(str(tmp / "opsconsole.ini"), QSettings.Format.IniFormat))
    theme = themes.get(settings.theme)
    themes.apply(app, theme)
    win = MainWindow(settings, data_dir=tmp / "data")
    win.resize(1920, 1080)
    win.show()
    win.open_demo()
    wait(app, lambda: win.duty is not None and bool(win.duty.client.states)
         and win.session is not None and win.session.readings_in > 0)
    return app, win, theme


def main(out: Path) -> None:
    app, win, theme = demo_window()
    time.sleep(1.0)
    app.processEvents()
    duty = win.duty
    assert duty is not None

    # history for the audit: a done switch, a cancelled one, its roll back, a refusal
    run_switch(app, duty.open_switch("row-c", duty="idle"))
    run_switch(app, duty.open_switch("gpu-a", duty="inference"), cancel=True)
    dlg = duty.dialogs["gpu-a"]
    wait(app, dlg.rollback_button.isVisible)
    dlg.rollback_button.click()
    run_switch(app, dlg)
    refused = DutyDialog(duty.client, "row-a", theme, lambda: {**duty.measured_kw(),
                                                                "row-b": 900.0}, duty="mining")
    wait(app, lambda: refused.plan is not None)
    duty.client.call(lambda ctl: ctl.execute(refused.plan))  # the controller refuses, on record
    for d in duty.dialogs.values():
        d.close()

    # the hybrid rack to inference, caught while the service warms up
    dlg = duty.open_switch("gpu-a", duty="inference")
    wait(app, lambda: dlg.plan is not None)
    dlg.confirm_edit.setText("gpu-a")
    done: list = []
    dlg.switch_finished.connect(done.append)
    assert dlg.execute()
    wait(app, lambda: len(dlg.model.steps) > 3 and dlg.model.steps[3].status == "running")
    time.sleep(0.3)
    app.processEvents()
    out.mkdir(parents=True, exist_ok=True)
    dlg.grab().save(str(out / "duty-dialog.png"))
    wait(app, lambda: bool(done), 120)

    view = duty.open_audit()
    wait(app, lambda: view.model.rowCount() >= 5)
    view.select_id(view.model.records[3]["id"])  # the cancelled switch: its detail
    app.processEvents()
    view.grab().save(str(out / "audit.png"))
    win.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
