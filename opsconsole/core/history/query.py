"""Reading history back: `HistoryReader.series(key, metric, since, until)`.

The resolution is picked from the span (raw up to 24 h, 1-minute buckets up to
7 days, 1-hour buckets beyond); where the picked level no longer holds the
oldest part of the range (retention) but a coarser one does, that part is
read from the coarser level. The seam is put on a coarse bucket boundary: the coarse level
answers up to it, the fine one from it, so no sample is counted twice and
none is missing.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from opsconsole.core.history.schema import DB_NAME, LEVEL_BY_NAME, LEVELS, Level, connect


@dataclass(slots=True)
class Series:
    key: str
    metric: str
    resolution: str  # the level picked for the span ("raw", "1m", "1h")
    ts: np.ndarray = field(default_factory=lambda: np.array([]))  # seconds (bucket start)
    mean: np.ndarray = field(default_factory=lambda: np.array([]))
    min: np.ndarray = field(default_factory=lambda: np.array([]))
    max: np.ndarray = field(default_factory=lambda: np.array([]))
    level: list[str] = field(default_factory=list)  # per point: where it came from

    def __len__(self) -> int:
        return len(self.ts)

    def rows(self) -> list[dict[str, object]]:
        return [{"time": iso(float(t)), "ts": float(t), "resolution": lv,
                 "min": float(lo), "mean": float(m), "max": float(hi)}
                for t, lv, lo, m, hi in zip(self.ts, self.level, self.min, self.mean,
                                            self.max, strict=True)]

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["time", "resolution", "min", "mean", "max"])
        for r in self.rows():
            w.writerow([r["time"], r["resolution"], _num(r["min"]), _num(r["mean"]),
                        _num(r["max"])])
        return buf.getvalue()


def iso(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.isoformat(timespec="milliseconds" if ts % 1 else "seconds").replace("+00:00", "Z")


def _num(v: object) -> str:
    return repr(round(float(v), 6)) if isinstance(v, float) else str(v)


def pick_level(span_s: float) -> Level:
    return next(lv for lv in LEVELS if span_s <= lv.pick_up_to_s)


class HistoryReader:
    """Read-only access (its own connection; safe beside a running writer)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._db = connect(self.path, create=not self.path.exists())

    @classmethod
    def in_dir(cls, data_dir: Path) -> HistoryReader:
        return cls(Path(data_dir) / DB_NAME)

    def close(self) -> None:
        self._db.close()

    def keys(self) -> dict[str, list[str]]:
        """Every series key and its metrics."""
        out: dict[str, list[str]] = {}
        for key, metric in self._db.execute("SELECT key, metric FROM series ORDER BY key, metric"):
            out.setdefault(key, []).append(metric)
        return out

    def _sid(self, key: str, metric: str) -> int | None:
        row = self._db.execute("SELECT sid FROM series WHERE key=? AND metric=?",
                               (key, metric)).fetchone()
        return None if row is None else int(row[0])

    def series(self, key: str, metric: str, since: float, until: float,
               resolution: str | None = None) -> Series:
        """Points of one series in [since, until] at the resolution that suits
        the span (or the one named), older parts stitched from coarser levels."""
        first = LEVEL_BY_NAME[resolution] if resolution else pick_level(until - since)
        out = Series(key, metric, first.name)
        sid = self._sid(key, metric)
        if sid is None or until < since:
            return out
        parts: list[tuple[Level, list[tuple[Any, ...]]]] = []
        hi, hi_open = until, False
        chain = list(LEVELS[LEVELS.index(first):])
        for k, lv in enumerate(chain):
            coarser = chain[k + 1] if k + 1 < len(chain) else None
            oldest = self._oldest(lv, sid)
            if oldest is None:
                continue  # nothing at this level (yet / any more): the coarser one answers
            lo = since
            if coarser is not None and oldest > since:
                # Only where the coarser level reaches further back (this level's
                # rows expired) is there anything to stitch: coarse buckets before
                # the seam, this level from it. A level that merely started recently
                # (a new database) answers alone.
                w = coarser.width_s
                c_old = self._oldest(coarser, sid)
                if c_old is not None and c_old < math.floor(oldest / w) * w:
                    lo = math.ceil(oldest / w) * w
            if lo <= hi:
                parts.append((lv, self._fetch(lv, sid, lo, hi, hi_open)))
                hi, hi_open = lo, True
            if lo <= since:
                break
        rows = [(lv.name, r) for lv, got in reversed(parts) for r in got]
        if rows:
            out.level = [name for name, _ in rows]
            arr = np.array([r for _, r in rows], dtype=np.float64)
            out.ts, out.min, out.mean, out.max = arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3]
        return out

    def _oldest(self, lv: Level, sid: int) -> float | None:
        row = self._db.execute(f"SELECT min(ts) FROM {lv.table} WHERE sid=?", (sid,)).fetchone()
        if row is None or row[0] is None:
            return None
        return row[0] / 1000.0 if lv.width_s == 0 else float(row[0])

    def _fetch(self, lv: Level, sid: int, lo: float, hi: float,
               hi_open: bool) -> list[tuple]:
        op = "<" if hi_open else "<="
        if lv.width_s == 0:
            q = (f"SELECT ts / 1000.0, v, v, v FROM raw WHERE sid=? AND ts >= ? AND ts {op} ? "
                 "ORDER BY ts")
            hi_ms = round(hi * 1000) if hi_open else math.floor(hi * 1000)
            return self._db.execute(q, (sid, math.ceil(lo * 1000), hi_ms)).fetchall()
        # a bucket that began before `lo` but reaches into the range belongs to it,
        # unless lo is a seam (then it is on a bucket boundary already)
        start = math.floor(lo / lv.width_s) * lv.width_s
        q = (f"SELECT ts, mn, sm / n, mx FROM {lv.table} WHERE sid=? AND ts >= ? AND ts {op} ? "
             "ORDER BY ts")
        return self._db.execute(q, (sid, start, hi)).fetchall()
