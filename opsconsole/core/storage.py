"""Storage faults: what is wrong with which file of the data dir, said once.

The journal (switching), the history and the alarm log are SQLite files in
the site's data dir. When one cannot be opened or written (corrupt, read-only,
a data dir that is a file, a full disk) the product keeps running without it
and says so: `StorageError` carries the file, the area and the problem in one
line; `StorageFaults` holds the current faults for a banner and logs each one
once, without a traceback.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SWITCHING, HISTORY, ALARM_LOG, DATA_DIR = "switching", "history", "alarm log", "data dir"
AREAS = (SWITCHING, HISTORY, ALARM_LOG, DATA_DIR)


class StorageError(Exception):
    """A file of the data dir that cannot be used. `str()` is one line."""

    def __init__(self, path: Path, area: str, problem: str):
        self.path = Path(path)
        self.area = area
        self.problem = problem
        super().__init__(f"{self.path}: {problem} ({area} is off)")


def describe(exc: BaseException, path: Path) -> str:
    """An operator's words for an OSError / sqlite3 error on `path`."""
    if isinstance(exc, sqlite3.DatabaseError):
        text = str(exc).lower()
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return "not a valid SQLite database (corrupt?)"
        if "readonly" in text or "read-only" in text:
            return "read-only: cannot write"
        if "unable to open" in text:
            return _why_unopenable(path)
        if "disk i/o" in text:
            return "disk I/O error"
        if "full" in text:
            return "the disk is full"
        if "locked" in text or "busy" in text:
            return "locked by another process for too long"
        return f"database error: {exc}"
    if isinstance(exc, OSError):
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return "read-only or not permitted: cannot write"
        if exc.errno in (errno.ENOTDIR, errno.EEXIST):
            return _why_unopenable(path)
        if exc.errno == errno.ENOSPC:
            return "the disk is full"
        return exc.strerror or str(exc)
    return f"{type(exc).__name__}: {exc}"


def _why_unopenable(path: Path) -> str:
    for p in (path.parent, *path.parent.parents):
        if p.exists():
            if not p.is_dir():
                return f"{p} is a file, not a folder"
            if not os.access(p, os.W_OK):
                return f"the folder {p} is read-only"
            break
    if path.is_dir():
        return "is a folder, not a database file"
    return "cannot be opened (read-only folder, or no permission)"


def storage_error(exc: BaseException, path: Path, area: str) -> StorageError:
    return StorageError(path, area, describe(exc, path))


@dataclass(frozen=True, slots=True)
class StorageFault:
    path: Path
    area: str
    problem: str
    since: float

    @property
    def text(self) -> str:
        return f"{self.area} is off: {self.path}: {self.problem}"


Listener = Callable[[list[StorageFault]], None]


class StorageFaults:
    """The current storage faults of one open site (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, StorageFault] = {}  # by area
        self._listeners: list[Listener] = []

    def report(self, path: Path, area: str, problem: str) -> StorageFault:
        """Record a fault; logs one line (no traceback) when it is new."""
        with self._lock:
            old = self._faults.get(area)
            if old is not None and old.path == Path(path) and old.problem == problem:
                return old
            fault = StorageFault(Path(path), area, problem, time.time())
            self._faults[area] = fault
            snapshot = list(self._faults.values())
        log.warning("%s", fault.text)
        self._notify(snapshot)
        return fault

    def report_error(self, err: StorageError) -> StorageFault:
        return self.report(err.path, err.area, err.problem)

    def clear(self, area: str) -> None:
        with self._lock:
            if self._faults.pop(area, None) is None:
                return
            snapshot = list(self._faults.values())
        self._notify(snapshot)

    def current(self) -> list[StorageFault]:
        with self._lock:
            return list(self._faults.values())

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._faults)

    def add_listener(self, cb: Listener) -> None:
        """`cb(faults)` runs on the thread that reported (the history writer's too)."""
        self._listeners.append(cb)

    def _notify(self, snapshot: list[StorageFault]) -> None:
        for cb in list(self._listeners):
            try:
                cb(snapshot)
            except Exception:  # a listener must not break the writer that reported
                log.debug("storage fault listener failed", exc_info=True)
