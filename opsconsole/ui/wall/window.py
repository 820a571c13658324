"""WallWindow: the full-screen, read-only wall display.

It owns the collector bridge and the session like the main window, but
builds no menus, buttons, inputs or duty GUI: a few display pages that
rotate, a header with the clock and the newest reading's time, and a stale
banner. It keeps going when the data source goes away: a stopped collector
is restarted with back-off, and the same session (history, alarms) carries
on when the site comes back with the same devices. It never goes black: a
site file it cannot load (missing, invalid, corrupt, or none given) fills the
screen with the file and its problems, and the wall starts by itself once
the file is fixed (ui/site_watch.py)."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from opsconsole.collectors.poller import CycleStats
from opsconsole.core.readings import Reading
from opsconsole.core.site import Site
from opsconsole.core.storage import SWITCHING, StorageError, StorageFault
from opsconsole.sim.demo import make_demo_site
from opsconsole.ui import theme as themes
from opsconsole.ui import units
from opsconsole.ui.bridge import CollectorBridge, RuntimeFactory, local_runtime
from opsconsole.ui.fault_banner import FaultFeed, fault_lines
from opsconsole.ui.replica import ReplicaFeed
from opsconsole.ui.session import SiteSession
from opsconsole.ui.site_watch import CHECK_S, SiteFileWatch
from opsconsole.ui.wall.alarms_page import AlarmsPage
from opsconsole.ui.wall.charts_page import ChartsPage
from opsconsole.ui.wall.duty_states import STATES_EVERY_S, ReadOnlyDutyStates
from opsconsole.ui.wall.freshness import Freshness, assess, newest_answer
from opsconsole.ui.wall.header import WallHeader
from opsconsole.ui.wall.heat_page import HeatPage
from opsconsole.ui.wall.problem_page import SiteProblemPage, breakable
from opsconsole.ui.wall.rotation import PageRotator
from opsconsole.ui.wall.scale import WallScale
from opsconsole.ui.wall.style import style_sheet
from opsconsole.ui.wall.totals_page import TotalsPage
from opsconsole.ui.wall.widgets import WallLabel

log = logging.getLogger(__name__)

TICK_MS = 1000
RESTART_BACKOFF_S = (5.0, 10.0, 20.0, 40.0, 60.0)


class WallPage(Protocol):
    title: str

    def apply_scale(self, s: WallScale) -> None: ...
    def refresh(self) -> None: ...


PAGE_TYPES: dict[str, Callable[..., Any]] = {
    "totals": TotalsPage, "rackmap": HeatPage, "charts": ChartsPage, "alarms": AlarmsPage}


class WallWindow(QWidget):
    first_data = Signal()
    site_failed = Signal(str)  # a start failed (the wall retries on its own)
    site_problems = Signal(list)  # the site file cannot be loaded: its problems, one a line

    def __init__(self, *, data_dir: Path | None = None,
                 runtime_factory: RuntimeFactory = local_runtime,
                 demo_factory: Callable[[], Any] = make_demo_site,
                 clock: Callable[[], float] = time.time,
                 rotate_s: float | None = None, check_s: float = CHECK_S,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("opsconsole wall")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.theme = themes.DARK  # high contrast across a room, whatever the desk theme
        self.data_dir = data_dir
        self.runtime_factory = runtime_factory
        self.demo_factory = demo_factory
        self.clock = clock
        self.rotate_override = rotate_s  # the soak bench and tests; else [wall] rotate_s
        self.bridge: CollectorBridge | None = None
        self.session: SiteSession | None = None
        self.replica: ReplicaFeed | None = None  # connected to a site service
        # True (the app's default): a site file or the demo runs in a site service,
        # a child process (ui/embedded.py); False: the collector runs in this process
        self.embedded = False
        self.duty_states: ReadOnlyDutyStates | None = None
        self.fault_feed: FaultFeed | None = None  # the session's storage faults
        self._duty_retry_at: float | None = None  # a journal that failed is asked again
        self.rotator: PageRotator | None = None
        self.pages: list[Any] = []
        self.page_names: list[str] = []
        self.scale = WallScale.for_height(1080)
        self.started_at = clock()
        self.restarts = 0
        self._source: tuple[str, Any] | None = None  # ("demo", None) | ("file", path)
        self._load_site: Callable[[Path], Site] | None = None  # open_file's loader
        self.check_s = check_s
        self.watch: SiteFileWatch | None = None  # the site file, loaded and watched
        self.problems: list[str] = []  # why the site file cannot be shown (the page says)
        self._file_note = ""  # shown with the problems (e.g. "started without --config")
        self._failures = 0
        self._restart_at: float | None = None
        self._last_error = ""  # why the last start failed, one line
        self._dirty = False
        self._closing = False
        self._bridge_up = False  # `started` came: a dead runtime now means a restart
        self.fresh = assess(None, self.started_at, 10.0, self.started_at)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.header = WallHeader()
        lay.addWidget(self.header)
        self.faults = WallLabel("", "wallFault")  # storage faults: persistent, named
        self.faults.setWordWrap(True)
        self.faults.hide()
        lay.addWidget(self.faults)
        self.dir_warning = WallLabel("", "wallWarn")  # one site, two data dirs (core.datadir)
        self.dir_warning.setWordWrap(True)
        self.dir_warning.hide()
        lay.addWidget(self.dir_warning)
        self.banner = WallLabel("", "wallBanner")
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setWordWrap(True)
        self.banner.hide()
        lay.addWidget(self.banner)
        self.stack = QStackedWidget()
        self.waiting = WallLabel("Starting…", "wallValue")
        self.waiting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.waiting.setWordWrap(True)  # "Reading <long path>…" never widens the window
        self.waiting.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.stack.addWidget(self.waiting)
        self.problem_page = SiteProblemPage()
        self.stack.addWidget(self.problem_page)
        lay.addWidget(self.stack, 1)
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self.tick)
        self._tick.start()
        self.apply_scale(self.scale)
        self.tick()

    # -- sizes ------------------------------------------------------------------
    def apply_scale(self, s: WallScale) -> None:
        self.scale = s
        self.setStyleSheet(style_sheet(self.theme, s))
        self.header.apply_scale(s)
        self.problem_page.apply_scale(s)
        for page in self.pages:
            page.apply_scale(s)

    def resizeEvent(self, ev: Any) -> None:
        # full screen: the unit follows the screen's height, never the window's:
        # content taller than the screen must not grow the type, which grows the
        # content (a window of 17,000 px). A plain window (tests) uses its own.
        height = self.height()
        screen = self.screen()
        if self.isFullScreen() and screen is not None:
            height = screen.geometry().height()
        s = WallScale.for_height(height)
        if s != self.scale:
            self.apply_scale(s)
        super().resizeEvent(ev)

    # -- opening the source ------------------------------------------------------
    def open_demo(self) -> None:
        self._source = ("demo", None)
        self._start()

    def open_file(self, path: Path, site: Site | None = None, note: str = "", *,
                  load_site: Callable[[Path], Site]) -> None:
        """`load_site`: how to read the site file (the caller's: the wall is a
        view and loads nothing itself), run off the GUI thread. `site`: the file
        already loaded by the caller, used for the first start. Restarts read
        the file again (it may have been fixed). `note`: said with any problems."""
        self._source = ("file", path)
        self._load_site = load_site
        self._file_note = note
        if site is not None:
            self._start_bridge(site, None)
        else:
            self._start()

    def open_remote(self, url: str, token: str, ca_file: Path | None = None,
                    token_file: Path | None = None) -> None:
        """A site service's data (`--wall --connect URL`): the wall polls nothing;
        a lost service is retried by the client (and by the watchdog). With
        `token_file` the token is read from it at every start: a missing or
        empty file is the banner's one line until it is there."""
        self._source = ("remote", (url, token, ca_file, token_file))
        self._start()

    def open_site(self, site: Site) -> None:
        """An already loaded site (tests, embedding): restarts reuse it."""
        self._source = ("site", site)
        self._start()

    def _start(self) -> None:
        assert self._source is not None
        kind, src = self._source  # src: a Path, or the Site for "site"
        self._restart_at = None
        if kind == "file":
            self._load_file(src)  # -> _on_file_loaded or _on_file_problems
            return
        if kind == "remote":
            from opsconsole.client import ApiError, read_token
            from opsconsole.ui.remote import remote_factory

            url, token, ca_file, token_file = src
            if token_file is not None:
                try:
                    token = read_token(token_file)
                except ApiError as exc:
                    self._on_failed(str(exc))  # the banner says it; the watchdog retries
                    return
            self._start_bridge(None, None, remote_factory(url, token, ca_file))
            return
        if kind == "demo" and self.embedded:  # the child service runs the simulated site
            self._start_bridge(None, None, self._embedded_factory(demo=True))
            return
        try:
            site, demo = (None, self.demo_factory()) if kind == "demo" else (src, None)
        except ImportError as exc:
            self._on_failed(f"cannot start the demo: {exc}")
            return
        self._start_bridge(site, demo)

    # -- the site file: loaded off the GUI thread, watched while broken -----------
    def _load_file(self, path: Path) -> None:
        if self.watch is None or self.watch.path != path:
            if self.watch is not None:
                self.watch.close()
                self.watch.deleteLater()
            assert self._load_site is not None  # set by open_file with the path
            self.watch = SiteFileWatch(path, self._load_site, self.check_s, self)
            self.watch.loaded.connect(self._on_file_loaded)
            self.watch.problems.connect(self._on_file_problems)
        if self.session is None and not self.problems:
            self.waiting.set_text(breakable(f"Reading {path}…"))
        self.watch.load_now()

    def _on_file_loaded(self, site: Site) -> None:
        if self._closing:
            return
        if self.problems:
            log.info("wall: %s loads again; starting", site.path)
            self.problems = []
            self.stack.setCurrentWidget(self.pages[self.rotator.current] if self.rotator
                                        else self.waiting)
            self.waiting.set_text("Starting…")
        self._start_bridge(site, None)

    def _on_file_problems(self, problems: list[str]) -> None:
        if self._closing or self.watch is None:
            return
        self._stop_bridge()  # nothing to poll: the collector ran on the file that broke
        if problems != self.problems:  # logged once per new set, not every check
            log.warning("wall: cannot load %s (%d problem%s); checking it every %g s",
                        self.watch.path, len(problems), "s" * (len(problems) != 1),
                        self.check_s)
            for line in problems:
                log.warning("wall: %s", line)
        self.problems = list(problems)
        self.problem_page.show_problems(self.watch.path, problems, self._file_note)
        self._show_problem_status()
        self.stack.setCurrentWidget(self.problem_page)
        self.site_problems.emit(list(problems))

    def _show_problem_status(self) -> None:
        if self.watch is not None:
            self.problem_page.show_status(self.watch.checked_at, self.watch.loading,
                                          self.check_s)

    def _embedded_factory(self, demo: bool) -> RuntimeFactory:
        from opsconsole.ui.embedded import embedded_factory

        return embedded_factory(demo=demo, data_dir=self.data_dir, read_only=True)

    def _start_bridge(self, site: Site | None, demo: Any,
                      factory: RuntimeFactory | None = None) -> None:
        if factory is None and self.embedded and demo is None:  # a site file: its service
            factory = self._embedded_factory(demo=False)
        self._restart_at = None
        self._stop_bridge()
        self.bridge = CollectorBridge(site, demo_site=demo,
                                      runtime_factory=factory or self.runtime_factory,
                                      parent=self)
        self.bridge.started.connect(self._on_started)
        self.bridge.failed.connect(self._on_failed)
        self.bridge.batch.connect(self._on_batch)
        self.bridge.cycle.connect(self._on_cycle)
        self.bridge.start()

    def _on_started(self, site: Site) -> None:
        self._failures = 0
        self._last_error = ""
        self._bridge_up = True
        same = (self.session is not None
                and [d.id for d in self.session.devices] == [d.id for d in site.devices()])
        if not same:
            self._build_session(site)
        self._start_replica()
        log.info("wall: collector running on %s (%d devices)", site.name, len(site.devices()))
        self._show_dir_warning(site)
        self._start_duty_states()

    def _on_failed(self, error: str) -> None:
        self._last_error = error  # the banner says why, e.g. a corrupt journal the service refused
        self._failures += 1
        delay = RESTART_BACKOFF_S[min(self._failures, len(RESTART_BACKOFF_S)) - 1]
        log.warning("wall: data source failed (%s); retrying in %.0f s", error, delay)
        self._restart_at = self.clock() + delay
        if self.session is None:  # nothing drawn yet: the screen says why, in one line
            self.waiting.set_text(breakable(f"{error} (retrying in {delay:.0f} s)"))
        self.site_failed.emit(error)

    def _on_batch(self, batch: list[Reading]) -> None:
        if self.session is not None:
            self.session.ingest(batch)

    def _on_cycle(self, stats: CycleStats) -> None:
        if self.session is not None:
            self.session.on_cycle(stats)

    # -- session and pages ---------------------------------------------------------
    def _build_session(self, site: Site) -> None:
        self._drop_pages()
        if self.session is not None:
            self.session.stop()
            self.session.deleteLater()
        from opsconsole.ui.remote import RemoteRuntime

        runtime = self.bridge.runtime if self.bridge is not None else None
        self.session = SiteSession(site, replica=isinstance(runtime, RemoteRuntime),
                                   parent=self)
        self.session.first_data.connect(self.first_data)
        if self.fault_feed is not None:
            self.fault_feed.close()
            self.fault_feed.deleteLater()
        self.fault_feed = FaultFeed(self.session.storage_faults, self)
        self.fault_feed.changed.connect(self._show_faults)
        self._show_faults(self.fault_feed.current())
        self.session.updated.connect(self._mark_dirty)
        self.page_names = list(site.wall.pages)  # validated by core/wallconfig.py
        for name in self.page_names:
            page = PAGE_TYPES[name](self.session, self.theme)
            page.apply_scale(self.scale)
            self.pages.append(page)
            self.stack.addWidget(page)
        for w in self.findChildren(QWidget):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys always reach the window
        self.header.site.set_text(site.name)
        self.header.set_pages([p.title for p in self.pages])
        rotate_s = self.rotate_override or site.wall.rotate_s
        self.rotator = PageRotator(len(self.pages), rotate_s, self)
        self.rotator.changed.connect(self._on_page)
        self._on_page(0, False)

    def _drop_pages(self) -> None:
        if self.rotator is not None:
            self.rotator.stop()
            self.rotator.deleteLater()
            self.rotator = None
        for page in self.pages:
            self.stack.removeWidget(page)
            page.deleteLater()
        self.pages = []

    @property
    def remote(self) -> bool:
        return self._source is not None and self._source[0] == "remote"

    def _start_replica(self) -> None:
        """Connected to a site service: its alarms, events and link state."""
        from opsconsole.ui.remote import RemoteRuntime

        runtime = self.bridge.runtime if self.bridge is not None else None
        if self.replica is not None:
            self.replica.deleteLater()
            self.replica = None
        if self.session is not None and isinstance(runtime, RemoteRuntime):
            self.replica = ReplicaFeed(runtime, self.session, self)
            self.replica.link_changed.connect(lambda *_: self.tick())
            self.replica.states_changed.connect(self._on_service_states)
            self.replica.data_dir_known.connect(self._on_service_dir)
            if self.replica.data_dir:  # its snapshot came first
                self._on_service_dir(self.replica.data_dir)

    def _on_service_dir(self, service_dir: str) -> None:
        """The service keeps the site's files elsewhere than this wall would: say so."""
        from opsconsole.ui.services import service_dir_warning

        warning = service_dir_warning(
            service_dir, runtime=self.bridge.runtime if self.bridge is not None else None,
            data_dir=self.data_dir, demo=self._source is not None and self._source[0] == "demo")
        self.dir_warning.set_text(warning or "")
        self.dir_warning.setVisible(bool(warning))

    def _on_service_states(self) -> None:
        """The service's duty states changed (or its snapshot came): at once."""
        if self.duty_states is not None and self.replica is not None:
            self.duty_states.take(self.replica.runtime.states)

    def _mark_dirty(self, _changed: list[int]) -> None:
        self._dirty = True

    def _on_page(self, index: int, pinned: bool) -> None:
        page = self.pages[index]
        if not self.problems:  # the problem page stays until the file is fixed
            self.stack.setCurrentWidget(page)
        page.refresh()  # fresh as it shows, never a page from a minute ago
        self.header.show_page(index, pinned)

    def current_page(self) -> str | None:
        return self.page_names[self.rotator.current] if self.rotator else None

    def _start_duty_states(self) -> None:
        runtime = self.bridge.runtime if self.bridge is not None else None
        if self.duty_states is not None:
            self.duty_states.close()
            self.duty_states.deleteLater()
            self.duty_states = None
        if self.session is None or not hasattr(runtime, "duty_controller"):
            return
        data_dir = self.data_dir
        if data_dir is None and self._source == ("demo", None):
            data_dir = Path(tempfile.mkdtemp(prefix="opsconsole-wall-")) / "data"
        faults = self.session.storage_faults
        if self.replica is not None:  # the service's journal: its faults come with its stream
            self.duty_states = ReadOnlyDutyStates(runtime, data_dir, None, self)
            self.duty_states.changed.connect(self._on_duties)
            self.duty_states.take(self.replica.runtime.states)
            return
        try:
            self.duty_states = ReadOnlyDutyStates(runtime, data_dir, faults, self)
        except Exception as exc:  # no journal: the tiles say the duty is unknown
            if isinstance(exc, StorageError):
                faults.report_error(exc)  # one log line; the fault banner names the file
            else:
                log.warning("wall: duty states unavailable: %s", exc)
            self._duty_retry_at = self.clock() + STATES_EVERY_S
            return
        self._duty_retry_at = None
        faults.clear(SWITCHING)
        self.duty_states.changed.connect(self._on_duties)

    def _on_duties(self, badges: dict[str, str]) -> None:
        if self.session is None:
            return
        states = self.duty_states.states if self.duty_states is not None else {}
        for gid, st in states.items():  # duty checks wait while a switch is unfinished
            self.session.alarms.set_duty(gid, st.duty, st.status)
        for page in self.pages:
            if isinstance(page, TotalsPage):
                page.duties = dict(badges)
        self._dirty = True

    def _show_dir_warning(self, site: Site) -> None:
        """A wall started as another OS user, or on another copy of the site
        file, must not read another journal silently."""
        warning = None
        if (self._source is not None and self._source[0] not in ("demo", "remote")
                and not self.embedded):  # a service names its data dir itself
            from opsconsole.core.datadir import resolve_data_dir

            warning = resolve_data_dir(site, self.data_dir).warning
        self.dir_warning.set_text(warning or "")
        self.dir_warning.setVisible(bool(warning))

    def _show_faults(self, faults: list[StorageFault]) -> None:
        lines = fault_lines(faults)
        self.faults.set_text("\n".join(lines))
        self.faults.setVisible(bool(lines))

    # -- the one-second tick: clock, freshness, watchdog, visible page -------------
    def tick(self) -> None:
        now = self.clock()
        s = self.session
        interval = s.site.poll_interval_s if s is not None else 10.0
        newest = newest_answer(s.store.last_answer_ts) if s is not None else None
        self.fresh = assess(newest, now, interval, self.started_at)
        self.header.show_time(now, self.fresh, self.theme.warn, self.theme.text)
        self._watchdog(now)  # first: the banner then says what the watchdog is doing
        if self._duty_retry_at is not None and now >= self._duty_retry_at and self._bridge_up:
            self._start_duty_states()  # the journal may have been fixed
        if self.problems:  # the full-screen page says it all; no banner on top
            self.banner.hide()
            self._show_problem_status()
        else:
            self._show_banner(self.fresh)
        if self._dirty and self.rotator is not None:
            self._dirty = False
            self.pages[self.rotator.current].refresh()

    def _show_banner(self, fresh: Freshness) -> None:
        link = self.replica.banner_text() if self.replica is not None else ""
        if link:  # the service is away: said at once, for as long as it lasts
            self.banner.set_text(link)
            self.banner.show()
            return
        if not fresh.stale:
            if self.banner.isVisible():
                log.info("wall: data fresh again")
            self.banner.hide()
            return
        if fresh.newest_ts is None:
            waited = units.duration(max(0.0, self.clock() - self.started_at))
            text = f"NO DATA — nothing has answered for {waited}"
        else:
            text = (f"STALE DATA — newest reading {units.clock(fresh.newest_ts)}, "
                    f"{units.duration(fresh.age_s or 0.0)} ago")
        text += f" · {self.source_state()}"
        if not self.banner.isVisible():
            log.warning("wall: %s", text)
        self.banner.set_text(text)
        self.banner.show()

    def source_state(self) -> str:
        if self._restart_at is not None:
            left = max(0.0, self._restart_at - self.clock())
            why = f": {self._last_error}" if self._last_error else ""
            return f"collector down, retrying in {left:.0f} s{why}"
        if self.bridge is None or not self.bridge.running:
            return "site service lost" if self.remote or self.embedded else "collector stopped"
        return "devices not answering"

    def _watchdog(self, now: float) -> None:
        if self._closing or self._source is None:
            return
        if self._restart_at is not None:
            if now >= self._restart_at:
                self.restarts += 1
                log.info("wall: restarting the collector (attempt %d)", self._failures + 1)
                self._start()
            return
        b = self.bridge
        if b is not None and self._bridge_up and not b.running:
            self._on_failed("the collector stopped")

    # -- keys: pin, choose, step ---------------------------------------------------
    def keyPressEvent(self, ev: QKeyEvent) -> None:
        key = ev.key()
        r = self.rotator
        if key == Qt.Key.Key_Q and ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.close()
        elif r is None:
            super().keyPressEvent(ev)
        elif key in (Qt.Key.Key_P, Qt.Key.Key_Space):
            r.toggle_pin()
        elif Qt.Key.Key_1 <= key <= Qt.Key.Key_9 and key - Qt.Key.Key_1 < len(self.pages):
            r.show(key - Qt.Key.Key_1)
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_PageDown, Qt.Key.Key_Down):
            r.next()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_PageUp, Qt.Key.Key_Up):
            r.previous()
        else:
            super().keyPressEvent(ev)

    # -- shutdown ------------------------------------------------------------------------
    def _stop_bridge(self) -> None:
        self._bridge_up = False
        if self.bridge is not None:  # first: joins the loop, so no states() call is left
            self.bridge.stop()
            self.bridge.deleteLater()
            self.bridge = None
        if self.duty_states is not None:
            self.duty_states.close()
            self.duty_states.deleteLater()
            self.duty_states = None

    def close_site(self) -> None:
        self._closing = True
        self._tick.stop()
        if self.watch is not None:
            self.watch.close()
        self._stop_bridge()
        self._drop_pages()
        if self.session is not None:
            self.session.stop()
            self.session.deleteLater()
            self.session = None

    def closeEvent(self, event: QCloseEvent) -> None:
        self.close_site()
        event.accept()
