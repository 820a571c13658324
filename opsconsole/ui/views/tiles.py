"""One tile per rack group: duty badge, hashrate (and tokens/s where inference
servers report), power, hottest, ok/total.
Clicking a tile selects the group (clicking it again clears the selection);
its "⋯" button and its context menu ask for the group's duty menu.

A site file may hold thousands of groups: the strip builds tiles for the
first MAX_TILES only (each tile is a dozen widgets, and laying out thousands
of them held the console back for minutes); a "Find group" box at its end
selects any other group by id or name."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QCompleter,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from opsconsole.core.store import SITE
from opsconsole.core.truth import not_answering
from opsconsole.ui import units
from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import UNKNOWN_DUTY, Theme, duty_label
from opsconsole.ui.views.cards import CardScroll, ClickableCard, frame_style

DUTY_STATES = ("mining", "inference", "idle", "switching", "degraded", "interrupted",
               UNKNOWN_DUTY)
MAX_TILES = 100  # groups with a tile; the rest are found by id or name
UNKNOWN_TIP = ("The duty comes from the duty journal, which has not answered (or cannot be "
               "read): the site file's starting duty may be out of date")


class DutyBadge(QLabel):
    """A coloured pill naming a duty or a transition state (the duty
    controller will set SWITCHING / DEGRADED / INTERRUPTED)."""

    def __init__(self, theme: Theme, duty: str = UNKNOWN_DUTY, parent: QWidget | None = None):
        super().__init__(parent)
        self.theme = theme
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.set_duty(duty)

    def set_duty(self, duty: str) -> None:
        self.duty = duty
        colour = self.theme.duty_color(duty)
        text_colour = "#111" if colour.lightness() > 140 else "#fff"
        self.setText(duty_label(duty))
        self.setToolTip(UNKNOWN_TIP if duty == UNKNOWN_DUTY else "")
        self.setStyleSheet(f"background: {colour.name()}; color: {text_colour}; "
                           "border-radius: 3px; padding: 1px 6px; font-size: 8pt; "
                           "font-weight: 700;")


class GroupTile(ClickableCard):
    menu_requested = Signal(str, QPoint)  # group id, global position

    def __init__(self, group_id: str, title: str, theme: Theme, parent: QWidget | None = None):
        super().__init__(group_id, theme, parent)
        self.group_id = group_id
        self.setMinimumWidth(200)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        g = QGridLayout(self)
        g.setContentsMargins(8, 5, 8, 5)
        g.setHorizontalSpacing(10)
        g.setVerticalSpacing(1)
        self.name = title
        self.title = QLabel(f"<b>{title}</b>")
        self.badge = DutyBadge(theme)
        self.hashrate = QLabel(units.NA)
        self.power = QLabel(units.NA)
        self.temp = QLabel(units.NA)
        self.ok = QLabel(units.NA)
        self.menu_button = QToolButton()
        self.menu_button.setText("⋯")
        self.menu_button.setAutoRaise(True)
        self.menu_button.setToolTip("Duty: switch, resume, roll back, audit")
        self.menu_button.setCursor(Qt.CursorShape.ArrowCursor)
        self.menu_button.clicked.connect(lambda: self.menu_requested.emit(
            self.group_id, self.menu_button.mapToGlobal(self.menu_button.rect().bottomLeft())))
        self.menu_button.hide()  # shown when the site has a duty controller
        self.customContextMenuRequested.connect(
            lambda p: self.menu_requested.emit(self.group_id, self.mapToGlobal(p)))
        g.addWidget(self.title, 0, 0)
        g.addWidget(self.badge, 0, 1, Qt.AlignmentFlag.AlignRight)
        g.addWidget(self.menu_button, 0, 2, 3, 1, Qt.AlignmentFlag.AlignTop)
        g.addWidget(self.hashrate, 1, 0)
        g.addWidget(self.power, 1, 1, Qt.AlignmentFlag.AlignRight)
        g.addWidget(self.temp, 2, 0)
        g.addWidget(self.ok, 2, 1, Qt.AlignmentFlag.AlignRight)
        self.alert = ""  # why the tile is red: nothing answers, or a contradiction
        self.flag = ""  # the duty/telemetry contradiction shown on the tile
        self.selected = False
        self._style()

    def set_selected(self, on: bool) -> None:
        self.selected = on
        self._style()

    def set_alert(self, alert: str, flag: str = "") -> None:
        """Red border when nothing answers or the telemetry contradicts the
        duty; `flag` names the contradiction beside the title."""
        if (alert, flag) == (self.alert, self.flag):
            return
        self.alert, self.flag = alert, flag
        mark = f" <span style='color:{self.theme.bad}'>⚠ {flag}</span>" if flag else ""
        self.title.setText(f"<b>{self.name}</b>{mark}")
        self.title.setToolTip(alert)
        self._style()

    def _style(self) -> None:
        t = self.theme
        border = t.accent if self.selected else t.bad if self.alert else t.border
        frame_style(self, t, border, 2 if self.selected or self.alert else 1)


class MoreGroups(QFrame):
    """The end of a capped strip: how many groups have no tile, and a box
    that finds one (completion on ids and names) and selects it."""

    chosen = Signal(str)

    def __init__(self, groups: dict[str, str], hidden: int, theme: Theme,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.groups = groups  # "id — name" -> id, every group of the site
        lay = QGridLayout(self)
        lay.setContentsMargins(8, 5, 8, 5)
        self.label = QLabel(f"<b>+{hidden} more groups</b>")
        self.find = QLineEdit()
        self.find.setPlaceholderText("Find group (id or name)")
        self.find.setClearButtonEnabled(True)
        completer = QCompleter(list(groups), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.find.setCompleter(completer)
        completer.activated.connect(self._pick)
        self.find.returnPressed.connect(lambda: self._pick(self.find.text()))
        lay.addWidget(self.label, 0, 0)
        lay.addWidget(self.find, 1, 0)
        frame_style(self, theme, theme.border)

    def _pick(self, text: str) -> None:
        text = text.strip()
        gid = self.groups.get(text) or next(
            (g for g in self.groups.values() if g == text), None)
        if gid is not None:
            self.chosen.emit(gid)


class GroupTiles(CardScroll):
    group_selected = Signal(object)  # group id, or None for the whole site
    duty_menu_requested = Signal(str, QPoint)

    def __init__(self, session: SiteSession, theme: Theme, parent: QWidget | None = None):
        super().__init__(session, theme, parent)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lay = self.spaced(QHBoxLayout(self.inner), 0)
        self.tiles: dict[str, GroupTile] = {}
        site_tile = GroupTile(SITE, "Whole site", theme)
        site_tile.badge.hide()
        self.tiles[SITE] = site_tile
        groups = session.site.groups
        for g in groups[:MAX_TILES]:
            self.tiles[g.id] = GroupTile(g.id, g.name, theme)
            self.tiles[g.id].setToolTip(f"{g.id}: {len(g.devices)} devices")
        self.states: dict[str, str] = {}  # badge overrides from the duty controller
        for t in self.tiles.values():
            t.clicked.connect(self._on_click)
            t.menu_requested.connect(self.duty_menu_requested)
            lay.addWidget(t)
        self.more: MoreGroups | None = None
        if len(groups) > MAX_TILES:
            self.more = MoreGroups({f"{g.id} — {g.name}": g.id for g in groups},
                                   len(groups) - MAX_TILES, theme)
            self.more.chosen.connect(self.select)
            lay.addWidget(self.more)
        lay.addStretch(1)
        self.setWidget(self.inner)
        self.selected: str | None = None
        self.tiles[SITE].set_selected(True)
        self.setFixedHeight(site_tile.sizeHint().height() + 4
                            + self.horizontalScrollBar().sizeHint().height())
        self.refresh()

    def _on_click(self, gid: str) -> None:
        self.select(None if gid == SITE or gid == self.selected else gid)

    def select(self, gid: str | None) -> None:
        self.selected = gid
        for key, t in self.tiles.items():
            t.set_selected(key == (gid or SITE))
        if self.more is not None:  # a group without a tile: the box says which
            self.more.find.setText("" if gid is None or gid in self.tiles else gid)
        self.group_selected.emit(gid)

    def set_duty(self, gid: str, duty: str) -> None:
        """The duty (or SWITCHING / DEGRADED / INTERRUPTED) the controller
        reports: it wins over the site file's duty from then on."""
        self.states[gid] = duty
        if gid in self.tiles:
            self.tiles[gid].badge.set_duty(duty)

    def enable_duty_menus(self, on: bool) -> None:
        for gid, t in self.tiles.items():
            if gid != SITE:
                t.menu_button.setVisible(on)
                t.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu if on
                                       else Qt.ContextMenuPolicy.DefaultContextMenu)

    def _visible_tiles(self) -> list[tuple[str, GroupTile]]:
        """The tiles in view (all of them while hidden, for tests and the
        first show). A 20,000-miner site has 500 tiles, of which a screen
        shows about ten: updating the other 490 labels every second costs a
        relayout of the whole strip for text nobody sees."""
        if not self.isVisible():
            return list(self.tiles.items())
        left = self.horizontalScrollBar().value()
        right = left + self.viewport().width()
        return [(gid, t) for gid, t in self.tiles.items()
                if t.x() < right and t.x() + t.width() > left]

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if dx:
            self.refresh()  # tiles scrolled into view show current values

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        self.refresh()

    def refresh(self) -> None:
        stats = self.session.scope_latest()
        index = self.session.store.scope_index
        limit = self.session.alarms.thresholds.miner_temp_c
        t = self.theme

        def val(name: str, k: int) -> float | None:
            v = float(stats[name][k])
            return v if np.isfinite(v) else None

        def missing(name: str, k: int) -> int:
            return int(stats[f"missing_{name}"][k])

        flagged = self.session.contradictions(self.states)
        for gid, tile in self._visible_tiles():
            k = index[gid]
            duty = self.states.get(gid, UNKNOWN_DUTY)  # the journal's, never the site file's
            if gid != SITE and tile.badge.duty != duty:
                tile.badge.set_duty(duty)
            rate, util = val("hashrate_ths", k), val("util_pct", k)
            tps = val("tokens_per_s", k)
            if rate is None and util is not None:  # a GPU group
                text = f"GPU util {units.lower_bound(units.pct(util), missing('util_pct', k))}"
            else:
                text = units.lower_bound(units.hashrate(rate), missing("hashrate_ths", k))
            if tps is not None:  # inference throughput beside hashrate
                text += f" · <b>{units.tokens(tps)}</b>"
            tile.hashrate.setText(text)
            n_power = missing("power_w", k)
            power = units.lower_bound(units.power(val("power_w", k)), n_power)
            tile.power.setText(f"<span style='color:{t.warn}'>{power}</span>" if n_power
                               else power)
            hot = val("temp_c", k)
            colour = (t.bad if hot is not None and hot > limit else
                      t.warn if hot is not None and hot > limit - 10 else t.text)
            tile.temp.setText(f"<span style='color:{colour}'>hottest {units.temp(hot)}</span>")
            down, ok, total = (int(stats[n][k]) for n in ("down", "ok", "total"))
            dead = down > 0 and ok == 0  # 0 of N answering: the tile is red
            ok_colour = t.bad if dead else t.warn if down else t.muted
            tile.ok.setText(f"<span style='color:{ok_colour}'>{ok:,}/{total:,} ok</span>")
            tile.ok.setToolTip(not_answering(down) if down else "")
            c = flagged.get(gid)
            alert = (f"none of {total:,} devices answering" if dead
                     else c.message if c is not None else "")
            tile.set_alert(alert, c.message.split(":")[0] if c is not None else "")
