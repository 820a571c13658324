"""The alarm log: every alarm raised, who acknowledged it (OS user, comment,
time) and when it cleared. Its own SQLite file (WAL) in the site's data dir,
so it survives restarts; alarms still open at start-up are handed back to
the tracker, acknowledgement included.

Alarms are evaluated on an event loop (the service's asyncio loop, the GUI
thread), and another process may hold the file's write lock for up to the
busy timeout. So `raised`, `acked` and `cleared` only queue the change and
return at once; the `alarm-log` writer thread commits them in order, a
batch per transaction. `raised` hands back a key of this log (not the row
id, which the writer learns later): `acked` and `cleared` name the alarm by
that key. A write that fails (locked too long, read-only, disk full) is a
storage fault: the alarm is still shown, only its record is lost. A process
killed with -9 loses what was still queued (changes of the last moment);
`close()` writes the queue out first.

Reads (`open_alarms`, `entries`) use their own connection: in WAL they
never wait on a writer, here or in another process.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import threading
from pathlib import Path
from typing import Any

from opsconsole.core.sqlite_wal import open_wal
from opsconsole.core.storage import ALARM_LOG, StorageFaults, storage_error

DB_NAME = "alarms.sqlite"
BUSY_TIMEOUT_S = 10.0  # the writer thread waits this long for another process's lock
MAX_BATCH = 5000  # changes per transaction (a site-wide outage raises thousands at once)
SCHEMA = """
CREATE TABLE IF NOT EXISTS alarm_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  subject TEXT NOT NULL,            -- device id, or group id for group alarms
  scope TEXT NOT NULL,              -- device | group
  key TEXT NOT NULL,                -- temp | hashrate | unreachable | group_power | rule:NAME
  kind TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL,
  raised_at REAL NOT NULL,
  acked_at REAL, acked_by TEXT, ack_comment TEXT,
  cleared_at REAL, clear_message TEXT);
