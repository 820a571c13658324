"""What an open site gets beside the console: history and the alarm log in
its data dir, the Prometheus endpoint (--metrics-port), alarm notifications,
and the History window. MainWindow calls `start_services` once the session
exists and `stop_services` before it goes."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QMainWindow

from opsconsole.ui.alarm_actions import AlarmNotifier, build_alarm_menu

log = logging.getLogger(__name__)


def configure(win: QMainWindow, args: Any) -> None:
    """Options from the command line (`--metrics-port`, `--metrics-address`)."""
    win.metrics_port = getattr(args, "metrics_port", None)  # type: ignore[attr-defined]
    win.metrics_address = getattr(args, "metrics_address", "127.0.0.1")  # type: ignore[attr-defined]


def site_data_dir(win: Any) -> Path:
    """The same folder as the duty journal: --data-dir, else per site; the
    demo's is per run (its simulator starts fresh every time)."""
    if win.data_dir is not None:
        return Path(win.data_dir)
    site = win.session.site
    if win._demo:
        return (site.path.parent if site.path else Path(tempfile.mkdtemp())) / "data"
    from opsconsole.core.datadir import resolve_data_dir

    return resolve_data_dir(site).path


def data_dir_warning(win: Any) -> str | None:
    """One line when this site's journal lives in two folders (core.datadir)."""
    if win._demo:
        return None
    from opsconsole.core.datadir import resolve_data_dir

    return resolve_data_dir(win.session.site, win.data_dir).warning


def service_dir_warning(service_dir: str, *, runtime: Any, data_dir: Path | None,
                        demo: bool) -> str | None:
    """One line when the site service keeps this site's files somewhere else
    than this window would have (its --data-dir, or the site's own folder):
    the operator then knows where journal, history and alarms really are.
    The console and the wall alike."""
    if demo and data_dir is None:  # a fresh folder per run either way
        return None
    file_site = getattr(runtime, "file_site", None)  # embedded: the site file opened here
    if file_site is not None and not demo:
        from opsconsole.core.datadir import resolve_data_dir

        expected = resolve_data_dir(file_site, data_dir).path
    elif data_dir is not None:
        expected = Path(data_dir).expanduser().absolute()
    else:
        return None
    if Path(service_dir) == expected:
        return None
    return (f"Two data dirs: the site service keeps this site's journal, history and alarms "
            f"in {service_dir}, not in {expected} where this window would have kept them")


def build_menus(win: Any) -> None:
    build_alarm_menu(win.menuBar(), win.settings)
    m = win.menuBar().addMenu("&History")
    m.addAction("Charts over &history…", lambda: open_history(win))


def open_history(win: Any) -> Any:
    from opsconsole.ui.history_view import HistoryDialog

    if win.session is None:
        return None
    fetch = None
    if win.session.replica:  # the history is the service's: read over its API
        from opsconsole.ui.history_view import api_fetch

        if win.replica is None:
            return None
        fetch = api_fetch(win.replica.runtime)
    dlg = getattr(win, "history_dialog", None)
    if dlg is None or dlg.session is not win.session:
        dlg = HistoryDialog(win.session, win.theme, win, fetch=fetch)
        win.history_dialog = dlg
    dlg.reload()
    dlg.show()
    dlg.raise_()
    return dlg


def start_services(win: Any) -> None:
    session = win.session
    session.attach_storage(site_data_dir(win))  # faults land in session.storage_faults
    port = getattr(win, "metrics_port", None)
    if port is not None:
        from opsconsole.core.prometheus import MetricsServer

        try:
            session.exporter = MetricsServer(session.site, port,
                                             getattr(win, "metrics_address", "127.0.0.1"))
            session.cycle_done.connect(lambda st: session.exporter is not None
                                       and session.exporter.publish(cycle_s=st.duration_s))
            win.show_message(f"Serving {session.exporter.url}")
        except (OSError, ValueError) as exc:
            win.show_message(f"Cannot serve /metrics on port {port}: {exc}")
    start_notifications(win)


def start_notifications(win: Any) -> None:
    """A beep and/or a desktop notice per alarm raised (the settings say which)."""
    win.alarm_notifier = AlarmNotifier(win.session, win.settings, win.session)


def stop_services(win: Any) -> None:
    dlg = getattr(win, "history_dialog", None)
    if dlg is not None:
        dlg.close()
        dlg.deleteLater()
        win.history_dialog = None
    win.alarm_notifier = None
