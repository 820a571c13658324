"""The earnings view: per group and for the site, revenue and margin per MWh
of mining and of inference at the operator's prices ([economics]). The duty a
group is in is measured; the other is an estimate from the group's own
history, and the table says which is which (core.economics)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from opsconsole.core.economics import EARNING_DUTIES, Earning, EarningsBook, Prices, fmt_usd
from opsconsole.core.store import SITE
from opsconsole.ui.handoff import Handoff
from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import Theme

REFRESH_S = 5.0
HEAD = ("", "Duty now", "Mining revenue", "margin", "Inference revenue", "margin")


class EarningsPanel(QScrollArea):
    def __init__(self, session: SiteSession, theme: Theme,
                 duty_of: Callable[[str], str | None] = lambda _g: None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.theme = theme
        self.duty_of = duty_of  # the journal's duty per group (None: not known yet)
        self.prices = Prices.from_site(getattr(session.site, "economics", {}) or {})
        # history is read on the book's thread; what it read comes back here
        self._arrivals = Handoff(self)
        self._arrivals.arrived.connect(lambda _items: self.refresh(force=True))
        self.book = EarningsBook(self.prices, None, on_read=lambda: self._arrivals.put(True))
        self.destroyed.connect(self._arrivals.close)
        self.destroyed.connect(self.book.close)
        self._reader_dir: Path | None = None
        self._next = 0.0
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.setContentsMargins(6, 6, 6, 6)
        self.prices_line = QLabel()
        self.prices_line.setTextFormat(Qt.TextFormat.RichText)
        self.prices_line.setWordWrap(True)
        lay.addWidget(self.prices_line)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(18)
        self.grid.setVerticalSpacing(4)
        for col, text in enumerate(HEAD):
            h = QLabel(f"<b>{text}</b>")
            h.setAlignment(Qt.AlignmentFlag.AlignRight if col >= 2 else Qt.AlignmentFlag.AlignLeft)
            self.grid.addWidget(h, 0, col)
        # the rows (a label per group and figure: 3,000 at 500 groups) are built
        # when the tab is first shown or refreshed, not with the console
        self.scopes = [SITE] + [g.id for g in session.site.groups]
        self.cells: dict[str, list[QLabel]] = {}
        lay.addLayout(self.grid)
        self.note = QLabel()
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        lay.addWidget(self.note)
        lay.addStretch(1)
        self.setWidget(inner)
        self._show_prices()

    def _build_rows(self) -> None:
        session = self.session
        for row, scope in enumerate(self.scopes, start=1):
            grp = session.site.group(scope)
            name = "Whole site" if grp is None else grp.name
            labels = [QLabel(f"<b>{name}</b>" if scope == SITE else name)]
            labels += [QLabel() for _ in HEAD[1:]]
            for col, lab in enumerate(labels):
                lab.setTextFormat(Qt.TextFormat.RichText)
                if col >= 2:
                    lab.setAlignment(Qt.AlignmentFlag.AlignRight)
                self.grid.addWidget(lab, row, col)
            self.cells[scope] = labels

    def showEvent(self, ev: QShowEvent) -> None:
        super().showEvent(ev)
        self.refresh(force=True)

    def _show_prices(self) -> None:
        p, t = self.prices, self.theme
        if not p.any:
            self.prices_line.setText(
                f"<span style='color:{t.muted}'>No prices: add an [economics] table to the "
                "site file (hashprice_usd_per_ph_day, token_price_usd_per_mtok, "
                "power_price_usd_per_mwh) to see what each duty earns.</span>")
            return

        def v(x: float | None, fmt: str) -> str:
            return "not set" if x is None else fmt.format(x)

        hashprice = v(p.hashprice_usd_per_ph_day, "${:,.2f}")
        tokens = v(p.token_price_usd_per_mtok, "${:,.3f}")
        power = v(p.power_price_usd_per_mwh, "${:,.2f}")
        self.prices_line.setText(
            f"Prices typed by the operator: hashprice <b>{hashprice}</b>/PH/day · "
            f"tokens <b>{tokens}</b>/M · power <b>{power}</b>/MWh")

    def _reader(self) -> None:
        """The history database once the session has one (the GUI's writer
        fills it); opened and read on the book's thread, not this one."""
        ddir = self.session.data_dir
        if ddir is None or ddir == self._reader_dir:
            return
        from opsconsole.core.history import DB_NAME

        path = Path(ddir) / DB_NAME
        if path.exists():
            self.book.set_source(path)
            self._reader_dir = ddir

    def _duty(self, scope: str, summ) -> str:
        known = self.duty_of(scope)
        if known in EARNING_DUTIES or known == "idle":
            return known  # type: ignore[return-value]
        if (summ.tokens_per_s or 0) > 0:  # not known from the journal: what it does
            return "inference"
        if (summ.hashrate_ths or 0) > 0:
            return "mining"
        return "idle"

    def _cell(self, e: Earning, margin: bool) -> str:
        t = self.theme
        v = e.margin_usd_per_mwh if margin else e.revenue_usd_per_mwh
        if v is None:  # say why, not just a dash
            why = "" if margin else e.basis.removeprefix("cannot be estimated: ")
            if why.startswith("no history of this group"):
                why = "no history in that duty yet"
            return f"<span style='color:{t.muted}; font-size:8pt'>— {why}</span>"
        colour = t.bad if margin and v < 0 else t.text
        tag = "estimate" if e.estimated else "measured"
        tag_colour = t.warn if e.estimated else t.ok
        return (f"<span style='color:{colour}'>{fmt_usd(v)}</span> "
                f"<span style='color:{tag_colour}; font-size:8pt'>{tag}</span>")

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and (now < self._next or not self.isVisible()):
            return
        self._next = now + REFRESH_S
        if not self.cells:
            self._build_rows()
        self._reader()
        store = self.session.store
        groups = []
        for scope in self.scopes[1:]:
            summ = store.summary(scope)
            duty = self._duty(scope, summ)
            est = self.book.group(scope, duty, summ)
            groups.append((est, summ.power_w))
            self._fill(scope, duty, est.rows)
        site = self.book.site(groups)
        self._fill(SITE, "", site.rows)
        self.note.setText("USD per MWh the group draws. "
                          "Measured: the group's live output against its live power, in the "
                          "duty it is in now. Estimate: the other duty, from this group's own "
                          "history in it (1-minute buckets, last 30 days). Hover a figure for "
                          "its basis.")

    def _fill(self, scope: str, duty: str, rows: tuple[Earning, ...]) -> None:
        cells = self.cells[scope]
        cells[1].setText(duty)
        for k, e in enumerate(rows):
            for j, margin in enumerate((False, True)):
                lab = cells[2 + 2 * k + j]
                lab.setText(self._cell(e, margin))
                lab.setToolTip(f"{e.duty}: {e.basis}")
