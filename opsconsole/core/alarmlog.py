"""The alarm log: every alarm raised, who acknowledged it (OS user, comment,
time) and when it cleared. Its own SQLite file (WAL) in the site's data dir,
so it survives restarts; alarms still open at start-up are handed back to
the tracker, acknowledgement included.

Writes are a few rows per alarm transition (rare by nature), each its own
short transaction; synchronous=NORMAL keeps them cheap on the GUI thread.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opsconsole.core.sqlite_wal import open_wal
from opsconsole.core.storage import ALARM_LOG, StorageFaults, storage_error

DB_NAME = "alarms.sqlite"
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


class AlarmLog:
    """`faults`: where a failed write is reported (the alarm is still shown,
    only its record is lost); without one, write errors raise."""

    def __init__(self, path: Path, faults: StorageFaults | None = None):
        self.path = Path(path)
        self.faults = faults
        self._lock = threading.Lock()
        self._db = open_wal(self.path, timeout_s=10.0, rows=True, area=ALARM_LOG, schema=SCHEMA)

    @classmethod
    def in_dir(cls, data_dir: Path, faults: StorageFaults | None = None) -> AlarmLog:
        return cls(Path(data_dir) / DB_NAME, faults)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                if self.faults is None:
                    raise
                self.faults.report_error(storage_error(exc, self.path, ALARM_LOG))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def raised(self, subject: str, scope: str, key: str, kind: str, severity: str,
               message: str, at: float) -> int | None:
        """The new row's id; None when it could not be written (reported)."""
        with self._writing():
            cur = self._db.execute(
                "INSERT INTO alarm_log(subject, scope, key, kind, severity, message, raised_at) "
                "VALUES (?,?,?,?,?,?,?)", (subject, scope, key, kind, severity, message, at))
            return int(cur.lastrowid or 0)
        return None

    def acked(self, log_id: int, user: str, comment: str, at: float) -> None:
        with self._writing():
            self._db.execute("UPDATE alarm_log SET acked_at=?, acked_by=?, ack_comment=? "
                             "WHERE id=?", (at, user, comment, log_id))

    def cleared(self, log_id: int, at: float, message: str = "") -> None:
        with self._writing():
            self._db.execute("UPDATE alarm_log SET cleared_at=?, clear_message=? "
                             "WHERE id=? AND cleared_at IS NULL", (at, message, log_id))

    def open_alarms(self) -> list[dict[str, Any]]:
        with self._writing():
            rows = self._db.execute("SELECT * FROM alarm_log WHERE cleared_at IS NULL "
                                    "ORDER BY id").fetchall()
            return [dict(r) for r in rows]
        return []  # unreadable (reported): no alarms to restore

    def entries(self, since: float | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest `limit` entries (raised at or after `since`), newest first."""
        q = "SELECT * FROM alarm_log" + (" WHERE raised_at >= ?" if since is not None else "")
        args: tuple[Any, ...] = (since,) if since is not None else ()
        with self._lock:
            rows = self._db.execute(q + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [dict(r) for r in rows]
