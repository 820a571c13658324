"""The main window: opens a site (file or demo), owns the bridge to the
collector thread and the session, and shuts both down cleanly."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from opsconsole.collectors.poller import CycleStats
from opsconsole.core.errors import ConfigError
from opsconsole.core.readings import Reading
from opsconsole.core.site import Site
from opsconsole.core.storage import SWITCHING, StorageError
from opsconsole.sim.demo import (  # the demo site, also built by `serve --demo`
    DEMO_GPUS,
    DEMO_HYBRID_MINERS,
    DEMO_MINERS,
    make_demo_site,
)
from opsconsole.ui import services, units
from opsconsole.ui import theme as themes
from opsconsole.ui.bridge import CollectorBridge, RuntimeFactory, local_runtime
from opsconsole.ui.console import ConsoleView
from opsconsole.ui.dialogs import ProblemsDialog, config_errors_dialog
from opsconsole.ui.duty.client import DutyClient
from opsconsole.ui.duty.coordinator import DutyCoordinator
from opsconsole.ui.fault_banner import FaultBanner
from opsconsole.ui.replica import ReplicaFeed
from opsconsole.ui.session import SiteSession
from opsconsole.ui.settings import Settings
from opsconsole.ui.site_watch import SiteFileWatch
from opsconsole.ui.views.first_run import FirstRunPage, StartingPage
from opsconsole.ui.views.tiles import MAX_TILES

log = logging.getLogger(__name__)

__all__ = ["DEMO_GPUS", "DEMO_HYBRID_MINERS", "DEMO_MINERS", "MainWindow", "load_site_file",
           "make_demo_site"]


def load_site_file(path: Path) -> Site:
    from opsconsole.core.siteload import load_site

    return load_site(path)


class MainWindow(QMainWindow):
    first_data = Signal()  # the first readings of the open site are shown
    site_failed = Signal(str)

    def __init__(self, settings: Settings, *, read_only: bool = False,
                 data_dir: Path | None = None,
                 runtime_factory: RuntimeFactory = local_runtime,
                 demo_factory: Callable[[], Any] = make_demo_site,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.theme = themes.get(settings.theme)
        self.read_only = read_only
        self.data_dir = data_dir  # --data-dir: journal and audit (default: per site)
        self.duty: DutyCoordinator | None = None
        self.runtime_factory = runtime_factory
        self.demo_factory = demo_factory
        self.bridge: CollectorBridge | None = None
        self.session: SiteSession | None = None
        self.console: ConsoleView | None = None
        self.source: str = ""
        self.dialog: ProblemsDialog | None = None  # the last problems dialog shown
        self.loader: SiteFileWatch | None = None  # a site file being read off the GUI thread
        self.replica: ReplicaFeed | None = None  # connected to a site service (ui/remote.py)
        self.requests_panel: Any = None  # its two-person requests (ui/duty/requests_panel.py)
        self.remote_url: str | None = None
        # True (the app's default): a site file or the demo runs in a site service
        # started as a child process (ui/embedded.py); False: in this process
        self.embedded = False
        self._demo = False
        self.setWindowTitle("opsconsole")
        self.stack = QStackedWidget()
        self.fault_banner = FaultBanner(self.theme)  # storage faults, as long as they last
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.link_banner = QLabel()  # "Disconnected since HH:MM:SS", while it lasts
        self.link_banner.setObjectName("linkBanner")
        self.link_banner.setWordWrap(True)
        self.link_banner.setStyleSheet(
            f"QLabel#linkBanner {{ background: {self.theme.bad}; color: #ffffff; "
            "font-weight: 700; padding: 6px 10px; }")
        self.link_banner.hide()
        lay.addWidget(self.link_banner)
        lay.addWidget(self.fault_banner)
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.first_run = FirstRunPage(settings.last_site)
        self.first_run.demo_requested.connect(self.open_demo)
        self.first_run.open_requested.connect(self.choose_file)
        self.first_run.recent_requested.connect(self.open_file)
        self.starting = StartingPage()
        self.stack.addWidget(self.first_run)
        self.stack.addWidget(self.starting)
        self._build_menu()
        services.build_menus(self)  # Alarms (sound / notification), History
        self._build_status()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.close_site)  # type: ignore[attr-defined]

    def sizeHint(self) -> QSize:
        return QSize(1600, 960)

    # -- chrome -------------------------------------------------------------------------
    def _build_menu(self) -> None:
        m = self.menuBar().addMenu("&File")
        act = m.addAction("&Open site file…")
        act.setShortcut(QKeySequence.StandardKey.Open)
        act.triggered.connect(self.choose_file)
        m.addAction("Open the &demo site").triggered.connect(self.open_demo)
        m.addSeparator()
        act = m.addAction("&Quit")
        act.setShortcut(QKeySequence.StandardKey.Quit)
        act.triggered.connect(self.close)
        self.duty_menu = self.menuBar().addMenu("&Duty")
        self.duty_menu.setToolTipsVisible(True)
        self.duty_menu.aboutToShow.connect(self._fill_duty_menu)
        self._fill_duty_menu()
        v = self.menuBar().addMenu("&View")
        group = QActionGroup(self)
        for name in themes.THEMES:
            a = QAction(f"{name.title()} theme", self, checkable=True)
            a.setChecked(name == self.theme.name)
            a.triggered.connect(lambda _c=False, n=name: self.set_theme(n))
            group.addAction(a)
            v.addAction(a)

    def _fill_duty_menu(self) -> None:
        """One submenu per group (the same menu as its tile), and the audit."""
        m = self.duty_menu
        m.clear()
        if self.duty is None:
            m.addAction("No site with duty switching open").setEnabled(False)
            return
        groups = self.duty.session.site.groups
        selected = self.console.tiles.selected if self.console is not None else None
        listed = [g.id for g in groups[:MAX_TILES]]
        if selected is not None and selected not in listed:
            listed.insert(0, selected)  # found with the strip's "Find group" box
        for gid in listed:
            m.addMenu(self.duty.menu_for(gid, m))
        if len(groups) > MAX_TILES:  # thousands of submenus would freeze the menu
            m.addAction(f"+{len(groups) - MAX_TILES} more groups: select one with "
                        "\"Find group\" in the tile strip").setEnabled(False)
        m.addSeparator()
        m.addAction("&Audit log…", self.duty.open_audit)

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.status_source = QLabel("no site open")
        self.status_collector = QLabel("")
        self.status_data = QLabel("")
        self.status_mode = QLabel("read-only" if self.read_only else "")
        for w in (self.status_source, self.status_collector, self.status_data,
                  self.status_mode):
            sb.addPermanentWidget(w)

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 5000)

    # -- opening sites ------------------------------------------------------------------------
    def show_first_run(self) -> None:
        self.stack.setCurrentWidget(self.first_run)

    def choose_file(self) -> None:
        start = str(self.settings.last_site.parent) if self.settings.last_site else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open a site file", start,
                                              "Site files (*.toml);;All files (*)")
        if path:
            self.open_file(Path(path))

    def open_file(self, path: Path, site: Site | None = None) -> bool:
        """Load and validate a site file (unless the caller already did:
        `site`); on problems show them, keep the current site. Returns whether
        the site was opened."""
        try:
            site = site or load_site_file(path)
        except ConfigError as exc:
            self.show_problems(config_errors_dialog(path, exc.errors, self))
            return False
        except OSError as exc:
            self.show_problems(config_errors_dialog(path, [f"{path}: {exc.strerror or exc}"],
                                                    self))
            return False
        self.settings.last_site = path
        self.start_site(site, source=str(path))
        return True

    def open_file_in_background(self, path: Path) -> None:
        """Like open_file, with the parsing on a helper thread: the window
        draws at once ("Reading …") whatever the file's size."""
        if self.loader is not None:
            self.loader.close()
            self.loader.deleteLater()
        self.loader = SiteFileWatch(path, load_site_file, parent=self)
        self.loader.loaded.connect(lambda site, p=path: self.open_file(p, site))
        self.loader.problems.connect(lambda lines, p=path: self._on_load_problems(p, lines))
        self.starting.set_text(f"Reading {path}…")
        self.stack.setCurrentWidget(self.starting)
        self.status_source.setText(str(path))
        self.loader.load_now()

    def _on_load_problems(self, path: Path, lines: list[str]) -> None:
        if self.loader is not None:
            self.loader.close()  # the console does not watch: the operator opens it again
        self.show_first_run()
        self.show_problems(config_errors_dialog(path, lines, self))
        self.site_failed.emit("; ".join(lines[:1]))

    def open_demo(self) -> bool:
        if self.embedded:  # the child service builds and runs it
            self.start_site(None, source="demo (simulated site)", demo=True)
            return True
        try:
            demo = self.demo_factory()
        except ImportError as exc:
            self.show_problems(ProblemsDialog(
                "Demo not available", "The simulated site could not be loaded.",
                [f"{type(exc).__name__}: {exc}"], self))
            return False
        self.start_site(None, demo_site=demo, source="demo (simulated site)")
        return True

    def open_remote(self, url: str, token: str, ca_file: Path | None = None) -> None:
        """Draw a site service's data (`--connect URL`): this process polls nothing."""
        from opsconsole.ui.remote import remote_factory

        self.remote_url = url
        self.start_site(None, source=url, runtime_factory=remote_factory(url, token, ca_file))

    def show_problems(self, dialog: ProblemsDialog) -> None:
        self.dialog = dialog
        dialog.open()  # window-modal, never blocks the event loop

    def start_site(self, site: Site | None, *, demo_site: Any = None, source: str = "",
                   runtime_factory: RuntimeFactory | None = None, demo: bool = False) -> None:
        self.close_site()
        self._demo = demo or demo_site is not None
        self.source = source
        if self.embedded and runtime_factory is None:
            from opsconsole.ui.embedded import embedded_factory

            runtime_factory = embedded_factory(demo=self._demo, data_dir=self.data_dir,
                                               read_only=self.read_only)
            demo_site = None  # the child runs the simulated site
        self.bridge = CollectorBridge(site, demo_site=demo_site,
                                      runtime_factory=runtime_factory or self.runtime_factory,
                                      parent=self)
        self.bridge.started.connect(self._on_started)
        self.bridge.failed.connect(self._on_failed)
        self.bridge.batch.connect(self._on_batch)
        self.bridge.cycle.connect(self._on_cycle)
        self.starting.set_text("Starting the simulated site…" if self._demo
                               else f"Connecting to {site.name if site else source}…")
        self.status_collector.setText("connecting" if runtime_factory is not None
                                      else "collector starting")
        self.stack.setCurrentWidget(self.starting)
        self.status_source.setText(source)
        self.bridge.start()

    def _on_started(self, site: Site) -> None:
        from opsconsole.ui.remote import RemoteRuntime

        runtime = self.bridge.runtime if self.bridge is not None else None
        remote = isinstance(runtime, RemoteRuntime)
        self.session = SiteSession(site, demo=self._demo, replica=remote, parent=self)
        self.session.first_data.connect(self.first_data)
        if remote:
            self.replica = ReplicaFeed(runtime, self.session, self)
            self.replica.link_changed.connect(self._on_link)
            self.replica.data_dir_known.connect(self._on_service_dir)
        self._start_duty()
        if self.replica is not None and self.duty is not None:
            self.replica.states_changed.connect(self.duty.client.refresh_states)
        if remote:  # the service keeps history and the alarm log; notifications are ours
            services.start_notifications(self)
            self.fault_banner.watch(self.session.storage_faults, [])
            if self.replica is not None and self.replica.data_dir:  # its snapshot came first
                self._on_service_dir(self.replica.data_dir)
        else:
            services.start_services(self)  # history, alarm log, /metrics, notifications
            warning = services.data_dir_warning(self)
            self.fault_banner.watch(self.session.storage_faults, [warning] if warning else [])
        self._show_console()
        self.setWindowTitle(f"{site.name} — opsconsole")
        if remote:
            where = self.remote_url or (f"{runtime.url} (embedded)" if not runtime.adopted
                                        else f"{runtime.url} (another window's)")
            self.status_collector.setText(
                f"site service {where} · {runtime.user} ({runtime.role}) · "
                f"{len(site.devices())} devices every {site.poll_interval_s:g} s")
        else:
            self.status_collector.setText(f"collector running · {len(site.devices())} devices "
                                          f"every {site.poll_interval_s:g} s")

    def _on_service_dir(self, service_dir: str) -> None:
        warning = services.service_dir_warning(
            service_dir, runtime=self.bridge.runtime if self.bridge is not None else None,
            data_dir=self.data_dir, demo=self._demo)
        self.fault_banner.set_warnings([warning] if warning else [])

    def _on_link(self, connected: bool, _since: float, _error: str) -> None:
        text = self.replica.banner_text() if self.replica is not None else ""
        self.link_banner.setText(text)
        self.link_banner.setVisible(bool(text))
        if connected and self.duty is not None:
            self.duty.client.refresh_states()

    def _start_duty(self) -> None:
        """The duty controller on the collector loop (runtimes without one, like
        the tests' fake, simply have no duty switching)."""
        runtime = self.bridge.runtime if self.bridge is not None else None
        if self.session is None or not hasattr(runtime, "duty_controller"):
            return
        data_dir = self.data_dir
        if data_dir is None and self._demo:
            # The simulator starts fresh on every demo run, so its journal must
            # too: a kept one would show duties the new simulator never had.
            site_path = self.session.site.path
            data_dir = (site_path.parent if site_path else Path(tempfile.mkdtemp())) / "data"
        faults = self.session.storage_faults
        try:
            client = DutyClient(runtime, data_dir, read_only=self.read_only, faults=faults,
                                parent=self)
        except StorageError as exc:  # the banner says it; core logged one line
            faults.report_error(exc)
            return
        except Exception as exc:  # any other reason must not cost the console either
            faults.report(data_dir or services.site_data_dir(self), SWITCHING,
                          f"{type(exc).__name__}: {exc}")
            return
        self.duty = DutyCoordinator(client, self.session, self.theme, self)
        self.duty.tile_state_changed.connect(self._on_tile_state)

    def _on_tile_state(self, group: str, state: str) -> None:
        if state in ("degraded", "interrupted"):
            self.show_message(f"{group} is {state}: open its duty menu to recover")

    def _show_console(self) -> None:
        assert self.session is not None
        if self.console is not None:
            self.stack.removeWidget(self.console)
            self.console.shutdown_views()
            self.console.deleteLater()
        self.console = ConsoleView(self.session, self.theme, self.settings,
                                   status=self.show_message)
        self.stack.addWidget(self.console)
        self.stack.setCurrentWidget(self.console)
        if self.duty is not None:
            self.duty.theme = self.theme
            self.duty.attach(self.console.tiles)
        self._add_requests_panel()

    def _add_requests_panel(self) -> None:
        """With a site service: its pending two-person requests, as a console tab."""
        from opsconsole.ui.duty.requests_panel import RequestsPanel

        if self.requests_panel is not None:
            self.requests_panel.close_panel()
            self.requests_panel = None
        if self.replica is None or self.console is None:
            return
        panel = RequestsPanel(self.replica.runtime, self.console)
        tabs = self.console.tabs
        index = tabs.addTab(panel, "Requests")
        panel.count_changed.connect(
            lambda n, i=index: tabs.setTabText(i, f"Requests ({n})" if n else "Requests"))
        panel.count_changed.emit(len(panel.requests))
        panel.decided.connect(self.show_message)
        self.replica.requests_changed.connect(panel.set_requests)
        self.requests_panel = panel

    def _on_failed(self, error: str) -> None:
        self.status_collector.setText("collector stopped")
        self.show_first_run()
        self.show_problems(ProblemsDialog("Could not start", "The collector did not start.",
                                          [error], self))
        self.site_failed.emit(error)

    def _on_batch(self, batch: list[Reading]) -> None:
        if self.session is not None:
            self.session.ingest(batch)
            self.status_data.setText(f"data {units.clock(self.session.last_batch_at)} · "
                                     f"{self.session.readings_in} readings")

    def _on_cycle(self, stats: CycleStats) -> None:
        if self.session is not None:
            self.session.on_cycle(stats)

    def close_site(self) -> None:
        """Stop the collector (joins its thread) and drop the views."""
        if self.loader is not None:  # a file still being read is not opened after all
            self.loader.close()
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge.deleteLater()
            self.bridge = None
        if self.requests_panel is not None:
            self.requests_panel.close_panel()
            self.requests_panel = None
        if self.replica is not None:
            self.replica.deleteLater()
            self.replica = None
        self.link_banner.hide()
        if self.duty is not None:  # after the runtime: no switch is left running
            self.duty.close()
            self.duty.deleteLater()
            self.duty = None
        if self.console is not None:
            self.console.shutdown()
            self.stack.removeWidget(self.console)
            self.console.deleteLater()
            self.console = None
        services.stop_services(self)
        self.fault_banner.watch(None)
        if self.session is not None:
            self.session.stop()
            self.session.deleteLater()
            self.session = None
        self.status_collector.setText("")

    # -- settings ---------------------------------------------------------------------------
    def set_theme(self, name: str) -> None:
        self.settings.theme = name
        self.theme = themes.get(name)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            themes.apply(app, self.theme)
        if self.session is not None:
            self._show_console()  # views keep theme colours: rebuild them on the same data

    def restore_geometry(self) -> None:
        if self.settings.geometry is not None:
            self.restoreGeometry(self.settings.geometry)
        if self.settings.window_state is not None:
            self.restoreState(self.settings.window_state)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.geometry = self.saveGeometry()
        self.settings.window_state = self.saveState()
        if self.console is not None:
            self.settings.set_columns(self.console.devices.visible_columns())
        self.settings.sync()
        self.close_site()
        event.accept()

    def keyPressEvent(self, ev) -> None:
        if ev.key() == Qt.Key.Key_Escape and self.isFullScreen():
            self.showNormal()
            return
        super().keyPressEvent(ev)
