"""`opsconsole poll --config FILE [--once] [--format table|json]`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from pathlib import Path

from opsconsole.cli.common import EXIT_OK, data_dir_for, load_site_or_exit
from opsconsole.cli.sinks import Sinks
from opsconsole.collectors.poller import CycleStats, Poller
from opsconsole.core.duty.journal import read_group_states
from opsconsole.core.duty.model import GroupState
from opsconsole.core.readings import Reading
from opsconsole.core.report import format_table, poll_doc
from opsconsole.core.site import Site
from opsconsole.core.storage import StorageError
from opsconsole.core.store import LiveStore
from opsconsole.sim import simulated_nvml

log = logging.getLogger(__name__)


def _quiet_loop_errors() -> None:
    """A datagram the SNMP library chokes on (a broken or hostile agent) ends up
    in asyncio's handler, which prints a traceback and the packet's bytes per
    datagram: one line instead, the traceback only with -vv. The reading of the
    device says what went wrong."""

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        what = f"{type(exc).__name__}: {exc}" if exc is not None else context.get("message")
        log.warning("ignored an error in a background callback: %s", what)
        log.debug("background callback error", exc_info=exc)

    asyncio.get_running_loop().set_exception_handler(handler)


def _states(site: Site, data_dir: Path) -> dict[str, GroupState]:
    """Each group's duty from the journal, read fresh (a switch may have run
    since the last cycle), never the site file's starting duty. SQLite: a
    worker thread's job, not the poll loop's."""
    try:
        return read_group_states(site, data_dir)
    except StorageError as exc:  # broke while polling: say so, never guess a duty
        print(f"opsconsole: {exc}", file=sys.stderr, flush=True)
        return {g.id: GroupState(g.id, "unknown", "unknown") for g in site.groups}


async def _emit(site: Site, store: LiveStore, readings: list[Reading], cycle_s: float,
                fmt: str, data_dir: Path) -> None:
    states = await asyncio.to_thread(_states, site, data_dir)
    doc = poll_doc(site, store, readings, cycle_s, states)
    print(json.dumps(doc) if fmt == "json" else format_table(doc), flush=True)


async def _once(site: Site, fmt: str, data_dir: Path) -> None:
    _quiet_loop_errors()
    # one pass keeps no history: an hour of rings is ~170 MB at 20,000 devices
    store = LiveStore(site, history_s=0.0)
    poller = Poller(site, store.ingest, simulated_nvml=simulated_nvml)
    try:
        t0 = time.monotonic()
        readings = await poller.poll_once()
        cycle_s = time.monotonic() - t0
    finally:
        await poller.close()
    store.ingest(readings)
    await _emit(site, store, readings, cycle_s, fmt, data_dir)


async def _forever(site: Site, fmt: str, data_dir: Path, sinks: Sinks | None = None) -> None:
    _quiet_loop_errors()
    store = LiveStore(site)
    seen: dict[str, Reading] = {}
    sinks = sinks or Sinks()
    cycles: asyncio.Queue[tuple[list[Reading], float]] = asyncio.Queue()

    async def emit_each() -> None:
        """One document per cycle, in order, while the poller goes on."""
        while True:
            readings, cycle_s = await cycles.get()
            try:
                await _emit(site, store, readings, cycle_s, fmt, data_dir)
            except Exception:  # one bad document must not end the output
                log.exception("poll: a cycle could not be printed")

    def on_batch(batch: list[Reading]) -> None:
        store.ingest(batch)
        sinks.ingest(batch, store)
        for r in batch:
            seen[r.device] = r

    def on_cycle(stats: CycleStats) -> None:
        sinks.cycle(stats.duration_s)
        if seen:
            cycles.put_nowait((list(seen.values()), stats.duration_s))
        c = stats.counts
        print(f"# cycle {stats.cycle}: {stats.polled} polled, {c['ok']} ok, "
              f"{c['partial']} partial, {c['unreachable']} unreachable, {c['error']} error, "
              f"{stats.skipped} backing off, {stats.late} late, {stats.duration_s:.2f} s",
              file=sys.stderr, flush=True)

    poller = Poller(site, on_batch, on_cycle=on_cycle, simulated_nvml=simulated_nvml)
    emitter = asyncio.create_task(emit_each())
    try:
        await poller.run()
    finally:
        emitter.cancel()
        await poller.close()


def run(args: argparse.Namespace) -> int:
    if getattr(args, "connect", None):
        from opsconsole.cli import remote

        return remote.poll(args)
    site = load_site_or_exit(getattr(args, "config", None))
    data_dir = data_dir_for(args, site)
    read_group_states(site, data_dir)  # an unreadable journal: exit 2 now, before polling
    if args.once:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_once(site, args.format, data_dir))
        return EXIT_OK
    sinks = Sinks.open(args, site)  # history in the data dir, /metrics if asked
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_forever(site, args.format, data_dir, sinks))
    finally:
        sinks.close()
    return EXIT_OK
