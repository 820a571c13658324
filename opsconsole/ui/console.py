"""The console page: every panel bound to one SiteSession, and the wiring
between them (group selection filters, device activation opens the detail)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from opsconsole.core.alarms import Event, EventKind
from opsconsole.ui.alarm_actions import AlarmsPanel
from opsconsole.ui.models.events import AlarmsModel, EventLogModel
from opsconsole.ui.session import SiteSession
from opsconsole.ui.settings import Settings
from opsconsole.ui.theme import Theme
from opsconsole.ui.views.charts import ChartsPanel
from opsconsole.ui.views.detail import DeviceDetail
from opsconsole.ui.views.devices_table import DEFAULT_COLUMNS, DevicesPanel
from opsconsole.ui.views.earnings import EarningsPanel
from opsconsole.ui.views.events_view import DeviceListView
from opsconsole.ui.views.gpu_panel import GpuPanel
from opsconsole.ui.views.header import SiteHeader
from opsconsole.ui.views.inference_panel import InferencePanel
from opsconsole.ui.views.rackmap import MODES, RackMap
from opsconsole.ui.views.tiles import GroupTiles
from opsconsole.ui.views.title_bar import title_bar

REFRESH_MS = 1000  # header, tiles, rack colours: at most once a second


def _panel(title: str, body: QWidget, extra: list[QWidget] | None = None) -> QFrame:
    frame = QFrame()
    frame.setObjectName("panel")
    lay = QVBoxLayout(frame)
    lay.setContentsMargins(6, 4, 6, 6)
    lay.setSpacing(3)
    if title or extra:
        bar = title_bar(title.upper()) if title else QHBoxLayout()
        bar.addStretch(1)
        for w in extra or []:
            bar.addWidget(w)
        lay.addLayout(bar)
    lay.addWidget(body, 1)
    return frame


class ConsoleView(QWidget):
    def __init__(self, session: SiteSession, theme: Theme, settings: Settings,
                 status: Callable[[str], None] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.theme = theme
        self.settings = settings
        self._status = status
        self._dirty = True
        self._alarms_dirty = False
        self.details: dict[str, DeviceDetail] = {}

        self.header = SiteHeader(session, theme)
        self.tiles = GroupTiles(session, theme)
        self.rackmap = RackMap(session, theme)
        self.rack_mode = QComboBox()
        for key, label in MODES.items():
            self.rack_mode.addItem(label, key)
        k = self.rack_mode.findData(settings.rack_metric)
        self.rack_mode.setCurrentIndex(max(0, k))
        self.rackmap.set_mode(self.rack_mode.currentData())
        self.rack_mode.currentIndexChanged.connect(self._on_rack_mode)
        self.devices = DevicesPanel(session, theme, settings.columns(DEFAULT_COLUMNS),
                                    settings.set_columns)
        self.charts = ChartsPanel(session, theme, settings.chart_window_s)
        self.charts.window_box.currentIndexChanged.connect(
            lambda _i: setattr(self.settings, "chart_window_s", self.charts.window_s))
        self.gpus = GpuPanel(session, theme)
        self.event_model = EventLogModel(theme, self)
        self.alarm_model = AlarmsModel(session.alarms, theme, self)
        self.events_view = DeviceListView()
        self.events_view.setModel(self.event_model)
        self.events_view.set_widths([70, 110, 90])
        self.alarms_view = DeviceListView()
        self.alarms_view.setModel(self.alarm_model)
        self.alarms_view.set_widths([110, 90, 150, 260, 90])

        self.tabs = QTabWidget()
        self.tabs.addTab(self.gpus, "GPUs")
        self.alarms_panel = AlarmsPanel(session, self.alarms_view, self.alarm_model)
        self.tabs.addTab(self.alarms_panel, "Alarms")
        self.tabs.addTab(self.events_view, "Events")
        self.inference = InferencePanel(session, theme)
        self.tabs.addTab(self.inference, "Inference")
        # the tiles' dict of journal duties; a bound dict method, no cycle back to this view
        self.earnings = EarningsPanel(session, theme, duty_of=self.tiles.states.get)
        self.tabs.addTab(self.earnings, "Earnings")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 0)
        lay.setSpacing(6)
        lay.addWidget(self.header)
        lay.addWidget(self.tiles)
        self.left = QSplitter(Qt.Orientation.Vertical)
        self.left.addWidget(_panel("Rack map", self.rackmap, [QLabel("Colour by"),
                                                               self.rack_mode]))
        devices_frame = _panel("", self.devices)
        self.left.addWidget(devices_frame)
        self.left.setStretchFactor(0, 2)
        self.left.setStretchFactor(1, 3)
        self.right = QSplitter(Qt.Orientation.Vertical)
        self.right.addWidget(_panel("", self.charts))
        self.right.addWidget(self.tabs)
        self.right.setStretchFactor(0, 3)
        self.right.setStretchFactor(1, 2)
        self.main = QSplitter(Qt.Orientation.Horizontal)
        self.main.addWidget(self.left)
        self.main.addWidget(self.right)
        self.main.setStretchFactor(0, 11)
        self.main.setStretchFactor(1, 9)
        lay.addWidget(self.main, 1)

        self.tiles.group_selected.connect(self.select_group)
        for src in (self.rackmap, self.devices, self.gpus, self.events_view, self.alarms_view):
            src.device_activated.connect(self.open_device)
        session.updated.connect(self._on_updated)
        session.events.connect(self._on_events)
        session.cycle_done.connect(lambda _s: self._mark())
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh_in_steps)
        self._timer.start()
        self._steps: list[Callable[[], None]] = []  # what the current staged refresh has left
        self._step_timer = QTimer(self)  # the next step, on the next event-loop turn
        self._step_timer.setSingleShot(True)
        self._step_timer.setInterval(0)
        self._step_timer.timeout.connect(self._next_step)
        self._update_tab_titles()

    # -- live updates ---------------------------------------------------------------
    def _mark(self) -> None:
        self._dirty = True

    def _on_updated(self, _changed: list[int]) -> None:
        self._dirty = True

    def _on_events(self, events: list[Event]) -> None:
        self.event_model.add(events)
        if any(e.kind in (EventKind.ALARM, EventKind.CLEARED) for e in events):
            self._alarms_dirty = True
        self._dirty = True

    def _refresh_steps(self) -> list[Callable[[], None]]:
        return [self.header.refresh, self.tiles.refresh, self.inference.refresh,
                self.earnings.refresh, self.rackmap.recolor, self._refresh_alarms,
                self._update_tab_titles]

    def refresh(self) -> None:
        """The throttled part of an update: summaries and colours, all at once."""
        if not self._dirty:
            return
        self._dirty = False
        self._steps = []
        for step in self._refresh_steps():
            step()

    def refresh_in_steps(self) -> None:
        """The same, one view per event-loop turn (the 1 Hz timer): at 20,000
        devices the views together took 25 ms on a loaded machine, each one
        a few; input and paints get in between."""
        if not self._dirty or self._steps:
            return
        self._dirty = False
        self._steps = self._refresh_steps()
        self._next_step()

    def _next_step(self) -> None:
        if not self._steps:
            return
        self._steps.pop(0)()
        if self._steps:
            self._step_timer.start()

    def _refresh_alarms(self) -> None:
        if self._alarms_dirty:
            self._alarms_dirty = False
            self.alarm_model.refresh()

    def _update_tab_titles(self) -> None:
        n = self.session.alarms.alarm_count
        self.tabs.setTabText(1, f"Alarms ({n})" if n else "Alarms")
        self.tabs.setTabText(2, f"Events ({self.event_model.rowCount()})")
        gpus = len(self.gpus.cards)
        self.tabs.setTabText(0, f"GPUs ({gpus})")
        servers = self.inference.server_count
        self.tabs.setTabText(3, f"Inference ({servers})" if servers else "Inference")

    # -- interaction ------------------------------------------------------------------
    def select_group(self, group: str | None) -> None:
        if self.tiles.selected != group:
            self.tiles.select(group)  # re-emits group_selected -> back here once
            return
        self.rackmap.set_group(group)
        self.devices.set_group(group)
        self.charts.set_group(group)
        self.gpus.set_group(group)
        self.inference.set_group(group)
        if self._status:
            self._status(f"Showing {group}" if group else "Showing the whole site")

    def _on_rack_mode(self, _i: int) -> None:
        mode = self.rack_mode.currentData()
        self.rackmap.set_mode(mode)
        self.settings.rack_metric = mode

    def open_device(self, device_id: str) -> DeviceDetail | None:
        if self.session.site.device(device_id) is None:
            return None
        dlg = self.details.get(device_id)
        if dlg is None:
            dlg = DeviceDetail(self.session, device_id, self.theme, self)
            dlg.finished.connect(lambda _r, d=device_id: self.details.pop(d, None))
            self.details[device_id] = dlg
        self.devices.select_device(device_id)
        dlg.show()
        dlg.raise_()
        return dlg

    def shutdown_views(self) -> None:
        """Stop this view's timers and close its dialogs; the session goes on
        (signals to deleted widgets are dropped by Qt with the widgets)."""
        self._timer.stop()
        self._step_timer.stop()
        self._steps = []
        self.charts._timer.stop()
        for dlg in list(self.details.values()):
            dlg.close()

    def shutdown(self) -> None:
        self.shutdown_views()
        self.session.stop()
