"""A card per GPU: utilisation, memory, temperatures, power against its
limit, clocks, throttle reasons, last XID and a utilisation sparkline.
GPUs behind a gpu-host (its dcgm-exporter) are grouped under a heading per
host, after the GPUs this workstation reads through NVML."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QWidget,
)

from opsconsole.ui import units
from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import Theme
from opsconsole.ui.views.cards import CardScroll, ClickableCard, frame_style
from opsconsole.ui.views.meter import MeterBar
from opsconsole.ui.views.sparkline import Sparkline

SPARK_WINDOW_S = 600.0


def _bar(theme: Theme) -> MeterBar:
    return MeterBar(theme, maximum=1000)


class GpuCard(ClickableCard):
    def __init__(self, device_id: str, index: int, theme: Theme, parent: QWidget | None = None):
        super().__init__(device_id, theme, parent)
        self.device_id = device_id
        self.index = index
        g = QGridLayout(self)
        g.setContentsMargins(8, 6, 8, 6)
        g.setHorizontalSpacing(8)
        g.setVerticalSpacing(2)
        self.title = QLabel(f"<b>{device_id}</b>")
        self.util = QLabel(units.NA)
        self.util.setObjectName("statValue")
        self.util.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.mem = _bar(theme)
        self.power = _bar(theme)
        self.temps = QLabel(units.NA)
        self.clocks = QLabel(units.NA)
        self.clocks.setObjectName("muted")
        self.throttle = QLabel("")
        self.throttle.setWordWrap(True)
        self.spark = Sparkline(theme.accent)
        g.addWidget(self.title, 0, 0)
        g.addWidget(self.util, 0, 1)
        g.addWidget(QLabel("mem"), 1, 0)
        g.addWidget(self.mem, 1, 1)
        g.addWidget(QLabel("power"), 2, 0)
        g.addWidget(self.power, 2, 1)
        g.addWidget(self.temps, 3, 0, 1, 2)
        g.addWidget(self.clocks, 4, 0, 1, 2)
        g.addWidget(self.throttle, 5, 0, 1, 2)
        g.addWidget(self.spark, 6, 0, 1, 2)
        g.setColumnStretch(1, 1)
        self.set_alarmed(False)

    def set_alarmed(self, on: bool) -> None:
        # a style sheet change re-polishes the whole card: only when it flips
        if getattr(self, "_alarmed", None) == on:
            return
        self._alarmed = on
        frame_style(self, self.theme, self.theme.bad if on else self.theme.border)


def _f(v: object) -> float | None:
    """A reading's number, or None: never NaN or inf on a card ("nan MHz")."""
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    return float(v) if ok else None


