"""What every subcommand shares: the exit codes (a contract, see README.md
"Command line") and loading the site file. Subcommands import this, never
cli/main.py, which imports them."""

from __future__ import annotations

import sys
from pathlib import Path

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
