"""The simulated site (agents on loopback, simulated GPUs, inference pages)."""

from __future__ import annotations

from typing import Any


def simulated_nvml(*, count: int, seed: int) -> Any:
    """The GPUs of `nvml = "simulated"` (collectors.nvml.SimulatedNvml): the
    cli and the ui hand this to the poller, which calls it only when a site
    asks for simulated GPUs, so nothing else pays for importing the simulator."""
    from opsconsole.sim.nvml_sim import SimNvml

    return SimNvml(count=count, seed=seed)
