"""HistoryWriter: readings -> the history database, on its own thread.

`ingest(batch, store)` is called where the LiveStore is fed (the GUI session,
`poll`). It only puts the batch on a bounded queue: when the queue is full
the batch is dropped and counted, so a slow disk can never stall a poll or
the window. The writer thread turns batches into rows, commits them in
batches (at most every `commit_every_s`), and between commits runs the
retention in small steps.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from opsconsole.core.history.schema import DB_NAME, LEVELS, SITE_KEY, connect, group_key
from opsconsole.core.metrics import CATALOGUE
from opsconsole.core.readings import Reading, Status
from opsconsole.core.storage import HISTORY, StorageFaults, storage_error

log = logging.getLogger(__name__)

NUMERIC = frozenset(m.name for m in CATALOGUE.values() if m.numeric)
_ANSWERED = (Status.OK, Status.PARTIAL)
_BUCKETS = [lv for lv in LEVELS if lv.width_s]
_MERGE = ("INSERT INTO {t}(sid, ts, mn, mx, sm, n) VALUES (?,?,?,?,?,?) "
          "ON CONFLICT(sid, ts) DO UPDATE SET mn=min(mn, excluded.mn), "
          "mx=max(mx, excluded.mx), sm=sm+excluded.sm, n=n+excluded.n")
RETENTION_CHUNK = 64  # series per retention transaction: short, so writes never wait long


@dataclass(slots=True)
class _Aggs:
    """Group/site aggregates of one closed poll slot (from the LiveStore)."""
    ts: float
    values: dict[str, dict[str, float]]  # series key -> metric -> value


@dataclass(slots=True)
class WriterStats:
    queued: int = 0  # batches accepted
    dropped: int = 0  # readings dropped because the queue was full
    rows: int = 0  # raw rows committed
    commits: int = 0
    last_commit_s: float = 0.0
    retention_deleted: int = 0


def closed_slot_aggregates(store: Any, last_slot: int) -> tuple[int, _Aggs | None]:
    """If the store moved past slot `last_slot`, the aggregates of that slot
    (final: no reading lands in a slot once the next one began)."""
    have = ~np.isnan(store.slot_ts)
    if not have.any():
        return last_slot, None
    newest = round(float(np.nanmax(store.slot_ts)) / store.interval)
    if newest <= last_slot or last_slot < 0:
        return max(newest, last_slot), None
    col = last_slot % store.capacity
    ts = last_slot * store.interval
    if store.slot_ts[col] != ts:  # wrapped over already: nothing to say
        return newest, None
    values: dict[str, dict[str, float]] = {}
    for name, ring in store.agg.items():
        col_vals = ring[:, col]
        for s, scope in enumerate(store.scopes):
            v = float(col_vals[s])
            if math.isfinite(v):
                key = SITE_KEY if s == 0 else group_key(scope)
                values.setdefault(key, {})[name] = v
    return newest, _Aggs(ts, values)


class HistoryWriter:
    def __init__(self, path: Path, *, queue_size: int = 512, commit_every_s: float = 1.0,
                 retention_every_s: float = 300.0, clock: Callable[[], float] = time.time,
                 faults: StorageFaults | None = None):
        self.path = Path(path)
        self.faults = faults  # where a failure of the writer thread is reported
        self.stats = WriterStats()
        self.commit_every_s = commit_every_s
        self.retention_every_s = retention_every_s
        self.clock = clock  # retention cut-offs (tests pass a fake one)
        self._q: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._slot = -1  # the store slot whose aggregates were last taken
        self._db = connect(self.path)  # opened here: an unusable dir fails the caller now
        self._sids: dict[tuple[str, str], int] = {
            (k, m): s for s, k, m in self._db.execute("SELECT sid, key, metric FROM series")}
        self._last_ts: dict[int, int] = {}  # newest raw ms per series: drops duplicates
        self._retention: Iterator[None] | None = None
        self._next_retention = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._thread.start()

    @classmethod
    def in_dir(cls, data_dir: Path, **kw: Any) -> HistoryWriter:
        return cls(Path(data_dir) / DB_NAME, **kw)

    # -- producer side (any thread; never blocks) ---------------------------------
    def ingest(self, batch: list[Reading], store: Any = None) -> None:
        """Queue a batch (and, with the LiveStore it was just fed to, the
        aggregates of a poll slot that just closed)."""
        aggs = None
        if store is not None:
            self._slot, aggs = closed_slot_aggregates(store, self._slot)
        for item in (batch, aggs):
            if not item:
                continue
            try:
                self._q.put_nowait(item)
                self.stats.queued += 1
            except queue.Full:
                self.stats.dropped += len(batch) if isinstance(item, list) else 1

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is committed (tests, shutdown)."""
        done = threading.Event()
        try:
            self._q.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        self.flush(timeout)
        self._stop.set()
        self._thread.join(timeout)

    # -- writer thread ----------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                items = self._gather()
                if items:
                    self._commit(items)
                elif self._retention_due():
                    self._retention_step()
        except Exception as exc:  # history is best effort: the console goes on without it
            err = storage_error(exc, self.path, HISTORY)
            if self.faults is not None:
                self.faults.report_error(err)
            else:
                log.warning("%s", err)
            log.debug("history writer stopped", exc_info=True)
        finally:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()

    def _gather(self) -> list[Any]:
        """Items for one transaction: what arrives within commit_every_s of
        the first (a flush request ends the wait)."""
        try:
            first = self._q.get(timeout=0.2)
        except queue.Empty:
            return []
        items = [first]
        deadline = time.monotonic() + self.commit_every_s
        while not isinstance(items[-1], threading.Event):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                items.append(self._q.get(timeout=left))
            except queue.Empty:
                break
        return items

    def _sid(self, key: str, metric: str) -> int:
        sid = self._sids.get((key, metric))
        if sid is None:
            self._db.execute("INSERT OR IGNORE INTO series(key, metric) VALUES (?, ?)",
                             (key, metric))
            sid = int(self._db.execute("SELECT sid FROM series WHERE key=? AND metric=?",
                                       (key, metric)).fetchone()[0])
            self._sids[(key, metric)] = sid
        return sid

    def _rows(self, items: list[Any]) -> list[tuple[int, int, float]]:
        rows: list[tuple[int, int, float]] = []
        last = self._last_ts
        for item in items:
            if isinstance(item, list):
                samples = ((r.device, r.ts, r.metrics) for r in item if r.status in _ANSWERED)
            elif isinstance(item, _Aggs):
                samples = ((k, item.ts, m) for k, m in item.values.items())
            else:
                continue
            for key, ts, metrics in samples:
                ms = round(ts * 1000)
                for name, v in metrics.items():
                    if (name not in NUMERIC or isinstance(v, bool)
                            or not isinstance(v, int | float) or not math.isfinite(v)):
                        continue
                    sid = self._sid(key, name)
                    if sid not in last:  # first sample this run: what an earlier run kept
                        row = self._db.execute("SELECT max(ts) FROM raw WHERE sid=?",
                                               (sid,)).fetchone()
                        last[sid] = -1 if row[0] is None else int(row[0])
                    if ms <= last[sid]:
                        continue  # the same reading twice (or out of order): once only
                    last[sid] = ms
                    rows.append((sid, ms, float(v)))
        return rows

    def _commit(self, items: list[Any]) -> None:
        t0 = time.monotonic()
        db = self._db
        db.execute("BEGIN")
        try:
            rows = self._rows(items)
            if rows:
                db.executemany("INSERT OR REPLACE INTO raw(sid, ts, v) VALUES (?,?,?)", rows)
                for lv in _BUCKETS:
                    db.executemany(_MERGE.format(t=lv.table), _buckets(rows, lv.width_s))
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        self.stats.rows += len(rows)
        self.stats.commits += 1
        self.stats.last_commit_s = time.monotonic() - t0
        for item in items:
            if isinstance(item, threading.Event):
                item.set()

    # -- retention ----------------------------------------------------------------------
    def _retention_due(self) -> bool:
        return self._retention is not None or time.monotonic() >= self._next_retention

    def _retention_step(self) -> None:
        if self._retention is None:
            self._retention = self._retention_pass(self.clock())
        if next(self._retention, StopIteration) is StopIteration:
            self._retention = None
            self._next_retention = time.monotonic() + self.retention_every_s

    def _retention_pass(self, now: float) -> Iterator[None]:
        for deleted in retention_pass(self._db, now):
            self.stats.retention_deleted += deleted
            yield


