"""`opsconsole history --config FILE DEVICE_OR_GROUP METRIC --since 24h
[--until TIME] [--format csv|json]`: a metric's history from the site's data
dir, at the resolution that suits the range (raw, 1-minute or 1-hour
min/mean/max). DEVICE_OR_GROUP is a device id, a group id, or `site`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from opsconsole.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    data_dir_for,
    load_site_or_exit,
    print_history,
)


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


def run(args: argparse.Namespace) -> int:
    from opsconsole.core.history.lookup import history_output

    if getattr(args, "connect", None):
        from opsconsole.cli import remote

        return remote.history(args)
    site = load_site_or_exit(args.config)
    try:
        doc, csv_text = history_output(site, data_dir_for(args, site), args.target,
                                       args.metric, args.since, args.until, time.time())
    except ValueError as exc:
        print(f"opsconsole: history: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print_history(doc, csv_text, args.format)
    return EXIT_OK