CREATE INDEX IF NOT EXISTS alarm_log_open ON alarm_log(cleared_at);
CREATE INDEX IF NOT EXISTS alarm_log_raised ON alarm_log(raised_at);
"""

# one queued change: (what, key, values)
_Change = tuple[str, int, tuple[Any, ...]]


class AlarmLog:
    """`faults`: where a failed write is reported (one is made if none is given:
    the writer thread has nobody to raise to). Opening is synchronous and
    raises StorageError (a corrupt file, a read-only folder); in WAL it does
    not wait on another process's write lock."""

    def __init__(self, path: Path, faults: StorageFaults | None = None,
                 busy_timeout_s: float | None = None):
        self.path = Path(path)
        self.faults = faults if faults is not None else StorageFaults()
        busy_timeout_s = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
        self._db = open_wal(self.path, timeout_s=busy_timeout_s, rows=True, area=ALARM_LOG,
                            schema=SCHEMA)
        try:
            self._reader = open_wal(self.path, timeout_s=busy_timeout_s, rows=True,
                                    area=ALARM_LOG)
        except BaseException:
            self._db.close()
            raise
        self._read_lock = threading.Lock()
        self._keys = itertools.count(1)
        self._rows: dict[int, int] = {}  # key -> row id (filled by the writer thread)
        self._lost: set[int] = set()  # keys whose row could not be written
        self._cond = threading.Condition()
        self._queue: list[_Change] = []
        self._writing = False
        self._closing = False
        self.written = 0  # changes committed (tests count them)
        self._failed = False  # the last write failed and was reported
        self._thread = threading.Thread(target=self._run, name="alarm-log", daemon=True)
        self._thread.start()

    @classmethod
    def in_dir(cls, data_dir: Path, faults: StorageFaults | None = None) -> AlarmLog:
        return cls(Path(data_dir) / DB_NAME, faults)

    # -- the caller's side: never waits on the file ---------------------------------
    def _put(self, change: _Change) -> None:
        with self._cond:
            if self._closing:
                return
            self._queue.append(change)
            self._cond.notify_all()

    def raised(self, subject: str, scope: str, key: str, kind: str, severity: str,
               message: str, at: float) -> int:
        """The alarm's key in this log (for `acked` and `cleared`); its row
        is written by the writer thread."""
        k = next(self._keys)
        self._put(("raised", k, (subject, scope, key, kind, severity, message, at)))
        return k

    def acked(self, log_key: int, user: str, comment: str, at: float) -> None:
        self._put(("acked", log_key, (at, user, comment)))

    def cleared(self, log_key: int, at: float, message: str = "") -> None:
        self._put(("cleared", log_key, (at, message)))

    def row_id(self, log_key: int) -> int | None:
        """The row written for `log_key`; None while queued or when lost."""
        with self._cond:
            return self._rows.get(log_key)

    def lost(self, log_key: int) -> bool:
        """Whether the row of `log_key` could not be written (reported)."""
        with self._cond:
            return log_key in self._lost

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued change is committed or reported lost
        (tests, close); False on timeout. Never call it on an event loop."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._writing, timeout)

    def close(self) -> None:
        """Write what is queued, then close (waits up to the busy timeout per
        batch: callers on a loop run it in a thread)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        for db in (self._db, self._reader):
            with contextlib.suppress(sqlite3.Error):
                db.close()

    # -- the writer thread ------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closing)
                if not self._queue:
                    return  # closing, all written
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                self._writing = True
            try:
                self._write(batch)
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()

    def _write(self, batch: list[_Change]) -> None:
        new: dict[int, int] = {}
        closed: list[int] = []
        with self._cond:
            known = dict(self._rows)
        raising = {k for what, k, _ in batch if what == "raised"}
        batch = [c for c in batch if c[1] in raising or c[1] in known]
        if not batch:  # changes of alarms whose record was lost (reported once)
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for what, k, vals in batch:
                    if what == "raised":
                        cur = self._db.execute(
                            "INSERT INTO alarm_log(subject, scope, key, kind, severity, message, "
                            "raised_at) VALUES (?,?,?,?,?,?,?)", vals)
                        new[k] = int(cur.lastrowid or 0)
                        continue
                    row = new.get(k, known.get(k))
                    if row is None:  # its raise was lost (reported): nothing to update
                        continue
                    if what == "acked":
                        self._db.execute("UPDATE alarm_log SET acked_at=?, acked_by=?, "
                                         "ack_comment=? WHERE id=?", (*vals, row))
                    else:
                        self._db.execute("UPDATE alarm_log SET cleared_at=?, clear_message=? "
                                         "WHERE id=? AND cleared_at IS NULL", (*vals, row))
                        closed.append(k)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            with self._cond:
                self._lost.update(k for what, k, _ in batch if what == "raised")
            self.faults.report_error(storage_error(exc, self.path, ALARM_LOG))
            self._failed = True
            return
        with self._cond:
            self._rows.update(new)
            for k in closed:
                self._rows.pop(k, None)  # a cleared alarm is never updated again
            self.written += len(batch)
        if self._failed:  # writing again (the other process let go): the banner goes
            self._failed = False
            self.faults.clear(ALARM_LOG)

    # -- reads (own connection: never behind the writer) --------------------------------
    def open_alarms(self) -> list[dict[str, Any]]:
        """The alarms not cleared, oldest first; each row gets a `log_key` for
        `acked` / `cleared`. Unreadable: reported, and none."""
        try:
            with self._read_lock:
                rows = [dict(r) for r in self._reader.execute(
                    "SELECT * FROM alarm_log WHERE cleared_at IS NULL ORDER BY id").fetchall()]
        except sqlite3.Error as exc:
            self.faults.report_error(storage_error(exc, self.path, ALARM_LOG))
            return []
        with self._cond:
            for row in rows:
                row["log_key"] = k = next(self._keys)
                self._rows[k] = row["id"]
        return rows

    def entries(self, since: float | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest `limit` entries (raised at or after `since`), newest first;
        what is still queued is not in them yet."""
        q = "SELECT * FROM alarm_log" + (" WHERE raised_at >= ?" if since is not None else "")
        args: tuple[Any, ...] = (since,) if since is not None else ()
        with self._read_lock:
            rows = self._reader.execute(q + " ORDER BY id DESC LIMIT ?",
                                        (*args, limit)).fetchall()
        return [dict(r) for r in rows]
