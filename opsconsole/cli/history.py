"""`opsconsole history --config FILE DEVICE_OR_GROUP METRIC --since 24h
[--until TIME] [--format csv|json]`: a metric's history from the site's data
dir, at the resolution that suits the range (raw, 1-minute or 1-hour
min/mean/max). DEVICE_OR_GROUP is a device id, a group id, or `site`."""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import time
from datetime import datetime
from typing import Any

from opsconsole.cli.common import EXIT_OK, EXIT_USAGE, load_site_or_exit
from opsconsole.core.metrics import CATALOGUE
from opsconsole.core.site import Site
from opsconsole.core.store import AGGREGATES

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
SITE_WORD = "site"


def add_parser(sub: Any, common: Any) -> None:
    sp = sub.add_parser("history", help="a metric's history (csv or json)")
    common(sp, suppress=True)
    sp.add_argument("target", metavar="DEVICE_OR_GROUP", help="device id, group id or 'site'")
    sp.add_argument("metric", metavar="METRIC", help="a numeric catalogue metric")
    sp.add_argument("--since", default="24h", metavar="WHEN",
                    help="90m, 24h, 7d, 30d ... ago, or an ISO time (default 24h)")
    sp.add_argument("--until", default=None, metavar="WHEN",
                    help="same forms as --since (default: now)")
    sp.add_argument("--format", choices=("csv", "json"), default="csv")


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


def run(args: argparse.Namespace) -> int:
    from opsconsole.cli.duty import data_dir_for
    from opsconsole.core.history import DB_NAME, HistoryReader, Series, iso

    site = load_site_or_exit(args.config)
    now = time.time()
    try:
        key = resolve(site, args.target, args.metric)
        since = parse_when(args.since, now)
        until = parse_when(args.until, now) if args.until else now
    except ValueError as exc:
        print(f"opsconsole: history: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if until < since:
        print("opsconsole: history: --until is before --since", file=sys.stderr)
        return EXIT_USAGE
    path = data_dir_for(args, site) / DB_NAME
    if path.exists():  # reading must not create a database
        reader = HistoryReader(path)
        try:
            s = reader.series(key, args.metric, since, until)
        finally:
            reader.close()
    else:
        from opsconsole.core.history.query import pick_level

        s = Series(key, args.metric, pick_level(until - since).name)
    if args.format == "json":
        doc = {"site": site.name, "target": args.target, "key": key, "metric": args.metric,
               "unit": CATALOGUE[args.metric].unit if args.metric in CATALOGUE else "",
               "since": iso(since), "until": iso(until), "resolution": s.resolution,
               "points": [{k: v for k, v in r.items() if k != "ts"} for r in s.rows()]}
        print(json.dumps(doc, indent=1))
    else:
        sys.stdout.write(s.to_csv())
    return EXIT_OK
