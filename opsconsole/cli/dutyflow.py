"""What `opsconsole duty ...` prints and returns, whichever desk answers:
`LocalDesk` (this process polls and switches, core.duty.desk) or
cli.remote.RemoteDesk (the site service does, through the client). One flow,
so the local and the --connect forms print the same lines and exit the same.

Exit codes: 0 done (or a plan that would run), 2 bad usage / invalid site
file / unknown group or request, 3 the switch ran but did not fully succeed,
4 refused (read-only, budget, another switch in progress, no confirmation,
nothing to resume, needs approval, not allowed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

from opsconsole.cli.common import EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from opsconsole.core.site import Site

NO_TERMINAL = ("refusing: no terminal to confirm on; pass --yes to switch without "
               "confirmation")
Progress = Callable[[dict[str, Any]], None]


class DeskFailure(Exception):
    """One line and its exit code (unknown group, not allowed, unreachable...)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class Desk(Protocol):
    async def states(self) -> list[dict[str, Any]]: ...
    async def plan(self, kind: str, group: str, duty: str | None) -> dict[str, Any]: ...
    async def run(self, kind: str, group: str, duty: str | None, refuse: str | None,
                  progress: Progress) -> dict[str, Any]: ...
    def cancel(self, group: str) -> None: ...
    async def requests(self) -> list[dict[str, Any]]: ...
    async def plan_approval(self, rid: int) -> dict[str, Any]: ...
    async def approve(self, rid: int, refuse: str | None,
                      progress: Progress) -> dict[str, Any]: ...
    async def reject(self, rid: int, comment: str) -> dict[str, Any]: ...


class LocalDesk:
    """core.duty.desk in this process, as the OS user on this host; power now
    from one poll of the devices."""

    def __init__(self, desk: Any, poller: Any) -> None:
        from opsconsole.core.duty.desk import Actor
        from opsconsole.core.duty.journal import os_user

        self.desk = desk
        self.poller = poller
        self.actor = Actor(os_user(), desk.ctl.journal.host)
        self._plan: Any = None
        self._measured: dict[str, float] | None = None

    async def _measured_kw(self) -> dict[str, float]:

        if self._measured is None:
            self._measured = await measure(self.poller, self.desk.site)
        return self._measured

    def _doc(self, plan: Any) -> dict[str, Any]:
        return {"plan": plan.public(), "summary": plan.summary_lines(),
                "refusals": list(plan.refusals), "read_only": self.desk.ctl.read_only,
                "needs_approval": self.desk.approval_reason(plan)}

    async def _guard(self, coro: Any) -> Any:
        from opsconsole.core.duty import DutyError
        from opsconsole.core.duty.desk import DeskError

        try:
            return await coro
        except DutyError as exc:
            raise DeskFailure(str(exc), EXIT_USAGE) from None
        except DeskError as exc:
            raise DeskFailure(str(exc), exc.exit_code) from None

    async def states(self) -> list[dict[str, Any]]:
        states = await asyncio.to_thread(self.desk.ctl.states)
        return [asdict(st) | {"label": st.label} for st in states.values()]

    async def plan(self, kind: str, group: str, duty: str | None) -> dict[str, Any]:
        self._plan = await self._guard(self.desk.plan(kind, group, duty,
                                                      await self._measured_kw()))
        return self._doc(self._plan)

    async def run(self, kind: str, group: str, duty: str | None, refuse: str | None,
                  progress: Progress) -> dict[str, Any]:
        out = await self.desk.run(self._plan, self.actor, lambda ev: progress(asdict(ev)),
                                  refuse)
        return out.public()

    def cancel(self, group: str) -> None:
        self.desk.ctl.cancel(group)

    async def requests(self) -> list[dict[str, Any]]:
        return await self.desk.requests()

    async def plan_approval(self, rid: int) -> dict[str, Any]:
        req, self._plan = await self._guard(
            self.desk.plan_approval(rid, self.actor, await self._measured_kw()))
        return {"request": req, **self._doc(self._plan)}

    async def approve(self, rid: int, refuse: str | None,
                      progress: Progress) -> dict[str, Any]:
        out = await self._guard(self.desk.approve(rid, self._plan, self.actor,
                                                  lambda ev: progress(asdict(ev)), refuse))
        return out.public()

    async def reject(self, rid: int, comment: str) -> dict[str, Any]:
        return (await self._guard(self.desk.reject(rid, self.actor, comment))).public()


def print_progress(ev: dict[str, Any]) -> None:
    if ev["kind"] == "step-start":
        print(f"[{(ev['pos'] or 0) + 1}/{ev['steps_total']}] {ev['message']}", flush=True)
    elif ev["kind"] == "device" and not ev["ok"]:
        print(f"      {ev['device']}: FAILED: {ev['message']}", flush=True)
    elif ev["kind"] == "step-end":
        print(f"      {'ok' if ev['ok'] else 'NOT OK'}: {ev['message']}", flush=True)


def confirm(plan: dict[str, Any], yes: bool) -> str | None:
    """None when confirmed, else why not."""
    if yes:
        return None
    if sys.stdin is None or sys.stdin.closed or not sys.stdin.isatty():  # closed: no stdin
        return NO_TERMINAL
    p = plan["plan"]
    try:
        answer = input(f"Switch {p['group']} from {p['from_duty']} to {p['to_duty']}"
                       f" ({p['kind']})? Type yes to go on: ")
    except EOFError:
        answer = ""
    return None if answer.strip().lower() in ("y", "yes") else "not confirmed by the operator"


