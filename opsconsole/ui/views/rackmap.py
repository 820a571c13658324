"""The rack map: every device as a cell, laid out by rack and position,
coloured by a chosen metric.

One widget paints everything: the layout is rasterised once per resize into
an array of device indices per pixel, and each repaint turns the devices'
colours (computed vectorised on update) into an image with one numpy lookup.
That stays cheap at 20,000 cells, where 20,000 scene items would not.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QLinearGradient, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from opsconsole.ui import units
from opsconsole.ui.session import STATUS_CODES, SiteSession
from opsconsole.ui.theme import Theme, heat_color

MODES = {"temp": "Temperature", "hashrate_pct": "Hashrate % of nominal",
         "power": "Power (of kind max)", "status": "Status"}
TEMP_RANGE = (30.0, 95.0)
PCT_RANGE = (50.0, 110.0)
PSEUDO_RACK = 20  # devices without a rack: shown in columns of this many
LEGEND_H = 26


def _natural(s: str) -> list:
    return [int(t) if t.isdecimal() else t for t in re.split(r"(\d+)", s)]


@dataclass(slots=True)
class Rack:
    label: str
    group: str
    slots: list[int]  # device index per slot, -1 = empty slot


def build_racks(session: SiteSession, group: str | None = None) -> list[Rack]:
    """Racks in site order: a group's racks together, natural name order;
    devices with no rack are put into pseudo racks per group."""
    racks: list[Rack] = []
    index = session.store.index
    for g in session.site.groups:
        if group is not None and g.id != group:
            continue
        named: dict[str, list[tuple[int | None, int]]] = {}
        loose: list[int] = []
        for d in g.devices:
            if d.rack:
                named.setdefault(d.rack, []).append((d.position, index[d.id]))
            else:
                loose.append(index[d.id])
        for name in sorted(named, key=_natural):
            slots: list[int] = []
            placed = [(p, i) for p, i in named[name] if p is not None and p >= 1]
            unplaced = [i for p, i in named[name] if p is None or p < 1]
            for p, i in sorted(placed):
                while len(slots) < p - 1:
                    slots.append(-1)
                if len(slots) == p - 1:
                    slots.append(i)
                else:  # two devices claim one position: keep both, next free slot
                    unplaced.append(i)
            slots.extend(unplaced)
            racks.append(Rack(name, g.id, slots))
        for k in range(0, len(loose), PSEUDO_RACK):
            label = g.id if len(loose) <= PSEUDO_RACK else f"{g.id}·{k // PSEUDO_RACK + 1}"
            racks.append(Rack(label, g.id, loose[k:k + PSEUDO_RACK]))
    return racks


def _argb(c: QColor) -> int:
    return int(c.rgba()) & 0xFFFFFFFF


_HEAT_LUT = np.array([_argb(heat_color(k / 255)) for k in range(256)], dtype=np.uint32)


class RackMap(QWidget):
    device_activated = Signal(str)

    def __init__(self, session: SiteSession, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.theme = theme
        self.mode = "temp"
        self.group: str | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(240, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        n = len(session.devices)
        self._colors = np.zeros(n + 2, dtype=np.uint32)  # [empty slot, background, devices…]
        self._colors[0] = _argb(QColor(theme.alt_base))
        self._colors[1] = _argb(QColor(theme.base))
        self._status_lut = np.array([_argb(theme.status_color(s)) for s in STATUS_CODES],
                                    dtype=np.uint32)
        self._na = _argb(QColor(theme.border))  # the metric does not apply to the device
        self._racks = build_racks(session)
        self._cellmap: np.ndarray | None = None  # (h, w) int32: device, -1 bg, -2 empty slot
        self._cells: dict[int, QRect] = {}
        self._labels: list[tuple[QRect, str]] = []
        self._cell = 0
        self.recolor()

    # -- configuration ----------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        if mode in MODES and mode != self.mode:
            self.mode = mode
            self.recolor()

    def set_group(self, group: str | None) -> None:
        self.group = group
        self._racks = build_racks(self.session, group)
        self._cellmap = None
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(640, 320)

    # -- colours ----------------------------------------------------------------
    def _values(self) -> tuple[np.ndarray, bool]:
        """Per device: a fraction 0..1 for the heat scale (NaN = no value),
        and whether high is bad (reverse scale for hashrate)."""
        cur = self.session.store.current
        n = len(self.session.devices)
        nan = np.full(n, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.mode == "temp":
                t = cur.get("temp_c", nan)
                return (t - TEMP_RANGE[0]) / (TEMP_RANGE[1] - TEMP_RANGE[0]), True
            if self.mode == "hashrate_pct":
                rate, nom = cur.get("hashrate_ths", nan), cur.get("hashrate_nominal_ths", nan)
                pct = np.where(nom > 0, 100.0 * rate / nom, np.nan)
                return 1.0 - (pct - PCT_RANGE[0]) / (PCT_RANGE[1] - PCT_RANGE[0]), True
            p = cur.get("power_w", nan)
            out = np.full(n, np.nan)
            kinds = self.session.kinds
            for kind in np.unique(kinds):
                m = kinds == kind
                top = np.nanmax(p[m]) if np.any(~np.isnan(p[m])) else np.nan
                if top and top > 0:
                    out[m] = p[m] / top
            return out, True

    def _applies(self) -> np.ndarray:
        """Devices whose kind reports the chosen metric (others: "n/a")."""
        rows = self.session.store.rows
        n = len(self.session.devices)
        metric = {"temp": "temp_c", "hashrate_pct": "hashrate_nominal_ths",
                  "power": "power_w"}.get(self.mode)
        if metric is None:
            return np.ones(n, dtype=bool)
        r = rows.get(metric)
        return r >= 0 if r is not None else np.zeros(n, dtype=bool)

    def recolor(self) -> None:
        s = self.session
        dev = self._colors[2:]
        codes = s.status_code
        if self.mode == "status":
            dev[:] = self._status_lut[codes]
            dev[s.alarmed & (codes == 1)] = _argb(QColor(self.theme.bad))
        else:
            frac, _ = self._values()
            known = ~np.isnan(frac)
            idx = np.clip(np.nan_to_num(frac * 255.0), 0, 255).astype(np.int64)
            dev[:] = np.where(known, _HEAT_LUT[idx], self._status_lut[0])
            dev[~self._applies()] = self._na
            down = (codes == STATUS_CODES["unreachable"]) | (codes == STATUS_CODES["error"])
            dev[down] = self._status_lut[STATUS_CODES["unreachable"]]
        self.update()

    # -- layout -----------------------------------------------------------------
    def _map_rect(self) -> QRect:
        return self.rect().adjusted(4, 2, -4, -LEGEND_H)

    def _layout(self) -> None:
        area = self._map_rect()
        w_av, h_av = max(1, area.width()), max(1, area.height())
        racks = self._racks
        self._cells, self._labels = {}, []
        cellmap = np.full((h_av, w_av), -1, dtype=np.int32)
        self._cellmap = cellmap
        if not racks:
            return
        m = max(len(r.slots) for r in racks) or 1
        nr = len(racks)
        best: tuple[float, tuple[int, int, int, int, int]] | None = None
        for per_line in range(nr, 0, -1):
            lines = math.ceil(nr / per_line)
            gap = 6 if per_line * 8 < w_av else 2
            cw = min(64, (w_av - gap * (per_line - 1)) // per_line)
            label_h = 13 if cw >= 14 else 0
            s_h = min(28, (h_av - lines * (label_h + gap)) // (lines * m))
            if cw < 2 or s_h < 2:
                continue
            s_h = min(s_h, max(4, cw))  # cells no taller than wide
            score = min(cw, 3 * s_h) * s_h  # the area of a readable cell
            if best is None or score > best[0]:
                best = (score, (s_h, cw, gap, label_h, per_line))
            if lines > 1 and s_h >= 28:
                break
        chosen = best[1] if best else None
        if chosen is None:  # more than fits at 2 px: clip, never overlap
            chosen = (2, 3, 2, 0, max(1, (w_av + 2) // 5))
        s, cw, gap, label_h, per_line = chosen
        self._cell = s
        pad = 1 if s >= 4 else 0
        for k, rack in enumerate(racks):
            line, col = divmod(k, per_line)
            x0 = col * (cw + gap)
            y0 = line * (label_h + m * s + gap) + label_h
            if label_h:
                self._labels.append((QRect(area.x() + x0 - gap // 2, area.y() + y0 - label_h,
                                           cw + gap, label_h), rack.label))
            for slot, i in enumerate(rack.slots):
                y = y0 + slot * s
                if y + s > h_av or x0 + cw > w_av:
                    continue
                cellmap[y:y + s - pad, x0:x0 + cw - pad] = -2 if i < 0 else i
                if i >= 0:
                    self._cells[i] = QRect(area.x() + x0, area.y() + y, cw - pad, s - pad)

    def resizeEvent(self, ev) -> None:
        self._cellmap = None
        super().resizeEvent(ev)

    # -- painting ---------------------------------------------------------------
    def paintEvent(self, ev: QPaintEvent) -> None:
        if self._cellmap is None or self._cellmap.shape != (
                max(1, self._map_rect().height()), max(1, self._map_rect().width())):
            self._layout()
        assert self._cellmap is not None
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(self.theme.base))
        area = self._map_rect()
        pixels = np.ascontiguousarray(self._colors[self._cellmap + 2])
        h, w = pixels.shape
        img = QImage(pixels.data, w, h, w * 4, QImage.Format.Format_ARGB32)
        p.drawImage(area.topLeft(), img)
        if self._cell >= 4:  # alarmed devices get a red outline in every mode
            p.setPen(QColor(self.theme.bad))
            p.setBrush(Qt.BrushStyle.NoBrush)
            for i in np.nonzero(self.session.alarmed)[0]:
                r = self._cells.get(int(i))
                if r is not None:
                    p.drawRect(r.adjusted(0, 0, -1, -1))
        p.setPen(QColor(self.theme.muted))
        font = p.font()
        font.setPointSizeF(7.5)
        p.setFont(font)
        for rect, text in self._labels:
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        if not self._racks:
            p.drawText(area, Qt.AlignmentFlag.AlignCenter, "No devices")
        self._paint_legend(p)
        p.end()

    def _paint_legend(self, p: QPainter) -> None:
        y = self.height() - LEGEND_H + 6
        x = 6
        fm = p.fontMetrics()
        p.setPen(QColor(self.theme.text))
        if self.mode == "status":
            items = [(self.theme.ok, "ok"), (self.theme.warn, "partial"),
                     (self.theme.stale, "unreachable"), (self.theme.bad, "error / alarm"),
                     (self.theme.pending, "no data")]
        else:
            lo, hi = {"temp": (f"{TEMP_RANGE[0]:.0f} °C", f"{TEMP_RANGE[1]:.0f} °C"),
                      "hashrate_pct": (f"≥ {PCT_RANGE[1]:.0f} %", f"≤ {PCT_RANGE[0]:.0f} %"),
                      "power": ("0", "max of its kind")}[self.mode]
            p.drawText(x, y + 11, MODES[self.mode] + ":")
            x += fm.horizontalAdvance(MODES[self.mode] + ":") + 8
            p.drawText(x, y + 11, lo)
            x += fm.horizontalAdvance(lo) + 6
            grad = QLinearGradient(x, 0, x + 140, 0)
            for k in range(5):
                grad.setColorAt(k / 4, heat_color(k / 4))
            p.fillRect(QRect(x, y + 2, 140, 11), grad)
            x += 146
            p.drawText(x, y + 11, hi)
            x += fm.horizontalAdvance(hi) + 14
            items = [(self.theme.stale, "unreachable"), (self.theme.pending, "no data"),
                     (self.theme.border, "n/a")]
        for colour, text in items:
            p.fillRect(QRect(x, y + 2, 11, 11), QColor(colour))
            p.drawText(x + 15, y + 11, text)
            x += 15 + fm.horizontalAdvance(text) + 12
        if self._cell >= 4:
            p.setPen(QColor(self.theme.bad))
            p.drawRect(QRect(x, y + 2, 10, 10))
            p.setPen(QColor(self.theme.text))
            p.drawText(x + 15, y + 11, "alarm")

    # -- interaction --------------------------------------------------------------
    def device_at(self, pos: QPoint) -> int | None:
        if self._cellmap is None:
            return None
        area = self._map_rect()
        x, y = pos.x() - area.x(), pos.y() - area.y()
        h, w = self._cellmap.shape
        if 0 <= x < w and 0 <= y < h:
            i = int(self._cellmap[y, x])
            return i if i >= 0 else None
        return None

    def tooltip_for(self, i: int) -> str:
        s = self.session
        d = s.devices[i]
        r = s.store.latest[i]
        lines = [f"<b>{d.id}</b> · {d.kind} · {d.group}",
                 f"rack {d.rack or '–'} pos {d.position if d.position is not None else '–'}",
                 f"status: {s.status_of(i)}"]
        if r is not None:
            for name in ("hashrate_ths", "power_w", "temp_c", "util_pct", "fan_rpm"):
                if r.metrics.get(name) is not None:
                    lines.append(f"{name}: {units.metric(name, r.metrics[name])}")
            if r.error:
                lines.append(f"error: {r.error}")
        for a in s.alarms.active.get(d.id, {}).values():
            lines.append(f"<span style='color:{self.theme.bad}'>⚠ {a.message}</span>")
        return "<br>".join(lines)

    def event(self, ev: QEvent) -> bool:
        if ev.type() == QEvent.Type.ToolTip:
            i = self.device_at(ev.pos())  # type: ignore[attr-defined]
            if i is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(ev.globalPos(), self.tooltip_for(i), self)  # type: ignore[attr-defined]
            return True
        return super().event(ev)

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            i = self.device_at(ev.position().toPoint())
            if i is not None:
                self.device_activated.emit(self.session.devices[i].id)
        super().mouseReleaseEvent(ev)
