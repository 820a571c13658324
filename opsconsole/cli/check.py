"""`opsconsole check-config FILE`."""

from __future__ import annotations

import argparse

from opsconsole.cli.common import EXIT_OK, load_site_or_exit


def run(args: argparse.Namespace) -> int:
    site = load_site_or_exit(args.file)
    n = len(site.devices())
    print(f"{args.file}: ok: site \"{site.name}\", {len(site.groups)} groups, {n} devices, "
          f"{len(site.profiles)} profiles")
    return EXIT_OK
