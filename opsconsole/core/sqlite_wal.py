"""One way to open the product's SQLite files (journal, audit, alarm log,
history): autocommit (transactions are explicit), WAL and synchronous=NORMAL.
A killed process (kill -9) loses at most its open transaction and never
corrupts the file; only a power cut may lose the last commits."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_wal(path: Path, *, create: bool = True, timeout_s: float = 30.0,
             rows: bool = False) -> sqlite3.Connection:
    """`create=False` refuses to make a new file (readers of a missing history);
    `rows=True` returns sqlite3.Row rows. The connection may be used from
    several threads; callers serialise with their own lock."""
    path = Path(path)
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    uri = f"file:{path}" + ("" if create else "?mode=rw")
    db = sqlite3.connect(uri, uri=True, timeout=timeout_s, isolation_level=None,
                         check_same_thread=False)
    if rows:
        db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db
