"""What each duty earns per MWh, from prices the operator types in `[economics]`.

Revenue per MWh of a duty is its output valued at the operator's price,
divided by the energy it takes:

  mining:     hashrate_ths x hashprice_usd_per_ph_day / 1000 PH/TH / 24 h, per MW
  inference:  tokens_per_s x 3600 s x token_price_usd_per_mtok / 1e6, per MW

and the margin is that minus `power_price_usd_per_mwh`. A group's current
duty is measured (its live output against its live power); the other duty is
estimated from the group's own history in that duty (the 1-minute buckets of
its `@group` aggregates where that duty's output was above zero), and says
so. When a number cannot be had, `basis` says why instead. Nothing here is
fetched from anywhere: prices are inputs. No Qt.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from opsconsole.core.storage import StorageError

EARNING_DUTIES = ("mining", "inference")
OUTPUT = {"mining": "hashrate_ths", "inference": "tokens_per_s"}
PRICE = {"mining": "hashprice_usd_per_ph_day", "inference": "token_price_usd_per_mtok"}
HISTORY_WINDOW_S = 30 * 86400.0  # the 1-minute buckets are kept 30 days
CACHE_S = 300.0  # history estimates move slowly: read them at most every 5 minutes
RETRY_S = 30.0  # ... but "no history yet" is asked again sooner: a fresh site fills it


@dataclass(frozen=True, slots=True)
class Prices:
    hashprice_usd_per_ph_day: float | None = None
    token_price_usd_per_mtok: float | None = None
    power_price_usd_per_mwh: float | None = None

    @classmethod
    def from_site(cls, economics: dict[str, float]) -> Prices:
        return cls(**{k: economics.get(k) for k in
                      ("hashprice_usd_per_ph_day", "token_price_usd_per_mtok",
                       "power_price_usd_per_mwh")})

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.hashprice_usd_per_ph_day,
                                            self.token_price_usd_per_mtok,
                                            self.power_price_usd_per_mwh))

    def price(self, duty: str) -> float | None:
        return getattr(self, PRICE[duty])


@dataclass(frozen=True, slots=True)
class Earning:
    duty: str  # mining | inference
    revenue_usd_per_mwh: float | None
    margin_usd_per_mwh: float | None
    estimated: bool  # from history, not measured now
    basis: str  # where the number comes from, or why there is none

    @property
    def label(self) -> str:
        return "estimate" if self.estimated else "measured"


def usd_per_hour_per_unit(duty: str, prices: Prices) -> float | None:
    """Revenue per hour of one unit of the duty's output (1 TH/s, 1 token/s)."""
    p = prices.price(duty)
    if p is None:
        return None
    if duty == "mining":
        return p / 1000.0 / 24.0  # USD per PH per day -> per TH per hour
    return p * 3600.0 / 1e6  # USD per million tokens -> per token/s per hour


def revenue_per_mwh(duty: str, output: float, power_w: float, prices: Prices) -> float | None:
    k = usd_per_hour_per_unit(duty, prices)
    if k is None or power_w <= 0:
        return None
    return k * output / (power_w / 1e6)


def _margin(revenue: float | None, prices: Prices) -> float | None:
    if revenue is None or prices.power_price_usd_per_mwh is None:
        return None
    return revenue - prices.power_price_usd_per_mwh


def _unit(duty: str) -> str:
    return "TH/s" if duty == "mining" else "tokens/s"


def _missing_price(duty: str, prices: Prices) -> str | None:
    if prices.price(duty) is None:
        return f"no {PRICE[duty]} in [economics]"
    return None


def measured(duty: str, output: float | None, power_w: float | None, prices: Prices) -> Earning:
    """The duty a group is in now, from its live output and power."""
    why = _missing_price(duty, prices)
    if why is None and (output is None or power_w is None or power_w <= 0):
        why = f"no live {OUTPUT[duty]} and power_w to measure"
    if why is not None:
        return Earning(duty, None, None, False, why)
    assert output is not None and power_w is not None
    rev = revenue_per_mwh(duty, output, power_w, prices)
    return Earning(duty, rev, _margin(rev, prices), False,
                   f"measured now: {output:,.1f} {_unit(duty)} at {power_w / 1000:,.2f} kW")


def estimate(duty: str, output: np.ndarray, power_w: np.ndarray, width_s: float,
             prices: Prices) -> Earning:
    """From aligned history buckets of the group's output and power: the
    buckets where the duty produced (output > 0 and power > 0), energy-weighted."""
    why = _missing_price(duty, prices)
    if why is not None:
        return Earning(duty, None, None, True, why)
    out = np.asarray(output, dtype=np.float64)
    pw = np.asarray(power_w, dtype=np.float64)
    keep = np.isfinite(out) & np.isfinite(pw) & (out > 0) & (pw > 0)
    if not keep.any():
        return Earning(duty, None, None, True,
                       f"cannot be estimated: no history of this group in {duty}")
    k = usd_per_hour_per_unit(duty, prices)
    assert k is not None
    rev = k * float(out[keep].sum()) / (float(pw[keep].sum()) / 1e6)
    hours = int(keep.sum()) * width_s / 3600.0
    return Earning(duty, rev, _margin(rev, prices), True,
                   f"estimate from {hours:,.1f} h of this group's history in {duty}")


