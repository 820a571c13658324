"""The site header: the numbers that answer "is the site healthy?"."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from opsconsole.core.store import SITE
from opsconsole.core.truth import not_answering
from opsconsole.ui import units
from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import Theme
from opsconsole.ui.views.meter import MeterBar


class Stat(QWidget):
    """A caption over a big value, with an optional detail line."""

    def __init__(self, caption: str, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 4, 10, 4)
        lay.setSpacing(0)
        self.caption = QLabel(caption.upper())
        self.caption.setObjectName("statCaption")
        self.value = QLabel(units.NA)
        self.value.setObjectName("statValue")
        self.detail = QLabel("")
        self.detail.setObjectName("muted")
        # a long detail ("of 386 kW budget; 149 devices not answering") wraps under
        # its value instead of widening the header, and so the window, for good
        self.detail.setWordWrap(True)
        self.detail.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.detail.setMinimumWidth(1)
        for w in (self.caption, self.value, self.detail):
            lay.addWidget(w)

    def set(self, value: str, detail: str = "", color: str | None = None) -> None:
        self.value.setText(value)
        self.value.setStyleSheet(f"color: {color};" if color else "")
        self.detail.setText(detail)


class SiteHeader(QFrame):
    def __init__(self, session: SiteSession, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("panel")
        self.session = session
        self.theme = theme
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.setSpacing(4)
        site = session.site
        name = QLabel(f"<b style='font-size:14pt'>{site.name}</b><br>"
                      f"<span style='color:{theme.muted}'>"
                      f"{'demo · ' if session.demo else ''}every "
                      f"{site.poll_interval_s:g} s</span>")
        name.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(name)
        lay.addSpacing(12)
        self.hashrate = Stat("Hashrate")
        self.tokens = Stat("Tokens/s")  # inference servers' generated tokens, beside hashrate
        self.inference = sum(1 for d in site.devices() if d.kind == "inference")
        self.tokens.setVisible(self.inference > 0)
        self.power = Stat("Power")
        self.budget = MeterBar(theme, maximum=1000)
        self.budget.setMinimumWidth(150)
        self.power.layout().addWidget(self.budget)
        self.efficiency = Stat("Efficiency")
        self.gpu = Stat("GPU util")
        self.devices = Stat("Devices ok")
        self.alarms = Stat("Alarms")
        self.cycle = Stat("Last cycle")
        self.stale = Stat("Stale")
        for w in (self.hashrate, self.tokens, self.power, self.efficiency, self.gpu, self.devices,
                  self.alarms, self.cycle, self.stale):
            lay.addWidget(w, 1)  # spare width goes to the stats: their details wrap less
        self.refresh()

    def refresh(self) -> None:
        s = self.session
        summ = s.store.summary(SITE)
        t = self.theme
        nominal = summ.hashrate_nominal_ths
        miss = summ.missing  # devices silent on each sum: the sum is a lower bound
        n_rate, n_power, n_util = (miss.get(m, 0) for m in ("hashrate_ths", "power_w",
                                                             "util_pct"))
        self.hashrate.set(units.lower_bound(units.hashrate(summ.hashrate_ths), n_rate),
                          not_answering(n_rate) if n_rate
                          else f"nominal {units.hashrate(nominal)}" if nominal else "",
                          t.warn if n_rate else None)
        if self.inference:
            self.tokens.set(units.tokens(summ.tokens_per_s),
                            f"{self.inference} inference server{'s' * (self.inference != 1)}")
        budget_kw = s.site.power_budget_kw
        power = summ.power_w
        power_text = units.lower_bound(units.power(power), n_power)
        silent = f"; {not_answering(n_power)}" if n_power else ""
        power_colour = t.warn if n_power else None
        if budget_kw:
            frac = (power or 0.0) / (budget_kw * 1000.0)
            self.power.set(power_text, f"of {units.power(budget_kw * 1000)} budget{silent}",
                           power_colour)
            self.budget.setValue(min(1000, round(frac * 1000)))
            self.budget.setFormat(f"{frac * 100:.0f} %")
            colour = t.bad if frac > 0.95 else t.warn if frac > 0.85 else t.ok
            self.budget.set_colour(colour)
            self.budget.show()
        else:
            self.power.set(power_text, f"no budget set{silent}", power_colour)
            self.budget.hide()
        jth, left_out = s.store.efficiency_jth(SITE)
        self.efficiency.set(f"{jth:.1f} J/TH" if jth else units.NA,
                            f"miners; {left_out:,} left out" if left_out and jth else "miners",
                            t.warn if left_out and jth else None)
        gpus = int((s.kinds == "gpu").sum())
        remote = sum(1 for d in s.site.devices() if d.parent is not None)
        where = f" ({remote} remote)" if remote else ""
        self.gpu.set(units.pct(summ.util_pct),
                     (f"mean of {gpus} GPUs{where}, {n_util:,} silent" if n_util
                      else f"mean of {gpus} GPUs{where}") if gpus else "no GPUs",
                     t.warn if n_util else None)
        ok, total = summ.devices_ok, summ.devices_total
        bad = total - ok - summ.by_status.get("pending", 0)
        self.devices.set(f"{ok:,} / {total:,}", units.answering(ok, bad, total),
                         t.ok if bad == 0 and ok else t.warn if ok else t.bad if bad else None)
        n_alarms = s.alarms.alarm_count
        n_dev = int(s.alarmed.sum())
        self.alarms.set(str(n_alarms), f"on {n_dev} devices" if n_alarms else "none active",
                        t.bad if n_alarms else t.ok)
        cyc = s.last_cycle
        if cyc is not None:
            self.cycle.set(units.duration(cyc.duration_s),
                           f"{cyc.polled} polled, {cyc.late} late at {units.clock(cyc.started)}")
        elif s.last_batch_at is not None:
            self.cycle.set("running", f"data at {units.clock(s.last_batch_at)}")
        else:
            self.cycle.set(units.NA, "waiting for data")
        self.stale.set(str(summ.stale), f"no data for > {3 * s.site.poll_interval_s:g} s",
                       t.warn if summ.stale else None)
