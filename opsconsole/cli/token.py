"""`opsconsole token create NAME --role viewer|operator|admin | list |
revoke NAME --config FILE`: the site service's API tokens, kept hashed in
the site's data dir. `create` prints the token once, alone on stdout."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from opsconsole.cli.common import EXIT_OK, EXIT_USAGE, load_site_or_exit


def add_parser(sub: Any, common: Any) -> None:
    from opsconsole.service.tokens import ROLES

    sp = sub.add_parser("token", help="API tokens of the site service")
    common(sp, suppress=True)
    tsub = sp.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    p = tsub.add_parser("create", help="make a token (printed once, alone on stdout)")
    common(p, suppress=True)
    p.add_argument("name", metavar="NAME", help="the user the token stands for")
    p.add_argument("--role", choices=ROLES, required=True)
    p = tsub.add_parser("list", help="names and roles (never the tokens)")
    common(p, suppress=True)
    p = tsub.add_parser("revoke", help="delete a token: it stops working at once")
    common(p, suppress=True)
    p.add_argument("name", metavar="NAME")


def run(args: argparse.Namespace) -> int:
    from opsconsole.cli.common import data_dir_for
    from opsconsole.service.tokens import TokenBook, TokenError

    site = load_site_or_exit(args.config)
    book = TokenBook(data_dir_for(args, site))
    try:
        if args.token_command == "create":
            print(book.create(args.name, args.role), flush=True)
        elif args.token_command == "revoke":
            book.revoke(args.name)
            print(f"revoked {args.name}", file=sys.stderr)
        else:
            rows = book.list()
            if not rows:
                print("no tokens")
            for r in rows:
                print(f"{r['name']:<24} {r['role']:<9} {r['created_at']}")
    except TokenError as exc:
        print(f"opsconsole token: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
