"""The --connect forms of `poll --once`, `duty ...`, `audit` and `history`:
the same output and exit codes as the local forms, from the site service
(opsconsole.client). No --config needed: the service knows its site."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from opsconsole.cli.common import EXIT_OK, EXIT_USAGE, print_history
from opsconsole.cli.dutyflow import DeskFailure, Progress
from opsconsole.client.api import ApiError, SiteClient, read_token

T = TypeVar("T")


def connect_or_exit(args: argparse.Namespace) -> SiteClient:
    try:
        return SiteClient(args.connect, read_token(getattr(args, "token_file", None)),
                          ca_file=getattr(args, "ca_file", None))
    except ApiError as exc:
        print(f"opsconsole: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


def _call(args: argparse.Namespace, fn: Callable[[SiteClient], Awaitable[T]]) -> T:
    """Run one client call; an API error is one line on stderr and its exit code."""
    client = connect_or_exit(args)

    async def go() -> T:
        async with client:
            return await fn(client)

    try:
        return asyncio.run(go())
    except ApiError as exc:
        print(f"opsconsole: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


def poll(args: argparse.Namespace) -> int:
    """`poll --once`: the service's latest readings, as the local poll prints them."""
    from opsconsole.core.report import format_table

    if not args.once:
        print("opsconsole: poll --connect needs --once (the service polls; use the console "
              "or the push stream to follow it)", file=sys.stderr)
        return EXIT_USAGE
    doc = _call(args, lambda c: c.snapshot())
    print(json.dumps(doc) if args.format == "json" else format_table(doc), flush=True)
    return EXIT_OK


def audit(args: argparse.Namespace) -> dict[str, Any]:
    return _call(args, lambda c: c.audit(args.group, args.limit))


def history(args: argparse.Namespace) -> int:

    try:
        got = _call(args, lambda c: c.history(args.target, args.metric, args.since,
                                              args.until))
    except SystemExit as exc:  # the local form's words for a bad target or time
        return int(exc.code or 0)
    print_history(got["doc"], got["csv"], args.format)
    return EXIT_OK


class RemoteDesk:
    """cli.dutyflow's desk through the site service: it plans with its own live
    store and records the token's user and this client's address."""

    def __init__(self, client: SiteClient) -> None:
        self.client = client
        self._tasks: set[asyncio.Task] = set()

    async def _guard(self, coro: Awaitable[T]) -> T:
        try:
            return await coro
        except ApiError as exc:
            raise DeskFailure(str(exc), exc.exit_code) from None

    async def _stream(self, lines: Any, progress: Progress) -> dict[str, Any]:
        out: dict[str, Any] | None = None
        try:
            async for line in lines:
                if line["type"] == "progress":
                    progress(line["event"])
                elif line["type"] == "outcome":
                    out = line
                elif line["type"] == "error":
                    raise DeskFailure(line["error"], int(line.get("exit_code", 4)))
        except ApiError as exc:
            raise DeskFailure(str(exc), exc.exit_code) from None
        if out is None:
            raise DeskFailure("the site service closed the connection before the switch "
                              "ended: see `duty status` and `audit`", 1)
        return out

    async def states(self) -> list[dict[str, Any]]:
        return await self._guard(self.client.duty_status())

    async def plan(self, kind: str, group: str, duty: str | None) -> dict[str, Any]:
        return await self._guard(self.client.duty_plan(group, duty, kind))

    async def run(self, kind: str, group: str, duty: str | None, refuse: str | None,
                  progress: Progress) -> dict[str, Any]:
        return await self._stream(self.client.duty_run(group, duty, kind, refuse), progress)

    def cancel(self, group: str) -> None:
        task = asyncio.get_running_loop().create_task(self.client.duty_cancel(group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def requests(self) -> list[dict[str, Any]]:
        return await self._guard(self.client.requests())

    async def plan_approval(self, rid: int) -> dict[str, Any]:
        return await self._guard(self.client.request_plan(rid))

    async def approve(self, rid: int, refuse: str | None,
                      progress: Progress) -> dict[str, Any]:
        return await self._stream(self.client.approve(rid, refuse), progress)

    async def reject(self, rid: int, comment: str) -> dict[str, Any]:
        return await self._guard(self.client.reject(rid, comment))
