"""The `opsconsole` command: the GUI by default, headless subcommands beside it.

Exit codes (contract): 0 done, 1 unexpected failure, 2 bad usage or invalid
site file, 3 duty switch not fully done, 4 refused.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from pathlib import Path

from opsconsole import __version__
from opsconsole.cli.argtypes import PORT, float_range, int_range
from opsconsole.cli.common import EXIT_FAIL, EXIT_OK, EXIT_USAGE


def _common(p: argparse.ArgumentParser, suppress: bool) -> None:
    """Options accepted both before and after a subcommand. On subparsers the
    default is SUPPRESS so a value given before the subcommand survives."""
    d = {"default": argparse.SUPPRESS} if suppress else {}
    p.add_argument("--config", type=Path, metavar="FILE", help="site file (TOML)", **d)
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="journal, audit and history (default: per site, in the user data dir)",
                   **d)
    p.add_argument("--read-only", action="store_true", help="refuse every mutation", **d)
    p.add_argument("-v", "--verbose", action="count", help="more logging", **d)
    p.add_argument("--connect", metavar="URL",
                   help="use the site service at URL (opsconsole serve) instead of the devices",
                   **d)
    p.add_argument("--token-file", type=Path, metavar="FILE",
                   help="the API token for --connect (default: $OPSCONSOLE_TOKEN)", **d)
    p.add_argument("--ca-file", type=Path, metavar="PEM",
                   help="trust this certificate (the service's own, or its CA) for an "
                        "https:// --connect, instead of the system's CAs", **d)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="opsconsole",
        description="Console for hybrid mining / AI-inference sites.",
    )
    _common(p, suppress=False)
    p.add_argument("--version", action="version", version=f"opsconsole {__version__}")
    p.add_argument("--demo", action="store_true", help="GUI on the built-in simulated site")
    p.add_argument("--wall", action="store_true", help="read-only wall display, full screen")
    p.add_argument("--in-process", action="store_true",
                   help="console/wall: poll in this process instead of starting (or joining) "
                        "a site service child (also OPSCONSOLE_EMBEDDED=0)")
    p.add_argument("--screenshot", type=Path, metavar="PNG",
                   help="render the window to PNG and exit")
    p.add_argument("--screenshot-after", type=float_range(0, 86_400), default=None,
                   metavar="SECONDS",
                   help="wait this long before the screenshot (default: first data)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    sp = sub.add_parser("poll", help="poll the site's devices and print readings")
    _common(sp, suppress=True)
    sp.add_argument("--once", action="store_true", help="one pass over every device, then exit")
    sp.add_argument("--format", choices=("table", "json"), default="table")
    _metrics_options(sp, suppress=True)

    sp = sub.add_parser("check-config", help="validate a site file (exit 0 or 2)")
    _common(sp, suppress=True)
    sp.add_argument("file", type=Path, metavar="FILE")

    sp = sub.add_parser("simulate", help="run the simulated site on loopback")
    _common(sp, suppress=True)
    sp.add_argument("--miners", type=int_range(0, 23_000), default=200)
    sp.add_argument("--gpus", type=int_range(0, 512), default=8)
    sp.add_argument("--seed", type=int_range(0, 2**63 - 1), default=1)
    sp.add_argument("--host", default="127.0.0.1", help="loopback address to serve on")
    sp.add_argument("--fault-rate", type=float_range(0, 3600), default=None,
                    help="faults per miner-hour (default: the simulator's)")
    sp.add_argument("--write-config", type=Path, metavar="FILE",
                    help="write the matching site file here")
    sp.add_argument("--row-offset", type=int_range(0, 10_000), default=0, metavar="N",
                    help="number rows from the Nth (0 = row-a): simulators run side by side "
                         "name disjoint rows and devices, and their site files merge")
    sp.add_argument("--miner-api", choices=("cgminer",), default=None,
                    help="serve the miners over their firmware's JSON API (TCP, flavours "
                         "antminer, whatsminer, braiins, luxos, avalon, vnish) instead of SNMP")
    sp.add_argument("--exporters", action="store_true",
                    help="also serve a GPU server through a simulated dcgm-exporter and a vLLM "
                         "metrics page on loopback HTTP (the demo's GPU rack), with example prices")

    from opsconsole.cli import audit, duty, history, serve, token

    duty.add_parser(sub, _common)
    audit.add_parser(sub, _common)
    history.add_parser(sub, _common)
    serve.add_parser(sub, _common)
    token.add_parser(sub, _common)
    _metrics_options(p)  # the GUI's
    return p


def _metrics_options(p: argparse.ArgumentParser, suppress: bool = False) -> None:
    """On a subparser the defaults are SUPPRESS, so the options also work when
    given before the subcommand (like --config)."""
    p.add_argument("--metrics-port", type=PORT, metavar="PORT",
                   default=argparse.SUPPRESS if suppress else None,
                   help="serve Prometheus /metrics on this port")
    p.add_argument("--metrics-address", metavar="ADDR",
                   default=argparse.SUPPRESS if suppress else "127.0.0.1",
                   help="address to serve /metrics on (default 127.0.0.1: loopback only)")


def main(argv: list[str] | None = None) -> int:
    from opsconsole.core.leash import LEASH_ARG
    from opsconsole.core.storage import StorageError

    raw = sys.argv[1:] if argv is None else argv
    if raw[:1] == [LEASH_ARG]:  # the frozen bundle runs a duty command step (core/leash.py)
        from opsconsole.core.leash import main as leash

        return leash(raw[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if (args.verbose or 0) > 1
        else logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "check-config":
            from opsconsole.cli import check

            return check.run(args)
        if args.command == "poll":
            from opsconsole.cli import poll

            return poll.run(args)
        if args.command == "history":
            from opsconsole.cli import history

            return history.run(args)
        if args.command in ("duty", "audit"):
            from opsconsole.cli import audit, duty

            return (duty if args.command == "duty" else audit).run(args)
        if args.command in ("serve", "token"):
            from opsconsole.cli import serve, token

            return (serve if args.command == "serve" else token).run(args)
        if args.command == "simulate":
            from opsconsole.cli import simulate

            return simulate.run(args)
        from opsconsole.ui.app import run_gui

        return run_gui(args)
    except KeyboardInterrupt:
        return EXIT_OK
    except StorageError as exc:  # a data dir file that cannot be used: one line, exit 2
        print(f"opsconsole: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.DatabaseError as exc:  # broke while reading: name the data dir
        from opsconsole.cli.common import LAST_DATA_DIR
        from opsconsole.core.storage import describe

        where = LAST_DATA_DIR[0] if LAST_DATA_DIR else Path("data dir")
        print(f"opsconsole: {where}: {describe(exc, where)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # the contract: 1 for the unexpected, one line
        logging.getLogger("opsconsole").debug("unexpected failure", exc_info=True)
        print(f"opsconsole: unexpected failure: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAIL
