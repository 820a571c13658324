"""A card per group that has inference servers: generated tokens/s, the
request queue and time to first token, each with a sparkline, and one line
per server."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from opsconsole.ui import units
from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import Theme
from opsconsole.ui.views.cards import CardScroll
from opsconsole.ui.views.sparkline import Sparkline

SPARK_WINDOW_S = 600.0


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _count(v: float | None) -> str:
    """A queue length, or a dash when the server does not report it (never 0)."""
    return units.NA if v is None or not np.isfinite(v) else f"{v:.0f}"


def _ms(s: float | None) -> str:
    return units.NA if s is None or not np.isfinite(s) else f"{s * 1000:.0f} ms"


def _scaled(spark: Sparkline, values: np.ndarray) -> None:
    top = np.nanmax(values) if values.size and np.isfinite(values).any() else 0.0
    spark.hi = max(float(top) * 1.15, 1e-9)
    spark.set_values(values)


class InferenceCard(QFrame):
    def __init__(self, group_id: str, title: str, servers: list[str], theme: Theme,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.group_id = group_id
        self.servers = servers
        self.setObjectName("panel")
        g = QGridLayout(self)
        g.setContentsMargins(8, 6, 8, 6)
        g.setHorizontalSpacing(12)
        g.setVerticalSpacing(2)
        g.addWidget(QLabel(f"<b>{title}</b>"), 0, 0, 1, 3)
        self.tokens = QLabel(units.NA)
        self.tokens.setObjectName("statValue")
        self.queue = QLabel(units.NA)
        self.queue.setObjectName("statValue")
        self.ttft = QLabel(units.NA)
        self.ttft.setObjectName("statValue")
        self.spark_tokens = Sparkline(theme.accent)
        self.spark_queue = Sparkline(theme.warn)
        self.spark_ttft = Sparkline(theme.muted)
        for col, (caption, value, spark) in enumerate((
                ("tokens/s", self.tokens, self.spark_tokens),
                ("queue: running · waiting", self.queue, self.spark_queue),
                ("TTFT p95", self.ttft, self.spark_ttft))):
            cap = QLabel(caption)
            cap.setObjectName("muted")
            g.addWidget(cap, 1, col)
            g.addWidget(value, 2, col)
            spark.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            g.addWidget(spark, 3, col)
            g.setColumnStretch(col, 1)
        self.lines = QLabel("")
        self.lines.setTextFormat(Qt.TextFormat.RichText)
        self.lines.setWordWrap(True)
        g.addWidget(self.lines, 4, 0, 1, 3)


class InferencePanel(CardScroll):
    device_activated = Signal(str)

    def __init__(self, session: SiteSession, theme: Theme, parent: QWidget | None = None):
        super().__init__(session, theme, parent)
        lay = self.spaced(QVBoxLayout(self.inner), 2)
        self.cards: dict[str, InferenceCard] = {}
        for grp in session.site.groups:
            servers = [d.id for d in grp.devices if d.kind == "inference"]
            if servers:
                card = InferenceCard(grp.id, grp.name, servers, theme)
                self.cards[grp.id] = card
                lay.addWidget(card)
        self.empty = QLabel("No inference servers on this site (kind = \"inference\" devices)")
        self.empty.setObjectName("muted")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setVisible(not self.cards)
        lay.addWidget(self.empty)
        lay.addStretch(1)
        self.setWidget(self.inner)
        self.group: str | None = None
        self.refresh()

    @property
    def server_count(self) -> int:
        return sum(len(c.servers) for c in self.cards.values())

    def set_group(self, group: str | None) -> None:
        self.group = group
        for gid, card in self.cards.items():
            card.setVisible(group is None or gid == group)

    def _sum_series(self, ids: list[str], metric: str, how: str) -> np.ndarray:
        store = self.session.store
        rows = [store.series(d, metric, SPARK_WINDOW_S)[1] for d in ids]
        rows = [r for r in rows if r.size]
        if not rows:
            return np.array([])
        n = min(r.size for r in rows)
        stack = np.vstack([r[-n:] for r in rows]).astype(np.float64)
        with np.errstate(all="ignore"):
            if how == "max":
                return np.where(np.isnan(stack).all(0), np.nan, np.nanmax(
                    np.where(np.isnan(stack), -np.inf, stack), axis=0))
            return np.where(np.isnan(stack).all(0), np.nan, np.nansum(stack, axis=0))

    def refresh(self) -> None:
        store, t = self.session.store, self.theme
        for gid, card in self.cards.items():
            if not card.isVisible() and self.isVisible():
                continue
            summ = store.summary(gid)
            card.tokens.setText(units.tokens(summ.tokens_per_s))
            _ts, agg = store.agg_series(gid, "tokens_per_s", SPARK_WINDOW_S)
            _scaled(card.spark_tokens, np.asarray(agg, dtype=np.float64))
            running = waiting = 0.0
            have_queue = False
            ttfts: list[float] = []
            lines = []
            for did in card.servers:
                i = store.index[did]
                r = store.latest[i]
                if r is None:
                    lines.append(f"{did}: <span style='color:{t.stale}'>waiting for data</span>")
                    continue
                if r.status.value not in ("ok", "partial"):
                    lines.append(f"{did}: <span style='color:{t.bad}'>{r.status.value}"
                                 f"{': ' + r.error if r.error else ''}</span>")
                    continue
                m = r.metrics
                run, wait, tok = (_num(m.get(k)) for k in
                                  ("requests_running", "requests_waiting", "tokens_per_s"))
                ttft = _num(m.get("ttft_p95_s"))
                if run is not None or wait is not None:
                    have_queue = True
                    running += run or 0.0
                    waiting += wait or 0.0
                if ttft is not None:
                    ttfts.append(ttft)
                server = r.labels.get("server", "")
                lines.append(f"<b>{did}</b> <span style='color:{t.muted}'>{server}</span>: "
                             f"{units.tokens(tok)} · {_count(run)} running · "
                             f"{_count(wait)} waiting · TTFT {_ms(ttft)}")
            card.queue.setText(f"{running:.0f} · {waiting:.0f}" if have_queue else units.NA)
            card.queue.setStyleSheet(f"color: {t.warn};" if waiting > 0 else "")
            card.ttft.setText(_ms(max(ttfts)) if ttfts else units.NA)
            _scaled(card.spark_queue, self._sum_series(card.servers, "requests_waiting", "sum"))
            _scaled(card.spark_ttft, self._sum_series(card.servers, "ttft_p95_s", "max"))
            card.lines.setText("<br>".join(lines))
