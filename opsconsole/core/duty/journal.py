"""The duty journal and audit log: one SQLite file (WAL) in the site's data dir.

Every switch, run or refused, is a row of `switches` (that is the audit);
its steps and per-device results are written, and committed, as they happen,
so a process killed mid-switch leaves a `running` row behind. A later start
sees that its owner is gone and marks it `interrupted` (`recover`).

`group_state` holds each group's duty once it has been switched: the site
file's `duty` is only the value before the first switch.

Cross-process safety: admission (`begin`) runs in one IMMEDIATE transaction,
so two processes (the GUI and a `duty set`) cannot both start a switch of the
same group. Nothing secret is ever written: plans arrive through
`Plan.public()` (env values and URL secrets stripped).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import sqlite3
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsconsole.core.duty.model import (
    DEGRADED,
    INTERRUPTED,
    OK,
    REFUSED,
    STEP_NOT_RUN,
    SWITCHING,
    DeviceResult,
    GroupState,
    Plan,
    StepResult,
)
from opsconsole.core.site import Site
from opsconsole.core.sqlite_wal import open_wal, transaction
from opsconsole.core.storage import SWITCHING as SWITCHING_AREA
from opsconsole.core.storage import storage_error

DB_NAME = "duty.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS switches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL, parent_id INTEGER, group_id TEXT NOT NULL,
  from_duty TEXT NOT NULL, to_duty TEXT NOT NULL,
  status TEXT NOT NULL,            -- running | done | degraded | refused | interrupted
  started_at TEXT NOT NULL, ended_at TEXT,
  user TEXT, host TEXT, pid INTEGER,
  message TEXT, plan_json TEXT,
  last_step INTEGER NOT NULL DEFAULT -1, steps_total INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS switches_group ON switches(group_id, status);
CREATE TABLE IF NOT EXISTS steps (
  switch_id INTEGER NOT NULL, pos INTEGER NOT NULL, idx INTEGER NOT NULL,
  action TEXT NOT NULL, status TEXT NOT NULL,
  started_at TEXT, ended_at TEXT, message TEXT, output TEXT,
  PRIMARY KEY (switch_id, pos));
CREATE TABLE IF NOT EXISTS device_results (
  switch_id INTEGER NOT NULL, pos INTEGER NOT NULL, device_id TEXT NOT NULL,
  ok INTEGER NOT NULL, message TEXT, at TEXT NOT NULL,
  PRIMARY KEY (switch_id, pos, device_id));
CREATE TABLE IF NOT EXISTS group_state (
  group_id TEXT PRIMARY KEY, duty TEXT NOT NULL, status TEXT NOT NULL,
  switch_id INTEGER, updated_at TEXT NOT NULL);
"""

ORIGIN = "origin_host"  # the machine whose process runs a switch (added column)

# switches running in THIS process (another process is judged by its pid)
_LIVE_HERE: set[tuple[str, int]] = set()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers, services)
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        k32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        h = k32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not h:
            return False
        code = ctypes.c_ulong()
        try:
            k32.GetExitCodeProcess(h, ctypes.byref(code))
        finally:
            k32.CloseHandle(h)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie (killed, not yet reaped) is dead
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def switch_alive(row: sqlite3.Row, path: Path, host: str) -> bool:
    """Whether the process running a `running` switch row still lives. Its
    machine is `origin_host` (the site service records the client's address
    in `host`, for the audit); rows from before that column name it in `host`."""
    keys = row.keys()  # a sqlite3.Row: `in row` would test its values
    origin = row[ORIGIN] if ORIGIN in keys else None
    if (origin or row["host"]) != host:
        return True  # another machine's switch (a shared data dir): cannot tell
    if row["pid"] == os.getpid():
        return (str(path), row["id"]) in _LIVE_HERE
    return pid_alive(int(row["pid"] or 0))