def history_estimate(reader: Any, group_id: str, duty: str, prices: Prices, now: float,
                     window_s: float = HISTORY_WINDOW_S) -> Earning:
    """`estimate` over the group's 1-minute history (a core.history HistoryReader)."""
    from opsconsole.core.history.schema import group_key

    if reader is None:
        return Earning(duty, None, None, True, "cannot be estimated: no history database")
    key = group_key(group_id)
    out = reader.series(key, OUTPUT[duty], now - window_s, now, resolution="1m")
    pw = reader.series(key, "power_w", now - window_s, now, resolution="1m")
    common, io, ip = np.intersect1d(out.ts, pw.ts, return_indices=True)
    if not len(common):
        return estimate(duty, np.array([]), np.array([]), 60.0, prices)
    return estimate(duty, out.mean[io], pw.mean[ip], 60.0, prices)


@dataclass(frozen=True, slots=True)
class ScopeEarnings:
    scope: str  # a group id, or "site"
    duty: str  # the group's duty now ("mixed" for the site)
    rows: tuple[Earning, ...]  # mining, inference


READING = "reading history..."


class EarningsBook:
    """Per group and for the site, both duties' revenue and margin per MWh.
    History estimates are cached (CACHE_S) so a view may ask every refresh.

    `on_read` set (a view on an event loop): history is opened and read on the
    book's own `history-read` thread, never the caller's; until an estimate
    arrives the last one (or "reading history...") stands, and `on_read()`
    is called from that thread when a new one is in."""

    def __init__(self, prices: Prices, reader: Any = None,
                 clock: Callable[[], float] = time.time,
                 on_read: Callable[[], None] | None = None):
        self.prices = prices
        self.reader = reader
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Earning]] = {}
        self._lock = threading.Lock()
        self._on_read = on_read
        self._pool = (ThreadPoolExecutor(1, thread_name_prefix="history-read")
                      if on_read is not None else None)
        self._asked: set[tuple[str, str]] = set()
        self._source: Path | None = None  # a database to open on first read
        self._generation = 0  # bumped by a new reader: older reads are dropped

    def _estimate(self, group_id: str, duty: str) -> Earning:
        now = self.clock()
        key = (group_id, duty)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            keep = CACHE_S if hit[1].revenue_usd_per_mwh is not None else RETRY_S
            if now - hit[0] < keep:
                return hit[1]
        if self._pool is None or (self.reader is None and self._source is None):
            return self._read(key, now, self._generation)  # (no database: no I/O)
        with self._lock:
            if key not in self._asked:
                self._asked.add(key)
                self._pool.submit(self._read_and_tell, key, now, self._generation)
        return hit[1] if hit is not None else Earning(duty, None, None, True, READING)

    def _read(self, key: tuple[str, str], now: float, generation: int) -> Earning:
        with self._lock:
            reader, source = self.reader, self._source
        if reader is None and source is not None:
            from opsconsole.core.history import HistoryReader

            reader = HistoryReader(source)
            with self._lock:
                if generation == self._generation:
                    self.reader, self._source = reader, None
        e = history_estimate(reader, key[0], key[1], self.prices, now)
        with self._lock:
            if generation == self._generation:
                self._cache[key] = (now, e)
        return e

    def _read_and_tell(self, key: tuple[str, str], now: float, generation: int) -> None:
        try:
            self._read(key, now, generation)
        except (StorageError, sqlite3.Error, OSError) as exc:  # corrupt, unreadable
            with self._lock:
                self._cache[key] = (now, Earning(key[1], None, None, True,
                                                 f"cannot be estimated: {exc}"))
        finally:
            with self._lock:
                self._asked.discard(key)
        if self._on_read is not None:
            self._on_read()

    def set_reader(self, reader: Any) -> None:
        """A (new) history database: estimates are read afresh."""
        with self._lock:
            self.reader, self._source = reader, None
            self._generation += 1
            self._cache.clear()

    def set_source(self, path: Path) -> None:
        """A history database to open where it is first read (the read thread)."""
        with self._lock:
            self.reader, self._source = None, Path(path)
            self._generation += 1
            self._cache.clear()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def group(self, group_id: str, duty: str, summary: Any) -> ScopeEarnings:
        """`summary`: the group's store ScopeSummary (hashrate_ths, tokens_per_s, power_w)."""
        rows = []
        for d in EARNING_DUTIES:
            if d == duty:
                rows.append(measured(d, getattr(summary, OUTPUT[d]), summary.power_w,
                                     self.prices))
            else:
                rows.append(self._estimate(group_id, d))
        return ScopeEarnings(group_id, duty, tuple(rows))

    def site(self, groups: list[tuple[ScopeEarnings, float | None]]) -> ScopeEarnings:
        """The site: per duty, the power-weighted mean of the groups' rows (each
        group weighted by its live power); an estimate if any part is one."""
        rows = []
        for k, d in enumerate(EARNING_DUTIES):
            parts = [(g.rows[k], p) for g, p in groups
                     if g.rows[k].revenue_usd_per_mwh is not None and p and p > 0]
            if not parts:
                why = _missing_price(d, self.prices) or f"no group has figures for {d}"
                rows.append(Earning(d, None, None, True, why))
                continue
            total = sum(p for _e, p in parts)
            rev = sum((e.revenue_usd_per_mwh or 0.0) * p for e, p in parts) / total  # none is None
            est = any(e.estimated for e, _p in parts)
            n = len(parts)
            rows.append(Earning(d, rev, _margin(rev, self.prices), est,
                                f"{n} group{'s' if n != 1 else ''}, weighted by power"
                                + (" (includes estimates)" if est else "")))
        return ScopeEarnings("site", "mixed", tuple(rows))


def fmt_usd(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "—"
    return f"-${-v:,.0f}" if v < 0 else f"${v:,.0f}"