def report(out: dict[str, Any]) -> int:
    """Print the outcome of a run (or refusal, or request) and give its exit code."""
    res, req = out["result"], out["request"]
    if res is None and req is not None and req["status"] == "pending":
        print(f"request #{req['id']}: {req['group']} {req['from']} -> {req['to']} kept for "
              f"a second user's approval (expires {req['expires_at']})", flush=True)
        print(out["message"], file=sys.stderr)
        return out["exit_code"]
    if res is None:
        print(out["message"])
        return out["exit_code"]
    if res["outcome"] == "refused":
        print(f"refused: {res['message']}", file=sys.stderr)
        return out["exit_code"]
    stream = sys.stdout if out["exit_code"] == 0 else sys.stderr
    print(f"{res['outcome']}: {res['message']} (switch #{res['switch_id']})", file=stream)
    for f in res["failures"]:
        print(f"  {f['device']}: {f['message']}", file=stream)
    return out["exit_code"]


def _on_sigint(desk: Desk, group: str) -> None:
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals on Windows loops
        loop.add_signal_handler(signal.SIGINT, lambda: (
            print("cancelling after the current step ...", file=sys.stderr, flush=True),
            desk.cancel(group)))


async def act(args: argparse.Namespace, desk: Desk) -> int:
    try:
        return await _act(args, desk)
    except DeskFailure as exc:
        print(f"opsconsole duty: {exc}", file=sys.stderr)
        return exc.exit_code


async def _act(args: argparse.Namespace, desk: Desk) -> int:
    cmd = args.duty_command
    if cmd == "status":
        states = await desk.states()
        if args.group and args.group not in {s["group"] for s in states}:
            known = ", ".join(s["group"] for s in states)
            raise DeskFailure(f'unknown group "{args.group}" (groups: {known})', EXIT_USAGE)
        for st in states:
            if not args.group or st["group"] == args.group:
                print(f"{st['group']}: {st['label']}"
                      + (f"  (switch #{st['switch_id']})" if st["switch_id"] else ""))
        return EXIT_OK
    if cmd == "requests":
        reqs = await desk.requests()
        if not reqs:
            print("no pending requests")
        for r in reqs:
            print(f"#{r['id']} {r['created_at']} {r['user']}@{r['host']} {r['group']} "
                  f"{r['from']} -> {r['to']} (expires {r['expires_at']})")
        return EXIT_OK
    if cmd == "reject":
        out = await desk.reject(args.request, args.comment)
        print(out["message"])
        return out["exit_code"]
    if cmd == "approve":
        doc = await desk.plan_approval(args.request)
        req = doc["request"]
        print(f"request #{req['id']} by {req['user']}@{req['host']} at {req['created_at']}")
        print("\n".join(doc["summary"]), flush=True)
        refuse = None if doc["refusals"] or doc["read_only"] else confirm(doc, args.yes)
        _on_sigint(desk, req["group"])
        out = await desk.approve(args.request, refuse, print_progress)
        if refuse is not None:
            print(refuse, file=sys.stderr)
            return EXIT_REFUSED
        return report(out)
    kind = "switch" if cmd in ("plan", "set") else cmd
    duty = getattr(args, "duty", None)
    try:
        doc = await desk.plan(kind, args.group, duty)
    except DeskFailure as exc:
        if exc.exit_code == EXIT_REFUSED and cmd != "plan":
            # not allowed to plan (a viewer's token): the service audits the refused switch
            with contextlib.suppress(DeskFailure):
                await desk.run(kind, args.group, duty, None, print_progress)
        raise
    print("\n".join(doc["summary"]), flush=True)
    if doc["needs_approval"]:
        print(f"  needs approval: {doc['needs_approval']}", flush=True)
    if cmd == "plan":
        if doc["read_only"]:  # the plan is what a set would do; the set itself would be refused
            from opsconsole.core.duty import READ_ONLY

            print(f"  REFUSED: {READ_ONLY}: a set would be refused", flush=True)
        return EXIT_REFUSED if doc["refusals"] or doc["read_only"] else EXIT_OK
    if doc["refusals"] or doc["read_only"] or doc["needs_approval"]:
        return report(await desk.run(kind, args.group, duty, None, print_progress))
    why = confirm(doc, args.yes)
    if why is not None:
        await desk.run(kind, args.group, duty, why, print_progress)  # audited
        print(why, file=sys.stderr)
        return EXIT_REFUSED
    _on_sigint(desk, args.group)
    return report(await desk.run(kind, args.group, duty, None, print_progress))


async def measure(poller: Any, site: Site) -> dict[str, float]:
    """Power now per group, from one pass over the site's devices."""
    from opsconsole.core.store import LiveStore

    store = LiveStore(site, history_s=60)
    store.ingest(await poller.poll_once())
    out: dict[str, float] = {}
    for g in site.groups:
        s = store.summary(g.id)
        if s.devices_ok and s.power_w is not None:
            out[g.id] = s.power_w / 1000.0
    return out
