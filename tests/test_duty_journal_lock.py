"""Another process holds the duty journal's write lock (a `duty set` from a
terminal, a backup tool): planning waits for it in a worker thread while the
collector loop keeps polling. Counted in poll cycles, not clocked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from opsconsole.collectors.duty_actions import EXECUTORS
from opsconsole.collectors.poller import CycleStats, Poller
from opsconsole.core.duty import DutyController, Journal
from opsconsole.core.duty.model import DONE
from opsconsole.sim.site import SimSite
from tests.fixtures.sqlite_lock import LockHolder
from tests.test_poller import fast_site


def test_polling_goes_on_while_another_process_holds_the_journal(
    sim_site_factory: Callable[..., SimSite], tmp_path
) -> None:
    site = fast_site(sim_site_factory(miners=2, gpus=0))
    journal = Journal.in_dir(tmp_path)
    cycles: list[CycleStats] = []
    poller = Poller(site, lambda _batch: None, on_cycle=cycles.append)
    ctl = DutyController(site, journal, poller, executors=EXECUTORS)
    group = site.groups[0].id
    holder = LockHolder(journal.path)

    async def main() -> tuple[int, bool, str]:
        await poller.poll_once()
        polling = asyncio.create_task(poller.run())
        try:
            before = len(cycles)
            planning = asyncio.create_task(ctl.plan(group, "idle"))  # recover(): a write
            # hang guard only (well under the 30 s busy timeout): a loop blocked
            # on the lock would run no cycle until the lock is gone
            async with asyncio.timeout(20):
                while len(cycles) < before + 3:
                    await asyncio.sleep(0.05)
            waiting = not planning.done()
            await asyncio.to_thread(holder.release)
            plan = await planning
            result = await ctl.execute(plan)
            duty = (await asyncio.to_thread(ctl.state, group)).duty
            return len(cycles) - before, waiting, f"{result.outcome} {result.message} -> {duty}"
        finally:
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)
            await poller.close()

    try:
        ran, waiting, outcome = asyncio.run(main())
    finally:
        holder.kill()
        journal.close()
    assert waiting, "planning did not wait for the other process's lock"
    assert ran >= 3
    assert outcome.startswith(DONE) and outcome.endswith("-> idle"), outcome
