"""`opsconsole duty plan|set|retry|resume|rollback|status`: duty switching
from the command line, over the same DutyController as the GUI.

Exit codes: 0 done (or a plan that would run), 2 bad usage / invalid site
file, 3 the switch ran but did not fully succeed, 4 refused (read-only,
budget, another switch in progress, no confirmation, nothing to resume)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsconsole.cli.common import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, load_site_or_exit
from opsconsole.core.site import DUTIES, Site

if TYPE_CHECKING:  # the parser is built for every command: keep its imports light
    from opsconsole.core.duty import DutyController, Plan, ProgressEvent

NO_TERMINAL = ("refusing: no terminal to confirm on; pass --yes to switch without "
               "confirmation")


def add_parser(sub: Any, common: Any) -> None:
    sp = sub.add_parser("duty", help="plan and switch a group's duty (mining/inference/idle)")
    common(sp, suppress=True)
    dsub = sp.add_subparsers(dest="duty_command", metavar="ACTION", required=True)
    for name, text in (("plan", "show what a switch would do (changes nothing)"),
                       ("set", "switch a group to a duty")):
        p = dsub.add_parser(name, help=text)
        common(p, suppress=True)
        p.add_argument("group", metavar="GROUP")
        p.add_argument("duty", metavar="DUTY", choices=DUTIES)
        if name == "set":
            p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    for name, text in (("retry", "retry the failed devices of a degraded group"),
                       ("resume", "continue an interrupted switch"),
                       ("rollback", "run the previous duty's steps")):
        p = dsub.add_parser(name, help=text)
        common(p, suppress=True)
        p.add_argument("group", metavar="GROUP")
        p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p = dsub.add_parser("status", help="each group's duty and switch state")
    common(p, suppress=True)
    p.add_argument("group", metavar="GROUP", nargs="?")


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


def run(args: argparse.Namespace) -> int:
    site = load_site_or_exit(args.config)
    return asyncio.run(_main(args, site))


async def _measure(poller: Any, site: Site) -> dict[str, float]:
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


def _print_progress(ev: ProgressEvent) -> None:
    if ev.kind == "step-start":
        print(f"[{(ev.pos or 0) + 1}/{ev.steps_total}] {ev.message}", flush=True)
    elif ev.kind == "device" and not ev.ok:
        print(f"      {ev.device}: FAILED: {ev.message}", flush=True)
    elif ev.kind == "step-end":
        print(f"      {'ok' if ev.ok else 'NOT OK'}: {ev.message}", flush=True)


def _confirm(plan: Plan, yes: bool) -> str | None:
    """None when confirmed, else why not."""
    if yes:
        return None
    if sys.stdin is None or sys.stdin.closed or not sys.stdin.isatty():  # closed: no stdin
        return NO_TERMINAL
    try:
        answer = input(f"Switch {plan.group} from {plan.from_duty} to {plan.to_duty}"
                       f" ({plan.kind})? Type yes to go on: ")
    except EOFError:
        answer = ""
    return None if answer.strip().lower() in ("y", "yes") else "not confirmed by the operator"


async def _main(args: argparse.Namespace, site: Site) -> int:
    from opsconsole.collectors.poller import Poller
    from opsconsole.core.duty import DutyController, DutyError, Journal

    journal = Journal.in_dir(data_dir_for(args, site))
    poller = Poller(site, lambda batch: None)
    ctl = DutyController(site, journal, poller, read_only=bool(args.read_only))
    try:
        return await _act(args, site, ctl, poller)
    except DutyError as exc:
        print(f"opsconsole duty: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        await poller.close()
        journal.close()


async def _act(args: argparse.Namespace, site: Site, ctl: DutyController, poller: Any) -> int:
    cmd = args.duty_command
    if cmd == "status":
        groups = [ctl.group(args.group).id] if args.group else [g.id for g in site.groups]
        states = await asyncio.to_thread(ctl.states)
        for gid in groups:
            st = states[gid]
            print(f"{gid}: {st.label}" + (f"  (switch #{st.switch_id})" if st.switch_id else ""))
        return EXIT_OK
    measured = await _measure(poller, site)
    if cmd in ("plan", "set"):
        plan = await ctl.plan(args.group, args.duty, measured)
    else:
        plan = await {"retry": ctl.plan_retry, "resume": ctl.plan_resume,
                      "rollback": ctl.plan_rollback}[cmd](args.group, measured)
    print("\n".join(plan.summary_lines()), flush=True)
    if cmd == "plan":
        if ctl.read_only:  # the plan is what a set would do; the set itself would be refused
            from opsconsole.core.duty import READ_ONLY

            print(f"  REFUSED: {READ_ONLY}: a set would be refused", flush=True)
        return EXIT_REFUSED if plan.refusals or ctl.read_only else EXIT_OK
    if plan.refusals or ctl.read_only:
        res = await ctl.execute(plan)  # refuses, and the refusal is audited
        print(f"refused: {res.message}", file=sys.stderr)
        return res.exit_code
    why = _confirm(plan, args.yes)
    if why is not None:
        await ctl.refuse(plan, why)
        print(why, file=sys.stderr)
        return EXIT_REFUSED
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals on Windows loops
        loop.add_signal_handler(signal.SIGINT, lambda: (
            print("cancelling after the current step ...", file=sys.stderr, flush=True),
            ctl.cancel(plan.group)))
    res = await ctl.execute(plan, _print_progress)
    stream = sys.stdout if res.exit_code == 0 else sys.stderr
    print(f"{res.outcome}: {res.message} (switch #{res.switch_id})", file=stream)
    for f in res.failures:
        print(f"  {f.device}: {f.message}", file=stream)
    return res.exit_code