def retention_pass(db: sqlite3.Connection, now: float) -> Iterator[int]:
    """Delete expired rows, RETENTION_CHUNK series per transaction (autocommit:
    each DELETE is its own short one); yields the count after each so the
    writer can take queued writes in between."""
    sids = [s for (s,) in db.execute("SELECT sid FROM series ORDER BY sid")]
    for lv in LEVELS:
        cut = now - lv.keep_s
        cutoff = int(cut * 1000) if lv.width_s == 0 else int(cut // lv.width_s * lv.width_s)
        for k in range(0, len(sids), RETENTION_CHUNK):
            chunk = sids[k:k + RETENTION_CHUNK]
            marks = ",".join("?" * len(chunk))
            cur = db.execute(f"DELETE FROM {lv.table} WHERE sid IN ({marks}) AND ts < ?",
                             (*chunk, cutoff))
            yield max(cur.rowcount, 0)


def _buckets(rows: list[tuple[int, int, float]], width_s: int) -> list[tuple]:
    """Fold samples into (sid, bucket start s, min, max, sum, count)."""
    acc: dict[tuple[int, int], list[float]] = {}
    w_ms = width_s * 1000
    for sid, ms, v in rows:
        k = (sid, ms // w_ms * width_s)
        a = acc.get(k)
        if a is None:
            acc[k] = [v, v, v, 1]
        else:
            if v < a[0]:
                a[0] = v
            if v > a[1]:
                a[1] = v
            a[2] += v
            a[3] += 1
    return [(sid, ts, a[0], a[1], a[2], int(a[3])) for (sid, ts), a in acc.items()]
