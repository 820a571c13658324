"""One way to open the product's SQLite files (journal, audit, alarm log,
history): autocommit (transactions are explicit), WAL and synchronous=NORMAL.
A killed process (kill -9) loses at most its open transaction and never
corrupts the file; only a power cut may lose the last commits.

Any failure to open (corrupt file, read-only or missing folder, a data dir
that is a file) is a `StorageError` naming the file and the area."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from opsconsole.core.storage import StorageError, storage_error


def open_wal(path: Path, *, create: bool = True, timeout_s: float = 30.0,
             rows: bool = False, area: str = "data dir",
             schema: str | None = None) -> sqlite3.Connection:
    """`create=False` refuses to make a new file (readers of a missing history);
    `rows=True` returns sqlite3.Row rows; `schema` runs once opened. The
    connection may be used from several threads; callers serialise with
    their own lock. Raises StorageError."""
    path = Path(path)
    db: sqlite3.Connection | None = None
    try:
        if create:
            make_dir(path.parent)
        elif not path.is_file():
            raise StorageError(path, area, "no such database file")
        uri = f"file:{path}" + ("" if create else "?mode=rw")
        db = sqlite3.connect(uri, uri=True, timeout=timeout_s, isolation_level=None,
                             check_same_thread=False)
        if rows:
            db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        if schema:
            db.executescript(schema)
        share_with_group(path)
        return db
    except StorageError:
        raise
    except (sqlite3.Error, OSError) as exc:
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()
        raise storage_error(exc, path, area) from None


@contextlib.contextmanager
def transaction(db: sqlite3.Connection, lock: threading.RLock, *,
                immediate: bool = False) -> Iterator[sqlite3.Connection]:
    """One explicit transaction on an autocommit connection from open_wal, under
    the caller's lock: COMMIT on success, ROLLBACK on any exception.
    `immediate=True` takes the write lock at BEGIN (read-then-write steps)."""
    with lock:
        db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def make_dir(folder: Path) -> None:
    """Create the data dir; in a shared (set-group-id) parent, such as the .deb's
    /var/lib/opsconsole, it is group-writable so every operator of the site
    (the console, the wall's kiosk user) uses the same files."""
    if folder.is_dir():
        return
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if folder.parent.stat().st_mode & stat.S_ISGID:
            os.chmod(folder, 0o2775)


def share_with_group(path: Path) -> None:
    """Make a database (and its WAL files) group-writable in a set-group-id folder."""
    try:
        if not path.parent.stat().st_mode & stat.S_ISGID:
            return
    except OSError:
        return
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(OSError):
            mode = p.stat().st_mode
            if mode & 0o060 != 0o060:
                os.chmod(p, stat.S_IMODE(mode) | 0o060)
