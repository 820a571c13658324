"""Miner-API agents replaying captured replies (tests/data/miner_api), in a
child process, for the miner-API benches.

FAMILIES: antminer and luxos take joined commands, whatsminer refuses joins,
avalon joins. `replay_agents(n, families)` serves n agents on loopback (one
port each, the families in turn) for the length of a `with` block.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "miner_api"
FAMILIES = (("antminer", True), ("luxos", True), ("whatsminer_v1", False), ("avalon", True))


def handlers(families: tuple[tuple[str, bool], ...] = FAMILIES) -> dict[str, Any]:
    """One replay handler per capture folder (in a process that serves agents)."""
    sys.path.insert(0, str(ROOT))
    from opsconsole.sim.minerapi.server import replay_handler

    return {folder: replay_handler({p.stem: p.read_bytes() for p in (DATA / folder).glob("*.json")},
                                   joins=joins)
            for folder, joins in families}


async def wait_for(stop: Any) -> None:
    """Serve until the parent sets `stop` (a multiprocessing Event)."""
    while not stop.is_set():
        await asyncio.sleep(0.2)


def _serve(n: int, families: tuple[tuple[str, bool], ...], ports: Any, stop: Any) -> None:
    from opsconsole.sim.minerapi.server import ApiServer

    by_folder = handlers(families)

    async def main() -> None:
        servers = [await ApiServer(by_folder[families[k % len(families)][0]]).start()
                   for k in range(n)]
        ports.put([s.port for s in servers])
        await wait_for(stop)
        for s in servers:
            await s.stop()

    asyncio.run(main())


@contextmanager
def replay_agents(n: int, families: tuple[tuple[str, bool], ...] = FAMILIES) -> Iterator[list[int]]:
    """The ports of n replay agents served by a child process while the block runs."""
    ctx = mp.get_context("spawn")
    ports, stop = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=_serve, args=(n, families, ports, stop), daemon=True)
    child.start()
    try:
        yield ports.get(timeout=120)
    finally:
        stop.set()
        child.join(10)
