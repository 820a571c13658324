"""What runs a duty step: core plans and verifies, the executors act.

Executors drive devices (SNMP engines, NVML, miner APIs, commands, HTTP), so
they live above core (collectors/duty_actions.py); whoever wires a site hands
them to the DutyController. Each bounds its own wait by the step's timeout and
returns one-line messages that never hold a secret."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opsconsole.core.duty.model import DeviceResult, PlannedStep
from opsconsole.core.duty.steps import ACTIONS
from opsconsole.core.site import Device

# (io, step, device) -> that device's result; io is the caller's device access
# (a Poller), opaque to core
DeviceAction = Callable[[Any, PlannedStep, Device], Awaitable[DeviceResult]]
# (io, step) -> (ok, message, output) for a group-level step (command, http)
GroupAction = Callable[[Any, PlannedStep], Awaitable[tuple[bool, str, str]]]


@dataclass(frozen=True, slots=True)
class Executors:
    """One executor per step action (core/duty/steps.py ACTIONS), by name."""

    device: Mapping[str, DeviceAction]
    group: Mapping[str, GroupAction]

    def __post_init__(self) -> None:
        want_group = {n for n, a in ACTIONS.items() if a.group_level}
        want_device = set(ACTIONS) - want_group
        missing = (want_group - set(self.group)) | (want_device - set(self.device))
        if missing:
            raise ValueError(f"duty executors missing for: {', '.join(sorted(missing))}")
