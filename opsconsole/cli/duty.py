"""`opsconsole duty plan|set|retry|resume|rollback|status`: duty switching
from the command line, over the same DutyController as the GUI.

Exit codes: 0 done (or a plan that would run), 2 bad usage / invalid site
file, 3 the switch ran but did not fully succeed, 4 refused (read-only,
budget, another switch in progress, no confirmation, nothing to resume)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from opsconsole.cli.common import data_dir_for, load_site_or_exit
from opsconsole.core.site import DUTIES, Site


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
    p = dsub.add_parser("requests", help="switches waiting for a second user's approval")
    common(p, suppress=True)
    p = dsub.add_parser("approve", help="run another user's pending switch request")
    common(p, suppress=True)
    p.add_argument("request", metavar="ID", type=int)
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p = dsub.add_parser("reject", help="reject a pending switch request")
    common(p, suppress=True)
    p.add_argument("request", metavar="ID", type=int)
    p.add_argument("--comment", default="", help="why (kept with the request and audit)")


def run(args: argparse.Namespace) -> int:
    from opsconsole.cli.dutyflow import act

    if getattr(args, "connect", None):
        from opsconsole.cli.remote import RemoteDesk, connect_or_exit

        client = connect_or_exit(args)

        async def remote() -> int:
            async with client:
                return await act(args, RemoteDesk(client))

        return asyncio.run(remote())
    site = load_site_or_exit(args.config)
    return asyncio.run(_local(args, site))


async def _local(args: argparse.Namespace, site: Site) -> int:
    from opsconsole.cli.dutyflow import LocalDesk, act
    from opsconsole.collectors.duty_actions import EXECUTORS
    from opsconsole.collectors.poller import Poller
    from opsconsole.core.duty import DutyController, Journal
    from opsconsole.core.duty.approvals import Approvals
    from opsconsole.core.duty.desk import DutyDesk
    from opsconsole.sim import simulated_nvml

    data_dir = data_dir_for(args, site)
    # SQLite stays off the loop (a journal from before `origin_host` is migrated: a write)
    journal = await asyncio.to_thread(Journal.in_dir, data_dir)
    approvals = (await asyncio.to_thread(Approvals.in_dir, data_dir)
                 if site.approval_kw is not None else None)
    poller = Poller(site, lambda batch: None, simulated_nvml=simulated_nvml)
    ctl = DutyController(site, journal, poller, executors=EXECUTORS,
                         read_only=bool(args.read_only))
    try:
        return await act(args, LocalDesk(DutyDesk(ctl, approvals), poller))
    finally:
        await poller.close()
        await asyncio.to_thread(journal.close)
        if approvals is not None:
            await asyncio.to_thread(approvals.close)
