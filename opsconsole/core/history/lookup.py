"""A metric's history as `opsconsole history` prints it: the target and
time words it takes, and the JSON document / CSV text it prints. Shared by
the local command and the site service's /api/v1/history, so both print the
same thing."""

from __future__ import annotations

import difflib
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from opsconsole.core.metrics import CATALOGUE
from opsconsole.core.site import Site
from opsconsole.core.store import AGGREGATES

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
SITE_WORD = "site"


def parse_when(text: str, now: float) -> float:
    """`90m` / `24h` / `7d` ago, or an ISO 8601 time (no zone: local time)."""
    m = _DURATION.match(text)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"cannot read time {text!r}: use 90m, 24h, 7d, 30d or an ISO time "
                         "like 2026-11-26T03:12:00Z") from None
    return dt.timestamp()


def resolve(site: Site, target: str, metric: str) -> str:
    """The history key of a target, or ValueError with one clear line."""
    from opsconsole.core.history import SITE_KEY, group_key

    dev = site.device(target)
    if dev is not None:
        known = sorted(m.name for m in CATALOGUE.values()
                       if m.numeric and dev.kind in m.kinds)
        key = dev.id
        what = f"device {dev.id} ({dev.kind})"
    elif target == SITE_WORD or site.group(target) is not None:
        known = sorted(AGGREGATES)
        key = SITE_KEY if target == SITE_WORD else group_key(target)
        what = "the site" if target == SITE_WORD else f"group {target}"
    else:
        names = [d.id for d in site.devices()] + [g.id for g in site.groups] + [SITE_WORD]
        hint = difflib.get_close_matches(target, names, n=1)
        raise ValueError(f'unknown device or group "{target}"'
                         + (f' (did you mean "{hint[0]}"?)' if hint else ""))
    if metric not in known:
        hint = difflib.get_close_matches(metric, known, n=1)
        raise ValueError(f'unknown metric "{metric}" for {what}'
                         + (f' (did you mean "{hint[0]}"?)' if hint else "")
                         + f"; known: {', '.join(known)}")
    return key


def history_output(site: Site, data_dir: Path, target: str, metric: str, since_text: str,
                   until_text: str | None, now: float) -> tuple[dict[str, Any], str]:
    """(the JSON document, the CSV text) of `history`; ValueError with one line
    for an unknown target or metric, a time it cannot read, or until < since."""
    from opsconsole.core.history import DB_NAME, HistoryReader, Series, iso
    from opsconsole.core.history.query import pick_level

    key = resolve(site, target, metric)
    since = parse_when(since_text, now)
    until = parse_when(until_text, now) if until_text else now
    if until < since:
        raise ValueError("--until is before --since")
    path = Path(data_dir) / DB_NAME
    if path.exists():  # reading must not create a database
        reader = HistoryReader(path)
        try:
            s = reader.series(key, metric, since, until)
        finally:
            reader.close()
    else:
        s = Series(key, metric, pick_level(until - since).name)
    doc = {"site": site.name, "target": target, "key": key, "metric": metric,
           "unit": CATALOGUE[metric].unit if metric in CATALOGUE else "",
           "since": iso(since), "until": iso(until), "resolution": s.resolution,
           "points": [{k: v for k, v in r.items() if k != "ts"} for r in s.rows()]}
    return doc, s.to_csv()


def target_of(key: str) -> str:
    """The `history` target word of a history key (the inverse of resolve)."""
    from opsconsole.core.history import SITE_KEY

    if key == SITE_KEY:
        return SITE_WORD
    return key[1:] if key.startswith("@") else key


def series_from_doc(doc: dict[str, Any]) -> Any:
    """A Series back from history_output's JSON document (what a client of
    /api/v1/history gets), so a connected window draws what a local one does."""
    import numpy as np

    from opsconsole.core.history import Series

    points = doc.get("points") or []

    def column(name: str) -> Any:
        return np.array([float("nan") if p.get(name) is None else float(p[name])
                         for p in points], dtype=float)

    ts = np.array([parse_when(str(p["time"]), 0.0) for p in points], dtype=float)
    return Series(str(doc.get("key", "")), str(doc.get("metric", "")),
                  str(doc.get("resolution", "raw")), ts, column("mean"), column("min"),
                  column("max"), [str(p.get("resolution", "raw")) for p in points])

