"""`opsconsole serve --config FILE [--data-dir DIR] [--listen HOST:PORT]
[--tls-cert PEM --tls-key PEM] [--insecure-http]`: the site service."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from opsconsole.cli.common import load_site_or_exit


def add_parser(sub: Any, common: Any) -> None:
    from opsconsole.service import DEFAULT_LISTEN

    sp = sub.add_parser("serve", help="run the site service (poller, history, alarms, duty, API)")
    common(sp, suppress=True)
    sp.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                    help=f"address to serve the API on (default {DEFAULT_LISTEN})")
    sp.add_argument("--tls-cert", type=Path, metavar="PEM", help="TLS certificate (chain)")
    sp.add_argument("--tls-key", type=Path, metavar="PEM", help="TLS private key")
    sp.add_argument("--insecure-http", action="store_true",
                    help="allow plain HTTP on a non-loopback address (logs a warning)")
    sp.add_argument("--demo", action="store_true",
                    help="serve the built-in simulated site (its agents run in this process)")
    sp.add_argument("--session-token-stdin", action="store_true",
                    help="embedded in a GUI: a one-time token on stdin's first line; the end "
                         "of stdin stops the service (docs/api.md)")


def run(args: argparse.Namespace) -> int:
    from opsconsole.cli.common import data_dir_for
    from opsconsole.service.server import run as serve
    from opsconsole.sim import simulated_nvml

    token = None
    if args.session_token_stdin:
        from opsconsole.service.embedded import EmbeddedError, read_session_token

        try:
            token = read_session_token()
        except EmbeddedError as exc:
            print(f"opsconsole serve: {exc}", file=sys.stderr)
            return 2
    if args.demo:
        from opsconsole.sim.demo import make_demo_site

        if args.data_dir is None:
            print("opsconsole serve: --demo needs --data-dir (the demo starts fresh each time)",
                  file=sys.stderr)
            return 2
        return serve(None, args.data_dir, args.listen, args.tls_cert, args.tls_key,
                     args.insecure_http, read_only=bool(args.read_only), session_token=token,
                     demo=make_demo_site(), simulated_nvml=simulated_nvml)
    site = load_site_or_exit(args.config)
    return serve(site, data_dir_for(args, site), args.listen, args.tls_cert, args.tls_key,
                 args.insecure_http, read_only=bool(args.read_only), session_token=token,
                 simulated_nvml=simulated_nvml)
