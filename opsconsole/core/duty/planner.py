"""Building plans: targets resolved from the site file, steps for a new duty
or for the unfinished part of an earlier switch, and the power arithmetic."""

from __future__ import annotations

from typing import Any

from opsconsole.core.duty.model import (
    GROUP_ACTIONS,
    STEP_OK,
    DeviceResult,
    PlannedStep,
)
from opsconsole.core.duty.steps import ACTIONS
from opsconsole.core.kinds import SELECTOR_KIND
from opsconsole.core.site import Device, DutyStep, Group

SKIPPED = "skipped: failed in an earlier step"


def targets(group: Group, step: DutyStep) -> tuple[str, ...]:
    """The devices a step acts on (none for group-level actions). Selectors
    pick by kind; then only devices the action applies to are kept."""
    if step.action in GROUP_ACTIONS:
        return ()
    if isinstance(step.targets, str):
        kind = SELECTOR_KIND.get(step.targets)
        devs = [d for d in group.devices if kind in (None, d.kind)]
    else:
        by_id = {d.id: d for d in group.devices}
        devs = [by_id[i] for i in step.targets if i in by_id]
    return tuple(d.id for d in devs if applies(step, d))


def applies(step: DutyStep, d: Device) -> bool:
    return ACTIONS[step.action].applies(step.params, d)


def timeout_of(step: DutyStep) -> float:
    return float(step.params.get("timeout_s", ACTIONS[step.action].default_timeout_s))


def full_steps(group: Group, duty: str) -> list[PlannedStep]:
    return [PlannedStep(i, s.action, dict(s.params), targets(group, s), timeout_of(s))
            for i, s in enumerate(group.duties.get(duty, ()))]


def remaining_steps(
    group: Group, parent: dict[str, Any], results: dict[int, Any], from_pos: int, note: str
) -> tuple[list[PlannedStep], list[DeviceResult], str | None]:
    """The unfinished part of switch `parent`: steps from `from_pos` on, each
    for the devices that did not succeed in it (group-level steps unless they
    succeeded); failures before `from_pos` are carried. Params come from the
    site file (the journal keeps no secrets), matched by step index."""
    site_steps = group.duties.get(parent["to_duty"], ())
    steps: list[PlannedStep] = []
    carried: dict[str, DeviceResult] = {}
    for pos, ps in enumerate(parent["plan"].get("steps", [])):
        idx = int(ps["index"])
        if idx >= len(site_steps) or site_steps[idx].action != ps["action"]:
            return [], [], (f"the site file's {parent['to_duty']} steps changed since switch "
                            f"#{parent['id']}: plan a new switch instead")
        res = results.get(pos)
        if pos < from_pos:
            for d in res.devices if res else []:
                if not d.ok and (d.device not in carried or carried[d.device].message == SKIPPED):
                    carried[d.device] = d
            continue
        site_step = site_steps[idx]
        if ps["action"] in GROUP_ACTIONS:
            if res is None or res.status != STEP_OK:
                steps.append(PlannedStep(idx, ps["action"], dict(site_step.params), (),
                                         timeout_of(site_step), note))
            continue
        done = {d.device for d in res.devices if d.ok} if res else set()
        devs = tuple(d for d in ps["devices"] if d not in done)
        if devs:
            steps.append(PlannedStep(idx, ps["action"], dict(site_step.params), devs,
                                     timeout_of(site_step), f"{note}: {len(devs)} device(s)"))
    return steps, list(carried.values()), None
