"""What every subcommand shares: the exit codes (a contract, see README.md
"Command line") and loading the site file. Subcommands import this, never
cli/main.py, which imports them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from opsconsole.core.site import Site

# 3 (a duty switch ran but did not fully succeed) comes from core/duty/model.py EXIT_CODES
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 4


def load_site_or_exit(path: Path | None) -> Site:
    """Load and validate a site file; on problems print one line each to
    stderr and raise SystemExit(2)."""
    from opsconsole.core.errors import ConfigError, summarize
    from opsconsole.core.siteload import load_site

    if path is None:
        print("opsconsole: --config FILE is required", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    try:
        return load_site(path)
    except ConfigError as exc:
        for line in summarize(exc.errors):
            print(line, file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


_WARNED: set[str] = set()


def data_dir_for(args: argparse.Namespace, site: Site) -> Path:
    """The site's data dir (core.datadir); a second folder holding this
    site's journal is named on stderr, once per process."""
    from opsconsole.core.datadir import resolve_data_dir
    from opsconsole.core.storage import DATA_DIR, StorageError

    choice = resolve_data_dir(site, getattr(args, "data_dir", None))
    warning = choice.warning
    if warning and warning not in _WARNED:
        _WARNED.add(warning)
        print(f"opsconsole: warning: {warning}", file=sys.stderr)
    if choice.path.exists() and not choice.path.is_dir():
        raise StorageError(choice.path, DATA_DIR, "is a file, not a folder")
    LAST_DATA_DIR[:] = [choice.path]
    return choice.path


LAST_DATA_DIR: list[Path] = []  # for main's one line on a database error


def print_history(doc: dict[str, Any], csv_text: str, fmt: str) -> None:
    """`history` output, the same locally and through a service."""
    if fmt == "json":
        print(json.dumps(doc, indent=1))
    else:
        sys.stdout.write(csv_text)