class GpuPanel(CardScroll):
    device_activated = Signal(str)

    def __init__(self, session: SiteSession, theme: Theme, parent: QWidget | None = None):
        super().__init__(session, theme, parent)
        self.grid = self.spaced(QGridLayout(self.inner), 2)
        self.cards: list[GpuCard] = []
        self.host_of: dict[str, str] = {}  # card device id -> its gpu-host ("" local)
        for i, d in enumerate(session.devices):
            if d.kind == "gpu":
                card = GpuCard(d.id, i, theme)
                card.clicked.connect(self.device_activated)
                self.cards.append(card)
                self.host_of[d.id] = d.parent or ""
        # one heading per source of GPUs, when GPUs come from more than one
        self.hosts = list(dict.fromkeys(self.host_of[c.device_id] for c in self.cards))
        self.headings: dict[str, QLabel] = {}
        if len(self.hosts) > 1 or (self.hosts and self.hosts[0]):
            for h in self.hosts:
                lab = QLabel()
                lab.setTextFormat(Qt.TextFormat.RichText)
                lab.setObjectName("gpuHostHeading")
                self.headings[h] = lab
        self.empty = QLabel("No GPUs on this site")
        self.empty.setObjectName("muted")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWidget(self.inner)
        self.group: str | None = None
        self._columns = 0
        self._relayout()
        session.updated.connect(self.on_updated)
        self.refresh()

    def set_group(self, group: str | None) -> None:
        self.group = group
        self._relayout()

    def _visible(self) -> list[GpuCard]:
        if self.group is None:
            return self.cards
        return [c for c in self.cards if self.session.devices[c.index].group == self.group]

    def _relayout(self) -> None:
        for c in self.cards:
            self.grid.removeWidget(c)
            c.hide()
        for lab in self.headings.values():
            self.grid.removeWidget(lab)
            lab.hide()
        self.grid.removeWidget(self.empty)
        self.empty.hide()
        shown = self._visible()
        cols = max(1, min(4, self.viewport().width() // 230))
        self._columns = cols
        row = 0
        for host in self.hosts:
            part = [c for c in shown if self.host_of[c.device_id] == host]
            if not part:
                continue
            lab = self.headings.get(host)
            if lab is not None:
                self.grid.addWidget(lab, row, 0, 1, cols)
                lab.show()
                row += 1
            for k, c in enumerate(part):
                self.grid.addWidget(c, row + k // cols, k % cols)
                c.show()
            row += (len(part) + cols - 1) // cols
        if not shown:
            what = "this group" if self.group else "this site"
            self.empty.setText(f"No GPUs in {what}")
            self.grid.addWidget(self.empty, 0, 0)
            self.empty.show()
        self.grid.setRowStretch(self.grid.rowCount(), 1)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if max(1, min(4, self.viewport().width() // 230)) != self._columns:
            self._relayout()

    def on_updated(self, changed: list[int]) -> None:
        idx = {c.index for c in self.cards}
        idx.update(self.session.store.index[h] for h in self.headings if h)
        if idx.intersection(changed):
            self.refresh()

    def _refresh_headings(self) -> None:
        store, t = self.session.store, self.theme
        for host, lab in self.headings.items():
            if not host:
                # a replica's local GPUs are the site service's machine's, not this one's
                where = "The site service's machine" if self.session.replica else "This workstation"
                lab.setText(f"<b>{where}</b> <span style='color:{t.muted}'>· NVML</span>")
                continue
            dev = self.session.site.device(host)
            i = store.index.get(host)
            r = store.latest[i] if i is not None else None
            model = next((store.latest[c.index].labels.get("model") for c in self.cards
                          if self.host_of[c.device_id] == host and store.latest[c.index]
                          is not None and store.latest[c.index].labels.get("model")), None)
            bits = [f"<b>{host}</b>"]
            if r is not None and r.labels.get("hostname") not in (None, "", host):
                bits.append(r.labels["hostname"])
            if model:
                bits.append(model)
            if r is None:
                state = "waiting for the exporter"
            elif r.status.value in ("ok", "partial"):
                state = f"{r.metrics.get('gpus', 0):g} GPUs on the exporter"
            else:
                state = f"<span style='color:{t.bad}'>{r.status.value}: {r.error or ''}</span>"
            bits.append(state)
            where = dev.address if dev is not None else ""
            lab.setText(" · ".join(bits) + f" <span style='color:{t.muted}'>{where}</span>")

    def refresh(self) -> None:
        store = self.session.store
        self._refresh_headings()
        for c in self.cards:
            r = store.latest[c.index]
            c.set_alarmed(bool(self.session.alarmed[c.index]))
            _x, spark = store.series(c.device_id, "util_pct", SPARK_WINDOW_S)
            c.spark.set_values(spark)
            if r is None or r.status.value not in ("ok", "partial"):
                status = r.status.value if r is not None else "waiting for data"
                c.util.setText(units.NA)
                c.temps.setText(f"<span style='color:{self.theme.stale}'>{status}</span>")
                c.throttle.setText(r.error or "" if r is not None else "")
                c.mem.setValue(0)
                c.mem.setFormat(units.NA)
                c.power.setValue(0)
                c.power.setFormat(units.NA)
                continue
            m = r.metrics
            c.util.setText(units.pct(_f(m.get("util_pct"))))
            used, total = _f(m.get("mem_used_mib")), _f(m.get("mem_total_mib"))
            if used is not None and total:
                c.mem.setValue(round(1000 * used / total))
                c.mem.setFormat(f"{used / 1024:.1f} / {total / 1024:.0f} GiB")
            else:
                c.mem.setValue(0)
                c.mem.setFormat(units.NA)
            pw, limit = _f(m.get("power_w")), _f(m.get("power_limit_w"))
            if pw is not None and limit:
                c.power.setValue(min(1000, round(1000 * pw / limit)))
                c.power.setFormat(f"{pw:.0f} / {limit:.0f} W")
            else:
                c.power.setValue(0)
                c.power.setFormat(units.power(pw))
            t, mt = _f(m.get("temp_c")), _f(m.get("mem_temp_c"))
            limit_t = self.session.alarms.thresholds.gpu_temp_c
            colour = self.theme.bad if t is not None and t > limit_t else self.theme.text
            c.temps.setText(f"<span style='color:{colour}'>core {units.temp(t)}</span>"
                            f" · mem {units.temp(mt)} · fan {units.pct(_f(m.get('fan_pct')))}")
            sm, mc = _f(m.get("sm_clock_mhz")), _f(m.get("mem_clock_mhz"))
            c.clocks.setText(f"SM {sm:.0f} MHz · mem {mc:.0f} MHz" if sm is not None
                             and mc is not None else f"clocks {units.NA}")
            thr = m.get("throttle_reasons")
            xid = m.get("xid_last")
            # not reported (a dcgm-exporter without the field) is not "none"
            if isinstance(thr, list):
                thr_text = ", ".join(thr)
            else:
                thr_text = units.NA if thr is None else thr or "none"
            xid_text = f"XID {xid:g}" if isinstance(xid, int | float) and xid else "no XID"
            warn = self.theme.warn if thr and thr not in ("none", "idle", "") else self.theme.muted
            c.throttle.setText(f"<span style='color:{warn}'>throttle: {thr_text}</span>"
                               f" · {xid_text}")
