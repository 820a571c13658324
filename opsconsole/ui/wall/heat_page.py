"""Page "rackmap": every device as a cell in its rack, coloured by its
hottest temperature; devices not answering in the stale colour, alarmed
ones outlined. Cells fill the page, so a 4K wall gets bigger cells, not a
smaller map. Rects are laid out once per resize and reused."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from opsconsole.ui.session import STATUS_CODES, SiteSession
from opsconsole.ui.theme import Theme, heat_color
from opsconsole.ui.views.rackmap import TEMP_RANGE, Rack, build_racks
from opsconsole.ui.wall.scale import WallScale

_HEAT = [heat_color(k / 255) for k in range(256)]
_DOWN = (STATUS_CODES["unreachable"], STATUS_CODES["error"])
# cell labels that fit a cell: the scraped kinds' names are long
_SHORT_KIND = {"gpu-host": "HOST", "inference": "LLM"}


class HeatPage(QWidget):
    title = "Rack heat"

    def __init__(self, session: SiteSession, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.theme = theme
        self.scale = WallScale.for_height(1080)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.racks: list[Rack] = build_racks(session)
        self.cells: list[tuple[QRect, int]] = []  # (rect, device index), per layout
        self.labels: list[tuple[QRect, str]] = []
        self.cell_px = 0
        self._laid_out_for: tuple[int, int] | None = None
        self._colours = {"empty": QColor(theme.alt_base), "na": QColor(theme.border),
                         "down": QColor(theme.stale), "pending": QColor(theme.pending)}

    def apply_scale(self, s: WallScale) -> None:
        self.scale = s
        self._laid_out_for = None
        self.update()

    def refresh(self) -> None:
        self.update()

    # -- layout ---------------------------------------------------------------
    def _legend_h(self) -> int:
        return self.scale.px(2.0)

    def _layout(self) -> None:
        s = self.scale
        margin = s.px(0.8)
        area = self.rect().adjusted(margin, margin // 2, -margin, -self._legend_h() - margin // 2)
        self.cells, self.labels = [], []
        self._laid_out_for = (self.width(), self.height())
        racks = self.racks
        if not racks or area.width() < 10 or area.height() < 10:
            return
        slots = max(len(r.slots) for r in racks) or 1
        label_h = round(s.body * 1.5)
        best: tuple[float, int, int, int] | None = None  # score, per_line, cell w, cell h
        for per_line in range(1, len(racks) + 1):
            lines = math.ceil(len(racks) / per_line)
            gap = s.px(0.5) if per_line < 60 else 2
            cw = min(s.px(8), (area.width() - gap * (per_line - 1)) // per_line)
            ch = (area.height() - lines * (label_h + gap)) // (lines * slots)
            if cw < 2 or ch < 2:
                continue
            ch = min(ch, cw, s.px(4))  # never taller than wide, nor taller than 4 units
            score = min(cw, 3 * ch) * ch
            if best is None or score > best[0]:
                best = (score, per_line, cw, ch)
        if best is None:
            return
        _score, per_line, cw, ch = best
        gap = s.px(0.5) if per_line < 60 else 2
        lines = math.ceil(len(racks) / per_line)
        used_w = per_line * cw + (per_line - 1) * gap
        x_off = area.x() + (area.width() - used_w) // 2  # centre the map
        pad = max(1, ch // 12)
        self.cell_px = ch
        fm_w = s.body * 0.62  # average glyph width, for "does the label fit"
        for k, rack in enumerate(racks):
            line, col = divmod(k, per_line)
            x0 = x_off + col * (cw + gap)
            y0 = area.y() + line * (label_h + slots * ch + gap) + label_h
            if len(rack.label) * fm_w <= cw + gap:
                self.labels.append((QRect(x0 - gap // 2, y0 - label_h, cw + gap, label_h),
                                    rack.label))
            for slot, i in enumerate(rack.slots):
                self.cells.append((QRect(x0, y0 + slot * ch, cw - pad, ch - pad), i))

    # -- painting -------------------------------------------------------------
    def paintEvent(self, ev: QPaintEvent) -> None:
        if self._laid_out_for != (self.width(), self.height()):
            self._layout()
        s = self.session
        p = QPainter(self)
        temp = s.store.current.get("temp_c")
        codes = s.status_code
        alarmed = s.alarmed
        lo, hi = TEMP_RANGE
        c = self._colours
        outline = QPen(QColor(self.theme.bad), max(2, self.scale.px(0.15)))
        # Big enough cells carry their temperature: the number reads from afar
        # where a shade of yellow does not.
        text_px = min(round(self.cell_px * 0.55), self.scale.px(1.3))
        numbered = text_px >= max(9, self.scale.px(0.55))
        numbers: list[tuple[QRect, str]] = []
        kinds: list[tuple[QRect, str]] = []  # cells without a temperature say what they are
        temp_rows = s.store.rows.get("temp_c")
        for rect, i in self.cells:
            if i < 0:
                p.fillRect(rect, c["empty"])
                continue
            if codes[i] in _DOWN:
                colour = c["down"]
            elif temp is None or temp_rows is None or temp_rows[i] < 0:
                colour = c["na"] if codes[i] else c["pending"]
                if numbered and codes[i]:
                    kind = s.devices[i].kind
                    kinds.append((rect, _SHORT_KIND.get(kind, kind.upper())))
            elif math.isnan(temp[i]):
                colour = c["pending"]
            else:
                colour = _HEAT[int(np.clip((temp[i] - lo) / (hi - lo), 0, 1) * 255)]
                if numbered:
                    numbers.append((rect, f"{temp[i]:.0f}"))
            p.fillRect(rect, colour)
            if alarmed[i]:
                p.setPen(outline)
                w = outline.width() // 2
                p.drawRect(rect.adjusted(w, w, -w, -w))
        font = QFont(self.font())
        if numbers:
            font.setPixelSize(text_px)
            font.setBold(True)
            p.setFont(font)
            p.setPen(QColor("#101215"))
            for rect, text in numbers:
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
            font.setBold(False)
        if kinds:
            font.setPixelSize(round(text_px * 0.8))
            p.setFont(font)
            p.setPen(QColor(self.theme.muted))
            for rect, text in kinds:
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        font.setPixelSize(self.scale.body)
        p.setFont(font)
        p.setPen(QColor(self.theme.muted))
        for rect, text in self.labels:
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        if not self.racks:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No devices")
        self._paint_legend(p)
        p.end()

    def _paint_legend(self, p: QPainter) -> None:
        sc = self.scale
        font = QFont(self.font())
        font.setPixelSize(sc.body)
        p.setFont(font)
        fm = p.fontMetrics()
        h = self._legend_h()
        box = sc.px(1.0)
        y = self.height() - h + (h - box) // 2
        x = sc.px(0.8)
        text_y = y + (box + fm.ascent() - fm.descent()) // 2
        p.setPen(QColor(self.theme.text))
        lo, hi = (f"{v:.0f} °C" for v in TEMP_RANGE)
        for text in ("Hottest temperature", lo):
            p.drawText(x, text_y, text)
            x += fm.horizontalAdvance(text) + sc.px(0.5)
        width = sc.px(10)
        grad = QLinearGradient(x, 0, x + width, 0)
        for k in range(5):
            grad.setColorAt(k / 4, heat_color(k / 4))
        p.fillRect(QRect(x, y, width, box), grad)
        x += width + sc.px(0.5)
        p.drawText(x, text_y, hi)
        x += fm.horizontalAdvance(hi) + sc.px(1.5)
        for colour, text in ((self.theme.stale, "not answering"),
                             (self.theme.pending, "no data yet"),
                             (self.theme.border, "no temperature (PDU, host, LLM)")):
            p.fillRect(QRect(x, y, box, box), QColor(colour))
            x += box + sc.px(0.4)
            p.drawText(x, text_y, text)
            x += fm.horizontalAdvance(text) + sc.px(1.5)
        p.setPen(QPen(QColor(self.theme.bad), max(2, sc.px(0.15))))
        p.drawRect(QRect(x, y, box, box))
        p.setPen(QColor(self.theme.text))
        p.drawText(x + box + sc.px(0.4), text_y, "alarm")
