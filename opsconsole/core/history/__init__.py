"""Telemetry history in SQLite: raw 24 h, 1-minute buckets 30 days, 1-hour
buckets 2 years (see schema); HistoryWriter feeds it, HistoryReader reads it."""

from opsconsole.core.history.query import HistoryReader, Series, iso, pick_level
from opsconsole.core.history.schema import DB_NAME, LEVELS, SITE_KEY, group_key
from opsconsole.core.history.writer import HistoryWriter, retention_pass

__all__ = ["DB_NAME", "LEVELS", "SITE_KEY", "HistoryReader", "HistoryWriter", "Series",
           "group_key", "iso", "pick_level", "retention_pass"]
