"""Audit records as the GUI shows and exports them: one summary row per
switch (pure Python; the journal's records come from DutyController.audit())."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

CSV_COLUMNS = ("id", "time", "ended", "user", "host", "group", "kind", "from", "to", "outcome",
               "steps", "devices_ok", "devices_failed", "failed", "message")


def tidy(message: str | None) -> str:
    """A controller message for display: no dangling separator ("...; ")."""
    return (message or "").strip().rstrip(";").strip()


def local_time(iso: str | None) -> str:
    """The journal's UTC ISO time, shown in local time to the second."""
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime(
            "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def device_counts(rec: dict[str, Any]) -> tuple[int, int, list[str]]:
    """(devices ok, devices failed, failed ids) over a record's steps: a device
    counts as failed if it failed in any step."""
    ok: set[str] = set()
    failed: dict[str, None] = {}
    for st in rec.get("steps", []):
        for d in st.get("devices", []):
            if d["ok"]:
                ok.add(d["device"])
            else:
                failed.setdefault(d["device"], None)
    return len(ok - failed.keys()), len(failed), list(failed)


def step_summary(rec: dict[str, Any]) -> str:
    """'2/3 steps ok · 12/12 devices ok', or the refusal."""
    steps = rec.get("steps", [])
    total = len(rec.get("plan", {}).get("steps", [])) or len(steps)
    if rec.get("outcome") == "refused":
        return f"{total} step(s) planned, none run"
    good = sum(s["status"] == "ok" for s in steps)
    ok, bad, _ = device_counts(rec)
    devices = f"{ok}/{ok + bad} devices ok" if ok + bad else "no devices"
    return f"{good}/{total} steps ok · {devices}"


def summary_row(rec: dict[str, Any]) -> dict[str, Any]:
    ok, bad, failed = device_counts(rec)
    return {"id": rec["id"], "time": rec.get("time"), "ended": rec.get("ended"),
            "user": rec.get("user"), "host": rec.get("host"), "group": rec.get("group"),
            "kind": rec.get("kind"), "from": rec.get("from"), "to": rec.get("to"),
            "outcome": rec.get("outcome"), "steps": step_summary(rec), "devices_ok": ok,
            "devices_failed": bad, "failed": " ".join(failed), "message": tidy(rec.get("message"))}


def export_csv(records: list[dict[str, Any]], path: Path) -> int:
    """One row per switch (step and device detail are in the JSON export)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for rec in records:
            w.writerow(summary_row(rec))
    return len(records)


def export_json(records: list[dict[str, Any]], path: Path) -> int:
    """The full records: plan, steps, device results (never a secret: the
    journal keeps none)."""
    Path(path).write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n",
                          encoding="utf-8")
    return len(records)
