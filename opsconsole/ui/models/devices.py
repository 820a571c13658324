"""The devices table: one row per device, columns per kind.

Sorting is done here, on numpy arrays (argsort over the store's current
values), and published as one layout change: a proxy's default sort would call
back into Python for every comparison, which freezes on 10,000 rows. The
proxy only filters (search text, group) from a precomputed mask.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleDataSpan,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
)
from PySide6.QtGui import QColor

from opsconsole.core.metrics import CATALOGUE
from opsconsole.ui import units
from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import Theme

DEVICE_ID_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
CHANGED_ROLES = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole,
                 Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ToolTipRole, SORT_ROLE]
Index = QModelIndex | QPersistentModelIndex
MAX_RUNS = 64  # more runs of changed rows than this in one batch: signal the span
COALESCE_MS = 200  # changed rows are signalled at most this often
_ROOT = QModelIndex()  # the invisible root: a flat table has no children


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    kinds: tuple[str, ...] = ()  # device kinds it applies to; () = all
    metric: str | None = None  # a catalogue metric read from the store
    numeric: bool = False
    live: bool = False  # changes with readings (re-sort while sorted by it)


def _metric_col(name: str, label: str | None = None) -> Column:
    info = CATALOGUE[name]
    unit = f" ({info.unit})" if info.unit else ""
    return Column(name, (label or info.label) + unit, info.kinds, name, info.numeric, True)


COLUMNS: list[Column] = [
    Column("id", "Device"),
    Column("group", "Group"),
    Column("kind", "Kind"),
    Column("status", "Status", live=True),
    Column("alarm", "Alarm", live=True),
    _metric_col("hashrate_ths", "Hashrate"),
    Column("hashrate_pct", "% nominal", ("miner",), None, True, True),
    _metric_col("power_w"),
    _metric_col("temp_c", "Temp"),
    _metric_col("temp_inlet_c", "Inlet"),
    _metric_col("fan_rpm"),
    _metric_col("state"),
    _metric_col("firmware"),
    _metric_col("model"),
    Column("uptime_s", "Uptime", ("miner", "pdu", "host"), "uptime_s", True, True),
    _metric_col("util_pct", "GPU util"),
    _metric_col("mem_used_mib", "GPU mem"),
    _metric_col("mem_temp_c", "Mem temp"),
    _metric_col("power_limit_w", "Power limit"),
    _metric_col("sm_clock_mhz"),
    _metric_col("xid_last"),
    _metric_col("throttle_reasons", "Throttle"),
    _metric_col("tokens_per_s"),  # inference servers
    _metric_col("requests_waiting", "Queue"),
    _metric_col("ttft_p95_s", "TTFT p95"),
    Column("address", "Address"),
    Column("profile", "Profile"),
    Column("rack", "Rack"),
    Column("position", "Pos", numeric=True),
    Column("age", "Last reading", numeric=True, live=True),
    Column("poll_ms", "Poll (ms)", numeric=True, live=True),
    Column("error", "Last error", live=True),
]
COLUMN_KEYS = [c.key for c in COLUMNS]
DEFAULT_COLUMNS = ["id", "group", "kind", "firmware", "status", "alarm", "hashrate_ths",
                   "hashrate_pct", "power_w", "temp_c", "fan_rpm", "util_pct", "model", "address",
                   "error"]


class DevicesModel(QAbstractTableModel):
    def __init__(self, session: SiteSession, theme: Theme, parent: Any = None):
        super().__init__(parent)
        self.session = session
        self.theme = theme
        self.store = session.store
        devs = session.devices
        n = len(devs)
        self._order = np.arange(n)  # row -> device index
        self._row_of = np.arange(n)  # device index -> row
        self.sort_column = -1
        self.sort_order = Qt.SortOrder.AscendingOrder
        self._last_sort = 0.0
        # Static text, computed once.
        self._static: dict[str, list[str]] = {
            "id": [d.id for d in devs],
            "group": [d.group for d in devs],
            "kind": [d.kind for d in devs],
            "address": [d.address for d in devs],
            "profile": [d.profile or "" for d in devs],
            "rack": [d.rack or "" for d in devs],
            "position": ["" if d.position is None else str(d.position) for d in devs],
        }
        self.haystack = [" ".join((d.id, d.address, d.group, d.profile or "")).lower()
                         for d in devs]
        self._applies = [[not c.kinds or d.kind in c.kinds for d in devs] for c in COLUMNS]
        self._api = [d.api is not None for d in devs]
        self._status_colors = {s: theme.status_color(s)
                               for s in ("ok", "partial", "unreachable", "error", "pending")}
        bad = QColor(theme.bad)
        bad.setAlpha(55)
        self._alarm_bg = bad
        stale = QColor(theme.stale)
        stale.setAlpha(45)
        self._stale_bg = stale
        self._muted = QColor(theme.muted)
        # changed rows are gathered and signalled at most every COALESCE_MS: at
        # 20,000 devices a pass arrives as ~50 ingest slices, and a repaint of
        # the visible rows per slice cost the GUI thread more than the slices
        self._changed: list[np.ndarray] = []
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(COALESCE_MS)
        self._flush.timeout.connect(self._signal_changed)
        session.updated.connect(self.on_updated)

    # -- shape ----------------------------------------------------------------
    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section].label
            if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[section].numeric:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def device_at(self, row: int) -> int:
        return int(self._order[row])

    def row_of(self, device_index: int) -> int:
        return int(self._row_of[device_index])

    # -- values ---------------------------------------------------------------
    def _value(self, col: Column, i: int) -> Any:
        """The raw value of a cell (None when unknown / not applicable)."""
        key = col.key
        if key in self._static:
            return self._static[key][i]
        r = self.store.latest[i]
        if key == "status":
            return r.status.value if r is not None else "pending"
        if key == "alarm":
            per = self.session.alarms.active.get(self.session.devices[i].id)
            return "; ".join(a.message for a in per.values()) if per else ""
        if r is None:
            return None
        if key == "hashrate_pct":
            rate, nominal = r.metrics.get("hashrate_ths"), r.metrics.get("hashrate_nominal_ths")
            if isinstance(rate, int | float) and isinstance(nominal, int | float) and nominal:
                return 100.0 * rate / nominal
            return None
        if key == "age":
            return time.time() - r.ts
        if key == "poll_ms":
            return r.duration_s * 1000.0
        if key == "error":
            return r.error or ""
        if col.metric is not None:
            return r.metrics.get(col.metric)
        return None

    def _text(self, col: Column, v: Any) -> str:
        if v is None or v == "":
            return ""
        if col.key == "hashrate_pct":
            return units.pct(v)
        if col.key == "age":
            return units.duration(v) + " ago"
        if col.key == "poll_ms":
            return f"{v:.0f}"
        if col.metric is not None:
            return units.metric(col.metric, v, with_unit=False)
        return str(v)

    def multiData(self, index: Index, roles: QModelRoleDataSpan) -> None:
        """Every role of one cell in one call. Qt's delegates ask for seven
        roles per painted cell; answered one by one, each is a separate entry
        into Python that must win the GIL from the collector and history
        threads, and at 20,000 devices those waits add up to long stalls."""
        for rd in roles:
            rd.setData(self.data(index, rd.role()))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, c = index.row(), index.column()
        if not (0 <= row < len(self._order) and 0 <= c < len(COLUMNS)):
            return None
        i = int(self._order[row])
        col = COLUMNS[c]
        if role == Qt.ItemDataRole.DisplayRole:
            if not self._applies[c][i]:
                return ""
            v = self._value(col, i)
            if v is None and col.key == "power_w" and self._silent_power(i):
                return units.NOT_REPORTED
            return self._text(col, v)
        if role == Qt.ItemDataRole.ForegroundRole:
            if col.key == "status":
                return self._status_colors[self.session.status_of(i)]
            if col.key in ("error", "age", "address", "profile", "firmware", "model"):
                return self._muted
            if col.key == "power_w" and self._silent_power(i):
                return self._muted
            return None
        if role == Qt.ItemDataRole.BackgroundRole:
            if self.session.alarmed[i]:
                return self._alarm_bg
            if self.session.status_of(i) in ("unreachable", "error"):
                return self._stale_bg
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if col.numeric:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col.key in ("status", "error", "alarm"):
                r = self.store.latest[i]
                parts = [self.session.devices[i].id, self.session.status_of(i)]
                if r is not None and r.error:
                    parts.append(r.error)
                per = self.session.alarms.active.get(self.session.devices[i].id)
                if per:
                    parts += [a.message for a in per.values()]
                return "\n".join(parts)
            return None
        if role == DEVICE_ID_ROLE:
            return self.session.devices[i].id
        if role == SORT_ROLE:
            v = self._value(col, i) if self._applies[c][i] else None
            return v if isinstance(v, int | float | str) else None
        return None

    def _silent_power(self, i: int) -> bool:
        """An api miner that answered without a power reading: its firmware has none."""
        if not self._api[i]:
            return False
        r = self.store.latest[i]
        return r is not None and r.status.value in ("ok", "partial") and \
            "power_w" not in r.metrics

    # -- updates ----------------------------------------------------------------
    def on_updated(self, changed: list[int]) -> None:
        """Note the changed devices; dataChanged follows within COALESCE_MS."""
        if not len(changed):
            return
        self._changed.append(np.asarray(changed, dtype=np.int64))
        if not self._flush.isActive():
            self._flush.start()

    def _signal_changed(self) -> None:
        """dataChanged for the changed rows only, one signal per run of rows."""
        changed, self._changed = self._changed, []
        if not changed or not len(self._order):
            return
        rows = np.unique(self._row_of[np.concatenate(changed)])
        last = len(COLUMNS) - 1
        breaks = np.nonzero(np.diff(rows) != 1)[0] + 1
        # A batch touching rows all over a big table: one signal over the span
        # costs the views less than hundreds of small ones.
        runs = [rows[[0, -1]]] if len(breaks) >= MAX_RUNS else np.split(rows, breaks)
        for run in runs:
            self.dataChanged.emit(self.index(int(run[0]), 0), self.index(int(run[-1]), last),
                                  CHANGED_ROLES)
        if (self.sort_column >= 0 and COLUMNS[self.sort_column].live
                and time.monotonic() - self._last_sort > 5.0):
            self.sort(self.sort_column, self.sort_order)  # keep a live sort roughly live

    # -- sorting ------------------------------------------------------------------
    def _sort_keys(self, c: int) -> np.ndarray:
        col = COLUMNS[c]
        n = len(self.session.devices)
        if col.metric is not None and col.metric in self.store.current:
            return self.store.current[col.metric].copy()
        if col.numeric:
            vals = [self._value(col, i) if self._applies[c][i] else None for i in range(n)]
            return np.array([float(v) if isinstance(v, int | float) else np.nan for v in vals])
        vals = [self._value(col, i) if self._applies[c][i] else None for i in range(n)]
        return np.array(["" if v is None else str(v).lower() for v in vals])

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sort_column, self.sort_order = column, order
        self._last_sort = time.monotonic()
        n = len(self._order)
        if column < 0 or column >= len(COLUMNS) or n == 0:
            new = np.arange(n)
        else:
            keys = self._sort_keys(column)
            desc = order == Qt.SortOrder.DescendingOrder
            if keys.dtype.kind == "f":
                missing = np.isnan(keys)
                k = np.where(missing, 0.0, -keys if desc else keys)
                # lexsort: last key is primary; missing values always go last
                new = np.lexsort((np.arange(n), k, missing))
            else:
                empty = keys == ""
                new = np.argsort(keys, kind="stable")
                if desc:
                    new = new[::-1]
                new = np.concatenate((new[~empty[new]], new[empty[new]]))
        if np.array_equal(new, self._order):
            return
        self._relayout(new)

    def _relayout(self, new_order: np.ndarray) -> None:
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        devices = [int(self._order[ix.row()]) for ix in old]
        self._order = np.asarray(new_order, dtype=np.int64)
        self._row_of = np.empty_like(self._order)
        self._row_of[self._order] = np.arange(len(self._order))
        self.changePersistentIndexList(
            old, [self.index(int(self._row_of[d]), ix.column()) for d, ix in zip(devices, old,
                                                                               strict=True)])
        self.layoutChanged.emit()


class DevicesProxy(QSortFilterProxyModel):
    """Filters by search text (id, address, group, profile) and group; the
    sort itself is delegated to the source model (see the module docstring)."""

    def __init__(self, source: DevicesModel, parent: Any = None):
        super().__init__(parent)
        self.src = source
        self.setSourceModel(source)
        self.setDynamicSortFilter(False)  # the filter reads only static fields
        self.search = ""
        self.group: str | None = None
        self._accept = np.ones(len(source.session.devices), dtype=bool)

    def set_search(self, text: str) -> None:
        self.search = text.strip().lower()
        self._refilter()

    def set_group(self, group: str | None) -> None:
        self.group = group
        self._refilter()

    def _refilter(self) -> None:
        s = self.src.session
        mask = np.ones(len(s.devices), dtype=bool)
        if self.group is not None:
            mask &= s.store.group_idx == s.store.scope_index[self.group]
        if self.search:
            terms = self.search.split()
            mask &= np.array([all(t in h for t in terms) for h in self.src.haystack], dtype=bool)
        self._accept = mask
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10
            self.beginFilterChange()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        return bool(self._accept[self.src._order[source_row]])

    def multiData(self, index: Index, roles: QModelRoleDataSpan) -> None:
        # QSortFilterProxyModel answers multiData with one data() per role;
        # forward it whole (see DevicesModel.multiData).
        self.src.multiData(self.mapToSource(index), roles)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.src.sort(column, order)
