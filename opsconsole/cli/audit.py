"""`opsconsole audit --config FILE [--format table|json]`: every duty switch,
run or refused, from the site's journal (time UTC, OS user, host, group,
from, to, outcome, each step and device result)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from opsconsole.cli.argtypes import int_range
from opsconsole.cli.common import EXIT_OK, EXIT_USAGE, load_site_or_exit


def add_parser(sub: Any, common: Any) -> None:
    sp = sub.add_parser("audit", help="the duty switching audit log")
    common(sp, suppress=True)
    sp.add_argument("--format", choices=("table", "json"), default="table")
    sp.add_argument("--group", metavar="GROUP", help="only this group")
    sp.add_argument("--limit", type=int_range(1, 10**9), metavar="N",
                    help="only the last N records")
    sp.add_argument("--devices", action="store_true",
                    help="table: list every device result, not only failures")


def run(args: argparse.Namespace) -> int:
    from opsconsole.cli.common import data_dir_for
    from opsconsole.core.duty import DB_NAME, Journal

    if getattr(args, "connect", None):
        from opsconsole.cli import remote

        doc = remote.audit(args)
        return print_audit(doc["site"], doc["records"], args)
    site = load_site_or_exit(args.config)
    path = data_dir_for(args, site) / DB_NAME
    records: list[dict[str, Any]] = []
    if path.exists():  # reading must not create a journal
        journal = Journal(path)
        try:
            records = journal.audit(args.group, args.limit)
        finally:
            journal.close()
    if args.group and site.group(args.group) is None and not records:
        known = ", ".join(g.id for g in site.groups)
        print(f'opsconsole audit: unknown group "{args.group}" (groups: {known})',
              file=sys.stderr)
        return EXIT_USAGE
    return print_audit(site.name, records, args)


def print_audit(site_name: str, records: list[dict[str, Any]],
                args: argparse.Namespace) -> int:
    if args.format == "json":
        print(json.dumps({"site": site_name, "records": records}, indent=2))
        return EXIT_OK
    if not records:
        print("no duty switches recorded")
    for r in records:
        print(f"#{r['id']} {r['time']} {r['user']}@{r['host']} {r['group']} {r['kind']} "
              f"{r['from']} -> {r['to']}: {r['outcome']}"
              + (f" ({r['message']})" if r["message"] else ""))
        for s in r["steps"]:
            print(f"    {s['pos'] + 1}. {s['action']}: {s['status']}"
                  + (f" ({s['message']})" if s["message"] else ""))
            for d in s["devices"]:
                if args.devices or not d["ok"]:
                    print(f"         {d['device']}: {'ok' if d['ok'] else 'FAILED'} "
                          f"{d['message']}")
            if s["output"]:
                for line in s["output"].splitlines()[-5:]:
                    print(f"         | {line}")
        approval = (r.get("plan") or {}).get("approval")
        if approval:
            print("    two-person rule: " + ", ".join(f"{k.replace('_', ' ')} {v}"
                                                      for k, v in approval.items()))
    return EXIT_OK
