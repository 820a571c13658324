"""Two-person rule: switches kept for a second user's approval.

`[site] approval_kw = N`: a `duty set` whose planned power change exceeds N kW
(or cannot be known) does not run; it becomes a pending request here, in
`approvals.sqlite` beside the journal, so it survives a restart. Another
user approves it (then it runs, as that user) or rejects it; a request
expires after `[site] approval_ttl_s` (default 900 s). Nobody approves their
own request. Status moves pending -> approved | rejected | expired exactly
once (a conditional UPDATE), so two approvers cannot both run it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsconsole.core.duty.model import Plan
from opsconsole.core.site import Site
from opsconsole.core.sqlite_wal import open_wal, transaction
from opsconsole.core.storage import SWITCHING

DB_NAME = "approvals.sqlite"
PENDING, APPROVED, REJECTED, EXPIRED = "pending", "approved", "rejected", "expired"
SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  group_id TEXT NOT NULL, from_duty TEXT NOT NULL, to_duty TEXT NOT NULL,
  power_now_kw REAL, power_after_kw REAL,
  user TEXT NOT NULL, host TEXT NOT NULL,
  created_at REAL NOT NULL, expires_at REAL NOT NULL,
  status TEXT NOT NULL,            -- pending | approved | rejected | expired
  decided_by TEXT, decided_host TEXT, decided_at REAL, comment TEXT,
  audit_id INTEGER, switch_id INTEGER);
CREATE INDEX IF NOT EXISTS requests_status ON requests(status);
"""


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def approval_reason(site: Site, plan: Plan) -> str | None:
    """Why `plan` needs a second user's approval, or None. Only new switches
    (`duty set`) are gated; retry, resume and rollback recover a switch that
    was approved or small."""
    limit = site.approval_kw
    if limit is None or plan.kind != "switch" or plan.refusals:
        return None
    change = plan.power_change_kw
    if change is None:
        return (f"power change of {plan.group} unknown (approval needed above "
                f"{limit:g} kW)")
    if change > limit:
        return f"power change {change:.1f} kW exceeds approval_kw {limit:g} kW"
    return None


class Approvals:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = open_wal(self.path, rows=True, area=SWITCHING, schema=SCHEMA)

    @classmethod
    def in_dir(cls, data_dir: Path) -> Approvals:
        return cls(Path(data_dir) / DB_NAME)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db, self._lock, immediate=True)

    def create(self, plan: Plan, user: str, host: str, ttl_s: float,
               now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO requests(group_id, from_duty, to_duty, power_now_kw, "
                "power_after_kw, user, host, created_at, expires_at, status) "
                "VALUES(?,?,?,?,?,?,?,?,?,?)",
                (plan.group, plan.from_duty, plan.to_duty, plan.power_now_kw,
                 plan.power_after_kw, user, host, now, now + ttl_s, PENDING))
            rid = int(cur.lastrowid or 0)
        got = self.get(rid)
        assert got is not None
        return got

    def set_audit(self, rid: int, audit_id: int | None = None,
                  switch_id: int | None = None) -> None:
        with self._tx() as db:
            if audit_id is not None:
                db.execute("UPDATE requests SET audit_id=? WHERE id=?", (audit_id, rid))
            if switch_id is not None:
                db.execute("UPDATE requests SET switch_id=? WHERE id=?", (switch_id, rid))

    def expire(self, now: float | None = None) -> list[int]:
        """Mark pending requests past their time expired; their ids."""
        now = time.time() if now is None else now
        with self._tx() as db:
            ids = [r["id"] for r in db.execute(
                "SELECT id FROM requests WHERE status=? AND expires_at <= ?", (PENDING, now))]
            db.execute("UPDATE requests SET status=?, decided_at=expires_at "
                       "WHERE status=? AND expires_at <= ?", (EXPIRED, PENDING, now))
        return ids

    def decide(self, rid: int, status: str, user: str, host: str, comment: str = "",
               now: float | None = None) -> bool:
        """pending -> `status`, once: False when it was no longer pending."""
        now = time.time() if now is None else now
        with self._tx() as db:
            cur = db.execute(
                "UPDATE requests SET status=?, decided_by=?, decided_host=?, decided_at=?, "
                "comment=? WHERE id=? AND status=? AND expires_at > ?",
                (status, user, host, now, comment, rid, PENDING, now))
            return cur.rowcount == 1

    def get(self, rid: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM requests WHERE id=?", (rid,)).fetchone()
        return self._public(row) if row is not None else None

    def pending(self, now: float | None = None) -> list[dict[str, Any]]:
        self.expire(now)
        with self._lock:
            rows = self._db.execute("SELECT * FROM requests WHERE status=? ORDER BY id",
                                    (PENDING,)).fetchall()
        return [self._public(r) for r in rows]

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        self.expire()
        with self._lock:
            rows = self._db.execute("SELECT * FROM requests ORDER BY id DESC LIMIT ?",
                                    (limit,)).fetchall()
        return [self._public(r) for r in rows]

    @staticmethod
    def _public(r: sqlite3.Row) -> dict[str, Any]:
        return {"id": r["id"], "group": r["group_id"], "from": r["from_duty"],
                "to": r["to_duty"], "power_now_kw": r["power_now_kw"],
                "power_after_kw": r["power_after_kw"], "user": r["user"], "host": r["host"],
                "created_at": iso(r["created_at"]), "expires_at": iso(r["expires_at"]),
                "status": r["status"], "decided_by": r["decided_by"],
                "decided_host": r["decided_host"], "decided_at": iso(r["decided_at"]),
                "comment": r["comment"] or "", "audit_id": r["audit_id"],
                "switch_id": r["switch_id"]}
