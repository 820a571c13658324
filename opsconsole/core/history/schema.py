"""The history database: one SQLite file (WAL) in the site's data dir.

Three resolutions, each its own table keyed (series, time) WITHOUT ROWID so a
series' rows sit together on disk and a range read is one index walk:

- `raw`: every sample, kept 24 h (time in integer milliseconds);
- `m1`:  1-minute buckets, kept 30 days;
- `h1`:  1-hour buckets, kept 2 years.

Buckets keep min, max, sum and count (not the mean) so that a bucket can be
merged into at any time: the writer folds each commit's samples into the
minute and hour rows they belong to, in the same transaction as the raw rows.
Aggregates are then exact and never lag, and a kill -9 leaves raw and buckets
consistent (both committed, or neither).

Series are named by a key: a device id, or `@<group id>` / `@site` for the
group and site aggregates ('@' cannot start a site-file id).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from opsconsole.core.sqlite_wal import open_wal
from opsconsole.core.storage import HISTORY

DB_NAME = "history.sqlite"
SITE_KEY = "@site"
DAY = 86400.0


def group_key(group_id: str) -> str:
    return f"@{group_id}"


@dataclass(frozen=True, slots=True)
class Level:
    name: str  # "raw" | "1m" | "1h": what the query API and the CLI report
    table: str
    width_s: int  # bucket width; 0 for raw samples
    keep_s: float  # retention
    pick_up_to_s: float  # the finest level whose limit covers a range's span is read


LEVELS: tuple[Level, ...] = (
    Level("raw", "raw", 0, DAY, DAY),
    Level("1m", "m1", 60, 30 * DAY, 7 * DAY),
    Level("1h", "h1", 3600, 731 * DAY, float("inf")),
)
LEVEL_BY_NAME = {lv.name: lv for lv in LEVELS}

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
  sid INTEGER PRIMARY KEY, key TEXT NOT NULL, metric TEXT NOT NULL,
  UNIQUE (key, metric));
CREATE TABLE IF NOT EXISTS raw (
  sid INTEGER NOT NULL, ts INTEGER NOT NULL, v REAL NOT NULL,
  PRIMARY KEY (sid, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS m1 (
  sid INTEGER NOT NULL, ts INTEGER NOT NULL,
  mn REAL NOT NULL, mx REAL NOT NULL, sm REAL NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (sid, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS h1 (
  sid INTEGER NOT NULL, ts INTEGER NOT NULL,
  mn REAL NOT NULL, mx REAL NOT NULL, sm REAL NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (sid, ts)) WITHOUT ROWID;
"""


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL and
    synchronous=NORMAL: a killed process loses at most the open transaction
    and never corrupts the file; only a power cut may lose the last commits."""
    return open_wal(path, create=create, area=HISTORY, schema=SCHEMA if create else None)