def read_group_states(site: Site, data_dir: Path) -> dict[str, GroupState]:
    """Each group's duty and status as the journal in `data_dir` knows it,
    read only: nothing is created or written. A group never switched has the
    site file's `duty`; a switch whose process is gone reads as interrupted.
    Raises StorageError for a journal that cannot be read."""
    path = Path(data_dir) / DB_NAME
    states = {g.id: GroupState(g.id, g.duty, OK) for g in site.groups}
    if not path.exists():
        return states
    # A WAL database in a read-only folder opens only as immutable (no -shm can be made)
    flags = "mode=ro" + ("" if os.access(path.parent, os.W_OK) else "&immutable=1")
    try:
        db = sqlite3.connect(f"file:{path}?{flags}", uri=True, timeout=10.0,
                             isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise storage_error(exc, path, SWITCHING_AREA) from None
    db.row_factory = sqlite3.Row
    host = socket.gethostname()
    try:
        cols = {r["name"] for r in db.execute("PRAGMA table_info(switches)")}
        origin = ", s.origin_host" if ORIGIN in cols else ""  # read only: no migration here
        rows = db.execute("SELECT g.group_id, g.duty, g.status, g.updated_at, s.id, "
                          "s.from_duty, s.to_duty, s.last_step, s.steps_total, s.host, s.pid, "
                          f"s.status AS sw_status{origin} FROM group_state g "
                          "LEFT JOIN switches s ON s.id = g.switch_id").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # an empty file (just created elsewhere): no switch yet
            return states
        raise storage_error(exc, path, SWITCHING_AREA) from None
    except sqlite3.Error as exc:
        raise storage_error(exc, path, SWITCHING_AREA) from None
    finally:
        db.close()
    for r in rows:
        if r["group_id"] not in states:
            continue  # a group that left the site file
        status = r["status"]
        if (status == SWITCHING and r["id"] is not None and r["sw_status"] == "running"
                and not switch_alive(r, path, host)):
            status = INTERRUPTED
        if r["id"] is None:
            states[r["group_id"]] = GroupState(r["group_id"], r["duty"], status,
                                               updated_at=r["updated_at"])
        else:
            states[r["group_id"]] = GroupState(
                r["group_id"], r["duty"], status, r["id"], r["from_duty"], r["to_duty"],
                r["last_step"], r["steps_total"], r["updated_at"])
    return states


def group_duty(site: Site, data_dir: Path, group_id: str) -> GroupState:
    """One group's state from the journal (see read_group_states)."""
    states = read_group_states(site, data_dir)
    if group_id not in states:
        raise KeyError(group_id)
    return states[group_id]


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.host = socket.gethostname()
        self.user = os_user()
        self._lock = threading.RLock()  # one connection, used from the loop and readers
        # WAL + synchronous=NORMAL survives a killed process (not a power cut):
        # the crash we must handle is kill -9, and commits stay cheap.
        self._db = open_wal(self.path, rows=True, area=SWITCHING_AREA, schema=SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Journals from before `origin_host` get the column (NULL: `host` is the machine)."""
        with self._lock:
            cols = {r["name"] for r in self._db.execute("PRAGMA table_info(switches)")}
            if ORIGIN not in cols:
                try:
                    self._db.execute(f"ALTER TABLE switches ADD COLUMN {ORIGIN} TEXT")
                except sqlite3.OperationalError as exc:  # another process added it meanwhile
                    if "duplicate column" not in str(exc):
                        raise storage_error(exc, self.path, SWITCHING_AREA) from None

    @classmethod
    def in_dir(cls, data_dir: Path) -> Journal:
        return cls(Path(data_dir) / DB_NAME)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self, immediate: bool = False
            ) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db, self._lock, immediate=immediate)

    # -- liveness -------------------------------------------------------------

    def _alive(self, row: sqlite3.Row) -> bool:
        return switch_alive(row, self.path, self.host)

    def _recover(self, db: sqlite3.Connection) -> list[int]:
        gone = [r for r in db.execute("SELECT * FROM switches WHERE status='running'")
                if not self._alive(r)]
        now = utc_now()
        for r in gone:
            db.execute("UPDATE switches SET status=?, ended_at=?, message=? WHERE id=?",
                       (INTERRUPTED, now, "interrupted: the process running it ended", r["id"]))
            db.execute("UPDATE group_state SET status=?, updated_at=? WHERE group_id=? "
                       "AND switch_id=?", (INTERRUPTED, now, r["group_id"], r["id"]))
        return [r["id"] for r in gone]

    def recover(self) -> list[int]:
        """Mark switches whose process died as interrupted; their ids."""
        with self._tx(immediate=True) as db:
            return self._recover(db)

    # -- writing a switch -----------------------------------------------------

    def begin(self, plan: Plan, default_duty: str) -> int | str:
        """Admit and record a switch: its id, or why it is refused (another
        switch of the group runs, here or in another process)."""
        with self._tx(immediate=True) as db:
            self._recover(db)
            busy = db.execute("SELECT * FROM switches WHERE status='running' AND group_id=?",
                              (plan.group,)).fetchone()
            if busy is not None:
                return (f"group {plan.group}: a switch to {busy['to_duty']} is in progress "
                        f"(started {busy['started_at']} by {busy['user']}@{busy['host']}, "
                        f"pid {busy['pid']})")
            sid = self._insert(db, plan, "running", None)
            db.execute(
                "INSERT INTO group_state(group_id, duty, status, switch_id, updated_at) "
                "VALUES(?,?,?,?,?) ON CONFLICT(group_id) DO UPDATE SET duty=excluded.duty, "
                "status=excluded.status, switch_id=excluded.switch_id, "
                "updated_at=excluded.updated_at",
                (plan.group, plan.to_duty, SWITCHING, sid, utc_now()))
        _LIVE_HERE.add((str(self.path), sid))
        return sid

    def refuse(self, plan: Plan, reason: str) -> int:
        with self._tx() as db:
            return self._insert(db, plan, REFUSED, reason, ended=True)

    def note(self, plan: Plan, status: str, message: str) -> int:
        """An audit row that runs nothing (two-person rule: `requested`,
        `rejected`): who asked, what, and why it did not run now."""
        with self._tx() as db:
            return self._insert(db, plan, status, message, ended=True)

    def _insert(self, db: sqlite3.Connection, plan: Plan, status: str, message: str | None,
                ended: bool = False) -> int:
        now = utc_now()
        cur = db.execute(
            "INSERT INTO switches(kind, parent_id, group_id, from_duty, to_duty, status, "
            "started_at, ended_at, user, host, pid, message, plan_json, steps_total, "
            f"{ORIGIN}) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (plan.kind, plan.parent_id, plan.group, plan.from_duty, plan.to_duty, status, now,
             now if ended else None, plan.user or self.user, plan.host or self.host,
             os.getpid(), message,
             json.dumps(plan.public()), len(plan.steps), self.host))
        return int(cur.lastrowid or 0)

    def step_start(self, sid: int, pos: int, index: int, action: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO steps(switch_id, pos, idx, action, status, "
                       "started_at) VALUES(?,?,?,?,?,?)",
                       (sid, pos, index, action, "running", utc_now()))

    def device_result(self, sid: int, pos: int, r: DeviceResult) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO device_results VALUES(?,?,?,?,?,?)",
                       (sid, pos, r.device, int(r.ok), r.message, utc_now()))

    def step_end(self, sid: int, st: StepResult) -> None:
        with self._tx() as db:
            if st.status == STEP_NOT_RUN:
                db.execute("INSERT OR REPLACE INTO steps(switch_id, pos, idx, action, status, "
                           "message) VALUES(?,?,?,?,?,?)",
                           (sid, st.pos, st.index, st.action, st.status, st.message))
                return
            db.execute("UPDATE steps SET status=?, ended_at=?, message=?, output=? "
                       "WHERE switch_id=? AND pos=?",
                       (st.status, utc_now(), st.message, st.output, sid, st.pos))
            db.execute("UPDATE switches SET last_step=? WHERE id=?", (st.pos, sid))

    def finish(self, sid: int, outcome: str, message: str) -> None:
        with self._tx() as db:
            row = db.execute("SELECT group_id FROM switches WHERE id=?", (sid,)).fetchone()
            now = utc_now()
            db.execute("UPDATE switches SET status=?, ended_at=?, message=? WHERE id=?",
                       (outcome, now, message, sid))
            db.execute("UPDATE group_state SET status=?, updated_at=? WHERE group_id=? "
                       "AND switch_id=?",
                       (OK if outcome != DEGRADED else DEGRADED, now, row["group_id"], sid))
        _LIVE_HERE.discard((str(self.path), sid))

    def abandon(self, sid: int) -> None:
        """This process stops running `sid` without finishing it (shutdown):
        the next recover() marks it interrupted."""
        _LIVE_HERE.discard((str(self.path), sid))

    # -- reading --------------------------------------------------------------

    def group_state(self, group: str, default_duty: str) -> GroupState:
        with self._lock:
            g = self._db.execute("SELECT * FROM group_state WHERE group_id=?",
                                 (group,)).fetchone()
            if g is None:
                return GroupState(group, default_duty, OK)
            s = self._db.execute("SELECT * FROM switches WHERE id=?",
                                 (g["switch_id"],)).fetchone()
        if s is None:
            return GroupState(group, g["duty"], g["status"], updated_at=g["updated_at"])
        return GroupState(group, g["duty"], g["status"], s["id"], s["from_duty"], s["to_duty"],
                          s["last_step"], s["steps_total"], g["updated_at"])

    def switch(self, sid: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM switches WHERE id=?", (sid,)).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["plan"] = json.loads(d.pop("plan_json") or "{}")
        return d

    def running(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM switches WHERE status='running'").fetchall()
        return [dict(r) | {"plan": json.loads(r["plan_json"] or "{}")} for r in rows]

    def step_results(self, sid: int) -> list[StepResult]:
        with self._lock:
            steps = self._db.execute("SELECT * FROM steps WHERE switch_id=? ORDER BY pos",
                                     (sid,)).fetchall()
            devs = self._db.execute("SELECT * FROM device_results WHERE switch_id=? "
                                    "ORDER BY pos, device_id", (sid,)).fetchall()
        out = {s["pos"]: StepResult(s["pos"], s["idx"], s["action"], s["status"],
                                    s["message"] or "", s["output"] or "") for s in steps}
        for d in devs:
            st = out.get(d["pos"])
            if st is not None:
                st.devices.append(DeviceResult(d["device_id"], bool(d["ok"]), d["message"] or ""))
        return [out[k] for k in sorted(out)]

    def audit(self, group: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Every switch, newest last, with its steps and device results."""
        q = "SELECT * FROM switches" + (" WHERE group_id=?" if group else "") + " ORDER BY id"
        args: tuple[Any, ...] = (group,) if group else ()
        with self._lock:
            rows = self._db.execute(q, args).fetchall()
        if limit is not None:
            rows = rows[-limit:]
        out = []
        for r in rows:
            steps = self.step_results(r["id"])
            out.append({
                "id": r["id"], "time": r["started_at"], "ended": r["ended_at"],
                "user": r["user"], "host": r["host"], "group": r["group_id"],
                "kind": r["kind"], "from": r["from_duty"], "to": r["to_duty"],
                "outcome": r["status"], "message": r["message"], "parent": r["parent_id"],
                "plan": json.loads(r["plan_json"] or "{}"),
                "steps": [{"pos": s.pos, "index": s.index, "action": s.action,
                           "status": s.status, "message": s.message, "output": s.output,
                           "devices": [{"device": d.device, "ok": d.ok, "message": d.message}
                                       for d in s.devices]} for s in steps],
            })
        return out
