"""Helpers for the wall tests (no tests here): a runtime the test drives by
hand, a fake clock, a wall window on either, and a one-miner site file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsconsole.collectors.poller import CycleStats
from opsconsole.core.readings import Reading
from opsconsole.core.site import Site


def one_miner_site(name: str) -> str:
    """A site file named `name`: row A with one SNMP miner (nothing need answer)."""
    return f'''
[site]
name = "{name}"

[credentials.lan]
version = "2c"
community = "public"

[[groups]]
id = "row-a"
name = "Row A"
duty = "mining"

[[groups.devices]]
id = "a-01"
kind = "miner"
address = "127.0.0.1:16100"
profile = "sim-miner"
credentials = "lan"
'''


class FakeClock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


class ManualRuntime:
    """No thread, no network: the test pushes batches and can "kill" it."""

    def __init__(self, site: Site | None, on_batch: Callable[[list[Reading]], None],
                 on_cycle: Callable[[CycleStats], None] | None = None, **_: Any):
        self.site = site
        self.on_batch = on_batch
        self.alive = False

    def start(self) -> None:
        self.alive = True

    def stop(self, timeout: float = 10.0) -> None:
        self.alive = False

    def push(self, batch: list[Reading]) -> None:
        self.on_batch(batch)

    @property
    def running(self) -> bool:
        return self.alive


class RuntimeLog:
    """A runtime factory that keeps every runtime it made."""

    def __init__(self) -> None:
        self.made: list[ManualRuntime] = []

    def __call__(self, *args: Any, **kw: Any) -> ManualRuntime:
        rt = ManualRuntime(*args, **kw)
        self.made.append(rt)
        return rt

    @property
    def last(self) -> ManualRuntime:
        return self.made[-1]
