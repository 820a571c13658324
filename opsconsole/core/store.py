"""The live store: the latest reading per device, numpy ring buffers of
recent history per device and metric, and group / site aggregates.

Time is slotted by the poll interval: a device is polled once per interval,
so slot `floor(ts / interval)` holds at most one value per device, and every
series (device or aggregate) shares one time axis. That keeps ingest and the
aggregate maths vectorised, and memory fixed: rows x slots x 4 bytes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from opsconsole.core.metrics import CATALOGUE
from opsconsole.core.readings import Reading, Status
from opsconsole.core.site import Site

# Aggregates over a scope (the site, or one group): how each is reduced.
AGGREGATES: dict[str, str] = {
    "hashrate_ths": "sum",
    "power_w": "sum",
    "temp_c": "max",
    "util_pct": "mean",
    "devices_ok": "count",
    "tokens_per_s": "sum",
}
GPU_METRICS = [m.name for m in CATALOGUE.values() if "gpu" in m.kinds and m.numeric]
MINER_METRICS = [m.name for m in CATALOGUE.values() if "miner" in m.kinds and m.numeric]
# Kinds whose metrics come from the catalogue rather than a profile.
_CATALOGUE_KINDS = ("gpu", "gpu-host", "inference")
SITE = "__site__"
# status_code per device: 0 pending (no reading yet), then one per Status
STATUS_CODES = {"pending": 0, "ok": 1, "partial": 2, "unreachable": 3, "error": 4}
_STATUSES = tuple(Status)
_STATUS_INDEX = {st: STATUS_CODES[st.value] for st in _STATUSES}


@dataclass(slots=True)
class ScopeSummary:
    id: str
    devices_total: int
    devices_ok: int = 0  # ok or partial: answering with data
    by_status: dict[str, int] = field(default_factory=dict)
    stale: int = 0  # no reading newer than three intervals
    hashrate_ths: float | None = None
    hashrate_nominal_ths: float | None = None
    power_w: float | None = None
    temp_c: float | None = None
    util_pct: float | None = None
    tokens_per_s: float | None = None
    efficiency_jth: float | None = None  # miner W per TH/s (J/TH), miners with both values
    devices_silent: int = 0  # not answering: pending, unreachable or error
    # metric -> devices that should report it and have no value now: a sum or
    # mean over the others is a lower bound / partial (core.truth words it)
    missing: dict[str, int] = field(default_factory=dict)

    def incomplete(self, metric: str) -> bool:
        return self.missing.get(metric, 0) > 0


# aggregates whose missing-device counts are kept (LiveStore.missing_latest, agg_missing)
MISSING_TRACKED = ("hashrate_ths", "power_w", "temp_c", "util_pct")


def _metrics_for(site: Site) -> dict[str, set[int]]:
    """Which numeric metrics each device may report (its profile, or the
    GPU catalogue), so ring buffers exist only where data can arrive."""
    want: dict[str, set[int]] = {}
    for i, dev in enumerate(site.devices()):
        names: Iterable[str]
        if dev.kind in _CATALOGUE_KINDS:
            names = [m.name for m in CATALOGUE.values() if dev.kind in m.kinds]
        elif dev.api is not None:  # a miner over its own API: the miner catalogue
            names = MINER_METRICS
        else:
            prof = site.profiles.get(dev.profile or "")
            names = prof.metrics.keys() if prof is not None else ()
        for name in names:
            info = CATALOGUE.get(name)
            if info is not None and info.numeric:
                want.setdefault(name, set()).add(i)
    return want


class LiveStore:
    def __init__(self, site: Site, history_s: float = 3600.0):
        self.site = site
        self.interval = float(site.poll_interval_s)
        # +2: the slot being filled and one spare, so a full hour is always kept
        self.capacity = math.ceil(history_s / self.interval) + 2
        devices = site.devices()
        self.ids = [d.id for d in devices]
        self.index = {d.id: i for i, d in enumerate(devices)}
        self.kinds = np.array([d.kind for d in devices])
        n = len(devices)
        self.n = n
        self.latest: list[Reading | None] = [None] * n
        self.last_answer_ts = np.full(n, np.nan)  # last ok/partial reading

        # Per metric: the device rows that may report it, the rings, the latest.
        self.rows: dict[str, np.ndarray] = {}  # device index -> row, -1 if none
        self.rings: dict[str, np.ndarray] = {}  # (rows, capacity) float32
        self.current: dict[str, np.ndarray] = {}  # (n,) float64, NaN = unknown
        for name, members in _metrics_for(site).items():
            rows = np.full(n, -1, dtype=np.int32)
            ordered = sorted(members)
            rows[ordered] = np.arange(len(ordered), dtype=np.int32)
            self.rows[name] = rows
            self.rings[name] = np.full((len(ordered), self.capacity), np.nan, np.float32)
            self.current[name] = np.full(n, np.nan)
        self.slot_ts = np.full(self.capacity, np.nan)  # start time of each slot
        self._slot_abs = -1  # absolute number of the newest slot

        # Scopes: index 0 is the site, then one per group.
        self.scopes = [SITE] + [g.id for g in site.groups]
        self.scope_index = {s: i for i, s in enumerate(self.scopes)}
        group_of = {d.id: g.id for g in site.groups for d in g.devices}
        self.group_idx = np.array([self.scope_index[group_of[d.id]] for d in devices],
                                  dtype=np.int64)
        self.ok_mask = np.zeros(n, dtype=bool)  # latest reading ok or partial
        self.status_code = np.zeros(n, dtype=np.int8)  # STATUS_CODES
        self.agg = {
            name: np.full((len(self.scopes), self.capacity), np.nan, np.float32)
            for name in AGGREGATES
        }
        # per aggregate and slot: devices that should have counted and had no value
        self.agg_missing = {
            name: np.full((len(self.scopes), self.capacity), np.nan, np.float32)
            for name in MISSING_TRACKED
        }
        # Power is counted once: a device fed by a PDU outlet is already in the
        # PDU's total, so it counts only when its PDU has no reading.
        self.fed_by = np.full(n, -1, dtype=np.int64)
        for i, d in enumerate(devices):
            if d.pdu is not None and d.pdu in self.index:
                self.fed_by[i] = self.index[d.pdu]
        # Devices fed by a PDU of another group: (device, pdu, outlet index 0-based).
        self._cross_fed = [(i, int(p), d.outlet - 1)
                           for i, (d, p) in enumerate(zip(devices, self.fed_by.tolist(),
                                                          strict=True))
                           if p >= 0 and d.outlet is not None
                           and self.group_idx[i] != self.group_idx[p]]

    # -- ingest -------------------------------------------------------------
    def _advance(self, ts: float) -> int:
        """Move the ring to the slot holding ts; clear slots skipped over."""
        slot_abs = int(ts // self.interval)
        if slot_abs > self._slot_abs:
            start = slot_abs if self._slot_abs < 0 else max(
                self._slot_abs + 1, slot_abs - self.capacity + 1)
            for s in range(start, slot_abs + 1):
                col = s % self.capacity
                self.slot_ts[col] = s * self.interval
                for ring in self.rings.values():
                    ring[:, col] = np.nan
                for ring in (*self.agg.values(), *self.agg_missing.values()):
                    ring[:, col] = np.nan
            self._slot_abs = slot_abs
        return slot_abs % self.capacity

    def ingest(self, batch: list[Reading]) -> list[int]:
        """Take a batch of readings; returns the store indices of the batch's
        known devices (readings of unknown devices are ignored): the rows a
        view refreshes, with dataChanged on those rows only.

        Vectorised per metric, not per reading x metric: at 20,000 devices the
        GUI thread takes a batch every half second and must stay responsive.
        A batch naming a device twice (rare: a backlog) takes the exact
        per-reading path, so the last reading wins as if ingested in order."""
        if not batch:
            return []
        newest = max(r.ts for r in batch)
        col = self._advance(newest)
        index_get = self.index.get
        idx_list: list[int] = []
        recs: list[Reading] = []
        for r in batch:
            i = index_get(r.device)
            if i is not None:
                idx_list.append(i)
                recs.append(r)
        if len(set(idx_list)) != len(idx_list):
            changed = self._ingest_each(recs, idx_list, col)
        else:
            changed = idx_list
            self._ingest_many(recs, idx_list, col)
        self._aggregate(col)
        return changed

    def _ingest_many(self, recs: list[Reading], idx_list: list[int], col: int) -> None:
        k = len(recs)
        if not k:
            return
        idx = np.array(idx_list, dtype=np.intp)
        latest = self.latest
        for i, r in zip(idx_list, recs, strict=True):
            latest[i] = r
        ok, partial = Status.OK, Status.PARTIAL
        answered_l = [r.status is ok or r.status is partial for r in recs]
        answered = np.array(answered_l, dtype=bool)
        self.ok_mask[idx] = answered
        self.status_code[idx] = [_STATUS_INDEX[r.status] for r in recs]
        ts = np.array([r.ts for r in recs], dtype=np.float64)
        self.last_answer_ts[idx[answered]] = ts[answered]
        same = (ts // self.interval).astype(np.int64) == self._slot_abs
        empty: dict = {}
        mets = [r.metrics if a else empty for r, a in zip(recs, answered_l, strict=True)]
        nan = math.nan

        def num(v: object) -> float:
            return float(v) if isinstance(v, int | float) else nan

        for name, cur in self.current.items():
            rws = self.rows[name][idx]
            sel = np.nonzero(rws >= 0)[0]
            if not sel.size:
                continue
            vals = np.array([num(mets[j].get(name)) for j in sel.tolist()], dtype=np.float64)
            cur[idx[sel]] = vals
            in_slot = same[sel]
            if in_slot.any():
                self.rings[name][rws[sel][in_slot], col] = vals[in_slot]

    def _ingest_each(self, recs: list[Reading], idx_list: list[int], col: int) -> list[int]:
        for i, r in zip(idx_list, recs, strict=True):
            self.latest[i] = r
            answered = r.status in (Status.OK, Status.PARTIAL)
            self.ok_mask[i] = answered
            self.status_code[i] = _STATUS_INDEX[r.status]
            if answered:
                self.last_answer_ts[i] = r.ts
            same_slot = int(r.ts // self.interval) == self._slot_abs
            for name, cur in self.current.items():
                row = self.rows[name][i]
                if row < 0:
                    continue
                v = r.metrics.get(name) if answered else None
                fv = float(v) if isinstance(v, int | float) else math.nan
                cur[i] = fv
                if same_slot:
                    self.rings[name][row, col] = fv
        return idx_list

    def _power_contrib(self) -> np.ndarray:
        power = self.current.get("power_w")
        if power is None:
            return np.full(self.n, np.nan)
        contrib = power.copy()
        fed = self.fed_by >= 0
        if fed.any():
            pdu_known = ~np.isnan(power[self.fed_by[fed]])
            idx = np.nonzero(fed)[0][pdu_known]
            contrib[idx] = np.nan
        # A device that reports no power of its own (stock Antminer firmware)
        # fed by another group's PDU: its outlet's reading moves from the PDU to
        # it, so its group shows its draw and the site total stays the same.
        for i, p, k in self._cross_fed:
            if not math.isnan(power[i]) or math.isnan(contrib[p]):
                continue
            r = self.latest[p]
            outlets = r.metrics.get("outlet_power_w") if r is not None else None
            w = outlets[k] if isinstance(outlets, list) and 0 <= k < len(outlets) else None
            if isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w):
                contrib[i] = w
                contrib[p] -= w
        return contrib

    def _reduce(self, vals: np.ndarray, how: str) -> np.ndarray:
        """Reduce per-device values to one per scope (site first, then groups);
        NaN where no device of the scope has a value."""
        have = ~np.isnan(vals)
        g = self.group_idx[have]
        v = vals[have]
        k = len(self.scopes)
        cnt = np.bincount(g, minlength=k).astype(np.float64)
        cnt[0] = v.size
        if how == "max":
            out = np.full(k, -np.inf)
            np.maximum.at(out, g, v)
            out[0] = v.max() if v.size else -np.inf
        else:
            out = np.bincount(g, weights=v, minlength=k).astype(np.float64)
            out[0] = v.sum()
            if how == "mean":
                with np.errstate(all="ignore"):
                    out = out / cnt
        return np.where(cnt > 0, out, np.nan)

    def _aggregate(self, col: int) -> None:
        ok = self.ok_mask.astype(np.float64)
        counts = np.bincount(self.group_idx, weights=ok, minlength=len(self.scopes))
        counts[0] = ok.sum()
        self.agg["devices_ok"][:, col] = counts
        for name, vals in (("hashrate_ths", self.current.get("hashrate_ths")),
                           ("power_w", self._power_contrib()),
                           ("temp_c", self.current.get("temp_c")),
                           ("util_pct", self.current.get("util_pct")),
                           ("tokens_per_s", self.current.get("tokens_per_s"))):
            if vals is not None:
                self.agg[name][:, col] = self._reduce(vals, AGGREGATES[name])
        for name, counts in self.missing_latest().items():
            self.agg_missing[name][:, col] = counts

    # -- what is missing ----------------------------------------------------
    def _missing_mask(self, metric: str) -> np.ndarray:
        """Devices that should report `metric` and have no value now. For power,
        a device whose PDU answers is counted in the PDU's total: not missing."""
        rows = self.rows.get(metric)
        if rows is None:
            return np.zeros(self.n, dtype=bool)
        miss = (rows >= 0) & np.isnan(self.current[metric])
        if metric == "power_w":
            fed = self.fed_by >= 0
            if fed.any():
                covered = np.zeros(self.n, dtype=bool)
                covered[fed] = ~np.isnan(self.current[metric][self.fed_by[fed]])
                miss &= ~covered
        return miss

    def _count(self, mask: np.ndarray) -> np.ndarray:
        k = len(self.scopes)
        out = np.bincount(self.group_idx, weights=mask, minlength=k).astype(np.int64)
        out[0] = int(mask.sum())
        return out

    def missing_latest(self) -> dict[str, np.ndarray]:
        """Per scope (index 0 the site, then the groups, like `agg`): how many
        devices that should feed each aggregate have no value now."""
        return {name: self._count(self._missing_mask(name)) for name in MISSING_TRACKED}

    def efficiency_jth(self, scope: str = SITE) -> tuple[float | None, int]:
        """Miner power over miner hashrate (W per TH/s = J/TH) over the miners
        of the scope that report both, and how many miners were left out."""
        power, rate = self.current.get("power_w"), self.current.get("hashrate_ths")
        m = self.kinds == "miner"
        s = self.scope_index[scope]
        if s:
            m &= self.group_idx == s
        if power is None or rate is None:
            return None, 0
        both = m & ~np.isnan(power) & ~np.isnan(rate)
        total = float(rate[both].sum())
        left_out = int(m.sum() - both.sum())
        return (float(power[both].sum()) / total if total > 0 else None), left_out

    def backfill(self, scope: str, metric: str, ts: np.ndarray, values: np.ndarray) -> int:
        """Fill older slots of a scope's aggregate ring from recorded history
        (a window that connects to a site service mid-hour draws the hour,
        not an empty chart). Only slots older than the newest, within the
        ring, and still empty; returns how many were filled."""
        if self._slot_abs < 0 or metric not in self.agg or scope not in self.scope_index:
            return 0
        ring, row, filled = self.agg[metric], self.scope_index[scope], 0
        for t, v in zip(np.asarray(ts).tolist(), np.asarray(values).tolist(), strict=True):
            s = int(t // self.interval)
            if not self._slot_abs - self.capacity < s < self._slot_abs or math.isnan(v):
                continue
            col, start = s % self.capacity, s * self.interval
            if math.isnan(self.slot_ts[col]):
                self.slot_ts[col] = start  # never reached live: its rings are all NaN
            elif self.slot_ts[col] != start or not math.isnan(ring[row, col]):
                continue  # a live value stays
            ring[row, col] = v
            filled += 1
        return filled

    # -- queries ------------------------------------------------------------
    def newest_col(self) -> int:
        """The ring column of the newest slot (-1 before any reading)."""
        return -1 if self._slot_abs < 0 else self._slot_abs % self.capacity

    def _order(self, window_s: float | None) -> np.ndarray:
        """Ring columns in time order, limited to the window."""
        if self._slot_abs < 0:
            return np.array([], dtype=np.int64)
        n_slots = self.capacity if window_s is None else min(
            self.capacity, math.ceil(window_s / self.interval) + 1)
        first = self._slot_abs - n_slots + 1
        cols = np.arange(first, self._slot_abs + 1) % self.capacity
        return cols[~np.isnan(self.slot_ts[cols])]

    def series(self, device_id: str, metric: str,
               window_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(slot start times, values) for one device and metric; NaN = no data."""
        i = self.index[device_id]
        rows = self.rows.get(metric)
        if rows is None or rows[i] < 0:
            return np.array([]), np.array([], dtype=np.float32)
        cols = self._order(window_s)
        return self.slot_ts[cols], self.rings[metric][rows[i], cols]

    def agg_series(self, scope: str, metric: str,
                   window_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """An aggregate series for the site (scope SITE) or a group id."""
        cols = self._order(window_s)
        return self.slot_ts[cols], self.agg[metric][self.scope_index[scope], cols]

    def summary(self, scope: str = SITE, now: float | None = None) -> ScopeSummary:
        now = time.time() if now is None else now
        s = self.scope_index[scope]
        m = np.ones(self.n, dtype=bool) if s == 0 else self.group_idx == s
        out = ScopeSummary(scope, devices_total=int(m.sum()))
        counts = np.bincount(self.status_code[m].astype(np.int64), minlength=len(STATUS_CODES))
        for name, c in zip(STATUS_CODES, counts, strict=True):
            if c:
                out.by_status[name] = int(c)
        out.devices_ok = int(self.ok_mask[m].sum())
        fresh = self.last_answer_ts[m]
        with np.errstate(invalid="ignore"):
            out.stale = int(np.sum(np.isnan(fresh) | (now - fresh > 3 * self.interval)))

        def pick(vals: np.ndarray | None, how: str) -> float | None:
            if vals is None:
                return None
            v = vals[m]
            v = v[~np.isnan(v)]
            if v.size == 0:
                return None
            return float({"sum": v.sum, "max": v.max, "mean": v.mean}[how]())

        out.hashrate_ths = pick(self.current.get("hashrate_ths"), "sum")
        out.hashrate_nominal_ths = pick(self.current.get("hashrate_nominal_ths"), "sum")
        out.power_w = pick(self._power_contrib(), "sum")
        out.temp_c = pick(self.current.get("temp_c"), "max")
        out.util_pct = pick(self.current.get("util_pct"), "mean")
        out.tokens_per_s = pick(self.current.get("tokens_per_s"), "sum")
        out.devices_silent = out.devices_total - out.devices_ok
        for name in MISSING_TRACKED:
            n = int(self._missing_mask(name)[m].sum())
            if n:
                out.missing[name] = n
        out.efficiency_jth, left_out = self.efficiency_jth(scope)
        if left_out and out.efficiency_jth is not None:
            out.missing["efficiency_jth"] = left_out
        return out

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (*self.rings.values(), *self.agg.values(),
                                      *self.current.values()))
