"""Page "totals": the site's big numbers (tokens/s beside hashrate where
inference servers report) and one tile per rack group (duty, hashrate or GPU
utilisation with tokens/s, power, hottest, ok/total).

A site of more than MAX_TILES groups gets MAX_TILES - 1 group tiles and one
"+N more groups" tile: the tiles go to the groups in trouble first (most
devices down), the rest in file order, so a wall never hides a sick group
behind a healthy one; the last tile counts what it leaves out."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QVBoxLayout, QWidget

from opsconsole.core.store import SITE
from opsconsole.core.truth import not_answering
from opsconsole.ui import units
from opsconsole.ui.session import SiteSession
from opsconsole.ui.theme import UNKNOWN_DUTY, Theme
from opsconsole.ui.wall.scale import WallScale
from opsconsole.ui.wall.widgets import CaptionValue, DutyPill, WallLabel

MAX_TILES = 12  # 4 x 3 tiles fill a 16:9 screen at any size; more would outgrow it
COMPACT_FROM = 10  # from 10 tiles (4 columns) on, tile values are smaller so they fit


def _finite(v: float) -> float | None:
    return v if np.isfinite(v) else None


class GroupTile(QFrame):
    def __init__(self, title: str, theme: Theme, compact: bool = False,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("wallTile")
        self.theme = theme
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.title = WallLabel(title, "wallTileTitle")
        self.duty = DutyPill(theme)
        top.addWidget(self.title, 1)
        top.addWidget(self.duty)
        lay.addLayout(top)
        grid = QGridLayout()
        role = "wallTileValueSmall" if compact else "wallTileValue"
        self.rate = CaptionValue("Hashrate", role)
        self.power = CaptionValue("Power", role)
        self.temp = CaptionValue("Hottest", role)
        self.ok = CaptionValue("Answering", role)
        for k, w in enumerate((self.rate, self.power, self.temp, self.ok)):
            grid.addWidget(w, k // 2, k % 2)
        lay.addLayout(grid, 1)
        self.flag = WallLabel("", "wallFlag")  # a duty/telemetry contradiction, in words
        self.flag.setWordWrap(True)
        self.flag.hide()
        lay.addWidget(self.flag)
        self.alert = False

    def set_alert(self, alert: bool, flag: str = "") -> None:
        """Red when nothing answers or the telemetry contradicts the duty."""
        self.flag.set_text(f"⚠ {flag}" if flag else "")
        self.flag.setVisible(bool(flag))
        if alert != self.alert:
            self.alert = alert
            self.setProperty("alert", "true" if alert else "false")
            self.style().unpolish(self)
            self.style().polish(self)

    def apply_scale(self, s: WallScale) -> None:
        m = s.px(0.6)
        self.layout().setContentsMargins(m, m // 2, m, m // 2)
        self.layout().setSpacing(s.px(0.3))


class TotalsPage(QWidget):
    title = "Site totals"

    def __init__(self, session: SiteSession, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.theme = theme
        lay = QVBoxLayout(self)
        self._lay = lay
        strip = QHBoxLayout()
        self._strip = strip
        self.hashrate = CaptionValue("Hashrate", "wallHero")
        self.tokens = CaptionValue("Tokens/s", "wallHero")  # inference, beside hashrate
        self.has_inference = any(d.kind == "inference" for d in session.site.devices())
        self.tokens.setVisible(self.has_inference)
        self.power = CaptionValue("Power", "wallHero")
        self.hottest = CaptionValue("Hottest", "wallHero")
        self.devices = CaptionValue("Devices answering", "wallHero")
        self.alarms = CaptionValue("Active alarms", "wallHero")
        for w in (self.hashrate, self.tokens, self.power, self.hottest, self.devices,
                  self.alarms):
            strip.addWidget(w, 1)
        lay.addLayout(strip)
        self.grid = QGridLayout()
        groups = session.site.groups
        capped = len(groups) > MAX_TILES
        slots = MAX_TILES - 1 if capped else len(groups)
        cols = max(1, math.ceil(math.sqrt(slots + capped)))
        compact = slots + capped >= COMPACT_FROM
        self.slots = [GroupTile("", theme, compact) for _ in range(slots)]  # reused
        for k, tile in enumerate(self.slots):
            self.grid.addWidget(tile, k // cols, k % cols)
        self.more: GroupTile | None = None
        if capped:
            self.more = GroupTile("", theme, compact)
            self.more.duty.hide()
            self.grid.addWidget(self.more, slots // cols, slots % cols)
        self.tiles: dict[str, GroupTile] = {}  # group id -> the tile showing it now
        self._assign(list(range(slots)))
        lay.addLayout(self.grid, 1)
        self.duties: dict[str, str] = {}  # the journal's, from the read-only duty controller

    def _assign(self, group_indices: list[int]) -> None:
        groups = self.session.site.groups
        self.tiles = {}
        for tile, k in zip(self.slots, group_indices, strict=True):
            g = groups[k]
            tile.title.set_text(g.name)
            self.tiles[g.id] = tile

    def _choose(self, trouble: np.ndarray) -> list[int]:
        """Group indices for the tiles: the groups in trouble first (a
        contradiction, then most devices down), then file order; shown in file
        order (a tile moves only when trouble starts or ends)."""
        n = len(self.slots)
        sick = [int(k) for k in np.argsort(-trouble, kind="stable") if trouble[k] > 0][:n]
        chosen = set(sick)
        for k in range(len(trouble)):
            if len(chosen) >= n:
                break
            chosen.add(k)
        return sorted(chosen)

    def apply_scale(self, s: WallScale) -> None:
        m = s.px(0.8)
        self._lay.setContentsMargins(m, m // 2, m, m)
        self._lay.setSpacing(s.px(0.8))
        self._strip.setSpacing(s.px(1.5))
        self.grid.setSpacing(s.px(0.6))
        for t in [*self.slots, *([self.more] if self.more else [])]:
            t.apply_scale(s)

    def refresh(self) -> None:
        s = self.session
        t = self.theme
        stats = s.scope_latest()
        index = s.store.scope_index
        limit = s.alarms.thresholds.miner_temp_c

        def temp_colour(v: float | None) -> str | None:
            if v is None:
                return None
            return t.bad if v > limit else t.warn if v > limit - 10 else None

        def missing(name: str, k: int) -> int:
            return int(stats[f"missing_{name}"][k])

        k = index[SITE]
        rate = _finite(float(stats["hashrate_ths"][k]))
        n_rate = missing("hashrate_ths", k)
        self.hashrate.set(units.lower_bound(units.hashrate(rate), n_rate),
                          not_answering(n_rate) if n_rate else "miners, now",
                          t.warn if n_rate else None)
        if self.has_inference:
            self.tokens.set(units.tokens(_finite(float(stats["tokens_per_s"][k]))),
                            "inference servers, now")
        power = _finite(float(stats["power_w"][k]))
        n_power = missing("power_w", k)
        power_text = units.lower_bound(units.power(power), n_power)
        budget = s.site.power_budget_kw
        if n_power:  # a lower bound: how many it misses says more than a budget share
            self.power.set(power_text, not_answering(n_power), t.warn)
        elif budget:
            frac = (power or 0.0) / (budget * 1000.0)
            self.power.set(power_text, f"{frac * 100:.0f} % of {budget:g} kW budget",
                           t.bad if frac > 0.95 else t.warn if frac > 0.85 else None)
        else:
            self.power.set(power_text, "no budget set")
        hot = _finite(float(stats["temp_c"][k]))
        self.hottest.set(units.temp(hot), f"alarm above {limit:.0f} °C", temp_colour(hot))
        ok, total, down = (int(stats[n][k]) for n in ("ok", "total", "down"))
        self.devices.set(f"{ok:,} / {total:,}", units.answering(ok, down, total),
                         t.bad if down and not ok else t.warn if down else
                         t.ok if ok == total and ok else None)
        active = s.alarms.alarms()  # the same source as the alarms page: the counts agree
        n_alarms, n_dev = len(active), len({a.device for a in active})
        self.alarms.set(str(n_alarms), f"on {n_dev} device{'s' * (n_dev != 1)}" if n_alarms
                        else "none", t.bad if n_alarms else t.ok)
        flagged = s.contradictions(self.duties)
        if self.more is not None:
            groups_down = stats["down"][1:].astype(np.int64)
            trouble = groups_down.copy()
            for gid in flagged:  # a contradiction is trouble too, whatever answers
                trouble[index[gid] - 1] += len(s.devices) + 1
            chosen = self._choose(trouble)
            self._assign(chosen)
            rest = np.ones(len(groups_down), dtype=bool)
            rest[chosen] = False
            n_rest = int(rest.sum())
            ok, total = int(stats["ok"][1:][rest].sum()), int(stats["total"][1:][rest].sum())
            sick = int((groups_down[rest] > 0).sum())
            self.more.title.set_text(f"+{n_rest} more groups")
            self.more.ok.set(f"{ok:,}/{total:,}", f"{sick:,} groups with devices down" if sick
                             else "", t.warn if sick else None)
            power = stats["power_w"][1:][rest]
            power = power[np.isfinite(power)]  # groups with no power reading add nothing
            self.more.power.set(units.power(float(power.sum())) if power.size else units.NA)
        for gid, tile in self.tiles.items():
            k = index[gid]
            tile.duty.set_duty(self.duties.get(gid, UNKNOWN_DUTY))  # never the site file's
            rate, util, tps = (_finite(float(stats[n][k]))
                               for n in ("hashrate_ths", "util_pct", "tokens_per_s"))
            served = units.tokens(tps) if tps is not None else ""  # inference throughput
            n_rate, n_util, n_power = (missing(n, k) for n in ("hashrate_ths", "util_pct",
                                                                  "power_w"))
            if rate is None and util is not None:  # a GPU group
                tile.rate.caption.set_text("GPU UTIL")
                tile.rate.set(units.lower_bound(units.pct(util), n_util), served,
                              t.warn if n_util else None)
            else:  # miners, or a hybrid rack: its GPUs' utilisation underneath
                tile.rate.caption.set_text("HASHRATE")
                under = [served, f"GPU util {units.pct(util)}" if util is not None else ""]
                tile.rate.set(units.lower_bound(units.hashrate(rate), n_rate),
                              " · ".join(p for p in under if p), t.warn if n_rate else None)
            tile.power.set(units.lower_bound(units.power(_finite(float(stats["power_w"][k]))),
                                             n_power), "", t.warn if n_power else None)
            hot = _finite(float(stats["temp_c"][k]))
            tile.temp.set(units.temp(hot), "", temp_colour(hot))
            ok, total, down = (int(stats[n][k]) for n in ("ok", "total", "down"))
            dead = down > 0 and ok == 0  # 0 of N answering: the tile is red
            waiting = total - ok - down
            tile.ok.set(f"{ok:,}/{total:,}", f"{down:,} not answering" if down else
                        f"{waiting:,} not answered yet" if waiting else "",
                        t.bad if dead else t.warn if down else None)
            c = flagged.get(gid)
            tile.set_alert(dead or c is not None, c.message if c is not None else "")
