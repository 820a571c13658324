"""Duty step schemas: what each duty action takes in a site file, checked
against its group's devices and their profiles, and what the planner needs
to know about it (the devices it acts on, its default timeout).

The site loader (core/siteload.py) finds the steps of `[groups.duties]` and
hands each table to `check_step`; the executors live above core, in
collectors/duty_actions.py. A new action is one `@action(...)`-decorated
check here and its executor there; nothing in the site loader changes.
Messages are one line and never echo a secret (env values, URLs)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from opsconsole.core.exporterload import url_problem
from opsconsole.core.kinds import SELECTOR_KIND, SELECTORS, SNMP_KINDS
from opsconsole.core.metrics import CATALOGUE
from opsconsole.core.profileload import (
    Problems,
    check_keys,
    hint,
    join,
    quoted,
    type_name,
    want_choice,
    want_int,
    want_number,
    want_str,
    want_table,
)
from opsconsole.core.profiles import Profile
from opsconsole.core.site import Device, DutyStep, StepParams

STEP_COMMON = ("action", "targets", "timeout_s")  # keys every step may have
OUTLET_STATES = ("on", "off", "cycle")
HTTP_METHODS = ("GET", "HEAD", "POST")
METRIC_OPS = ("<", "<=", ">", ">=", "==", "!=")
POWER_STATES = ("sleep", "wake")  # miner-power

Targets = str | tuple[str, ...]  # a selector or device ids


@dataclass(frozen=True, slots=True)
class StepContext:
    """What a step check sees: where problems go, its group, and the site's
    devices and profiles."""

    probs: Problems
    group: str
    members: Mapping[str, Device]  # the group's devices by id
    devices: Mapping[str, Device]  # every device of the site by id
    profiles: Mapping[str, Profile]


# check(ctx, step table, key path, targets, targeted devices) -> the step's params
Check = Callable[[StepContext, dict[str, Any], str, Targets, list[Device]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    keys: tuple[str, ...]  # its own keys, besides STEP_COMMON
    check: Check
    default_timeout_s: float
    group_level: bool  # acts once for the group (no devices)
    applies: Callable[[Mapping[str, Any], Device], bool]  # (params, device) -> acts on it


ACTIONS: dict[str, ActionSpec] = {}


def action(
    name: str,
    keys: tuple[str, ...],
    *,
    timeout_s: float,
    applies: Callable[[Mapping[str, Any], Device], bool] | None = None,
) -> Callable[[Check], Check]:
    """Register a check as the schema of action `name`. Without `applies`
    the action is group-level: it runs once, not per device."""

    def register(check: Check) -> Check:
        ACTIONS[name] = ActionSpec(name, keys, check, timeout_s, applies is None,
                                   applies or (lambda _params, _dev: False))
        return check

    return register


def check_step(ctx: StepContext, t: dict[str, Any], path: str) -> DutyStep | None:
    """One `[[groups.duties.DUTY]]` table -> a DutyStep, or None after
    reporting every problem."""
    p = ctx.probs
    before = len(p.lines)
    name = want_choice(t, "action", ACTIONS, path, p, required=True, what="action")
    own = ACTIONS[name].keys if name else tuple(k for a in ACTIONS.values() for k in a.keys)
    check_keys(t, STEP_COMMON + own, path, p)
    targets, devices = _targets(ctx, t, path)
    params: dict[str, Any] = {}
    timeout = want_number(t, "timeout_s", path, p, lo=0, hi=86_400, lo_open=True)
    if timeout is not None:
        params["timeout_s"] = timeout
    if name is not None and targets is not None:
        params.update(ACTIONS[name].check(ctx, t, path, targets, devices))
    if len(p.lines) > before or name is None or targets is None:
        return None
    # the keys are the action's own, as its check returned them
    return DutyStep(action=name, targets=targets, params=cast(StepParams, params))


# ---- targets


def _targets(ctx: StepContext, t: dict[str, Any], path: str) -> tuple[Targets | None, list[Device]]:
    value = t.get("targets", "all")
    kpath = join(path, "targets")
    if isinstance(value, str):
        if value not in SELECTORS:
            ctx.probs.add(
                kpath,
                f'unknown selector "{value}": expected one of {quoted(SELECTORS)} '
                f"or a list of device ids{hint(value, SELECTORS)}",
            )
            return None, []
        kind = SELECTOR_KIND.get(value)
        return value, [d for d in ctx.members.values() if kind in (None, d.kind)]
    if not isinstance(value, list) or not value:
        what = "an empty array" if value == [] else type_name(value)
        ctx.probs.add(kpath, f"expected a selector or a non-empty list of device ids, got {what}")
        return None, []
    return _target_ids(ctx, value, kpath)


def _target_ids(
    ctx: StepContext, value: list[Any], kpath: str
) -> tuple[tuple[str, ...] | None, list[Device]]:
    ok = True
    devices: list[Device] = []
    seen: set[str] = set()  # not value.index(): quadratic for a long list
    for i, item in enumerate(value):
        ipath = f"{kpath}[{i}]"
        if not isinstance(item, str):
            ctx.probs.add(ipath, f"expected a device id, got {type_name(item)}")
            ok = False
        elif item in seen:
            ctx.probs.add(ipath, f'device "{item}" is listed twice')
            ok = False
        else:
            seen.add(item)
            if item in ctx.members:
                devices.append(ctx.members[item])
            else:
                ctx.probs.add(ipath, _not_member(ctx, item))
                ok = False
    return (tuple(value) if ok else None), devices


def _not_member(ctx: StepContext, did: str) -> str:
    other = ctx.devices.get(did)
    if other is not None:
        return f'device "{did}" is in group "{other.group}", not in group "{ctx.group}"'
    return f'unknown device "{did}" (not in group "{ctx.group}"){hint(did, ctx.members)}'


def _applicable(
    ctx: StepContext, targets: Targets, devices: list[Device], kinds: tuple[str, ...],
    path: str, name: str,
) -> list[Device]:
    """Devices of `kinds`: each listed id must be one; a selector must select some."""
    fit = [d for d in devices if d.kind in kinds]
    kpath = join(path, "targets")
    if isinstance(targets, tuple):
        for d in devices:
            if d.kind not in kinds:
                need = " or ".join(kinds)
                ctx.probs.add(kpath, f'device "{d.id}" is a {d.kind}: {name} needs {need} devices')
    elif not fit:
        ctx.probs.add(
            kpath, f'"{targets}" selects no {" or ".join(kinds)} device in group "{ctx.group}"'
        )
    return fit


def _selects_some(ctx: StepContext, targets: Targets, devices: list[Device], path: str) -> bool:
    if not devices:
        ctx.probs.add(join(path, "targets"),
                      f'"{targets}" selects no device in group "{ctx.group}"')
    return bool(devices)


# ---- the actions (each check returns the step's params)


@action("snmp-set", ("control",), timeout_s=30.0,
        applies=lambda _params, d: d.kind in SNMP_KINDS)
def _snmp_set(
    ctx: StepContext, t: dict[str, Any], path: str, targets: Targets, devices: list[Device]
) -> dict[str, Any]:
    control = want_str(t, "control", path, ctx.probs, required=True)
    fit = _applicable(ctx, targets, devices, SNMP_KINDS, path, "snmp-set")
    if control is None:
        return {}
    by_profile: dict[str, list[str]] = {}
    for d in fit:
        prof = ctx.profiles.get(d.profile or "")
        if prof is not None and control not in prof.controls:
            by_profile.setdefault(prof.name, []).append(d.id)
    for name, ids in by_profile.items():
        ctx.probs.add(
            join(path, "control"),
            f'control "{control}" is not defined in profile "{name}" '
            f"(used by {', '.join(ids)}){hint(control, ctx.profiles[name].controls)}",
        )
    return {"control": control}


@action("pdu-outlet", ("state",), timeout_s=60.0,
        applies=lambda _params, d: d.pdu is not None and d.outlet is not None)
def _pdu_outlet(
    ctx: StepContext, t: dict[str, Any], path: str, targets: Targets, devices: list[Device]
) -> dict[str, Any]:
    state = want_choice(t, "state", OUTLET_STATES, path, ctx.probs, required=True, what="state")
    _selects_some(ctx, targets, devices, path)
    unfed = [d.id for d in devices if d.pdu is None or d.outlet is None]
    if unfed:
        ctx.probs.add(
            join(path, "targets"),
            f"pdu-outlet needs targets with pdu and outlet; these have none: {', '.join(unfed)}",
        )
    if state is not None:
        _check_outlet_controls(ctx, devices, path)
    return {"state": state} if state else {}


def _check_outlet_controls(ctx: StepContext, devices: list[Device], path: str) -> None:
    checked: set[str] = set()
    for d in devices:
        pdu = ctx.devices.get(d.pdu or "")
        prof = ctx.profiles.get(pdu.profile or "") if pdu else None
        if pdu is None or prof is None or prof.kind != "pdu" or prof.name in checked:
            continue
        checked.add(prof.name)
        for name in ("outlet_on", "outlet_off"):
            ctl = prof.controls.get(name)
            if ctl is None:
                ctx.probs.add(
                    join(path, "state"),
                    f'profile "{prof.name}" (of pdu "{pdu.id}") has no control "{name}"',
                )
            elif ctl.index != "outlet":
                ctx.probs.add(
                    join(path, "state"),
                    f'control "{name}" of profile "{prof.name}" needs index = "outlet"',
                )


@action("nvml-power-limit", ("watts",), timeout_s=30.0,
        # a GPU behind a gpu-host is read through its exporter, not ours to set
        applies=lambda _params, d: d.kind == "gpu" and d.parent is None)
def _nvml_power_limit(
    ctx: StepContext, t: dict[str, Any], path: str, targets: Targets, devices: list[Device]
) -> dict[str, Any]:
    watts = want_number(t, "watts", path, ctx.probs, required=True, lo=0, hi=5000, lo_open=True)
    _applicable(ctx, targets, devices, ("gpu",), path, "nvml-power-limit")
    return {"watts": watts} if watts is not None else {}


MAX_ARGS, MAX_ARG_LEN = 1024, 32_768  # what execve takes without E2BIG on any Linux
MAX_URL = 4096


@action("command", ("argv", "env"), timeout_s=60.0)
def _command(
    ctx: StepContext, t: dict[str, Any], path: str, targets: Targets, devices: list[Device]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    argv = t.get("argv")
    kpath = join(path, "argv")
    if argv is None:
        ctx.probs.add(kpath, "missing required key")
    elif not isinstance(argv, list) or not argv:
        what = "an empty array" if argv == [] else type_name(argv)
        ctx.probs.add(kpath, f"expected a non-empty list of strings, got {what}")
    elif not all(isinstance(a, str) for a in argv):
        ctx.probs.add(kpath, "every argument must be a string")
    elif len(argv) > MAX_ARGS or any(len(a) > MAX_ARG_LEN or "\0" in a for a in argv):
        ctx.probs.add(kpath, f"at most {MAX_ARGS} arguments of at most {MAX_ARG_LEN} characters, "
                      "without NUL")
    elif not argv[0].strip():
        ctx.probs.add(kpath, "the program (first argument) must not be empty")
    else:
        out["argv"] = tuple(argv)
    env = _command_env(ctx, t, path)
    if env is not None:
        out["env"] = env
    return out


def _command_env(ctx: StepContext, t: dict[str, Any], path: str) -> dict[str, str] | None:
    env = want_table(t, "env", path, ctx.probs)
    if env is None:
        return None
    bad = []
    for key, v in env.items():  # values may be secrets: name the key only
        if not isinstance(v, str):
            why = f"expected a string, got {type_name(v)}"
        elif len(v) > MAX_ARG_LEN or "\0" in v:
            why = f"at most {MAX_ARG_LEN} characters, without NUL"
        elif not key or "=" in key or "\0" in key:
            why = "not a usable variable name (empty, or with '=' or NUL)"
        else:
            continue
        bad.append(key)
        ctx.probs.add(join(join(path, "env"), key), why)
    return None if bad else dict(env)


@action("http", ("url", "method", "expect_status"), timeout_s=60.0)
def _http(
    ctx: StepContext, t: dict[str, Any], path: str, targets: Targets, devices: list[Device]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    url = want_str(t, "url", path, ctx.probs, required=True, max_len=MAX_URL)
    if url is not None:
        problem = url_problem(url)  # never echo the URL: it may carry a token
        if problem:
            ctx.probs.add(join(path, "url"), problem)
        else:
            out["url"] = url
    method = t.get("method", "GET")
    if isinstance(method, str) and method.upper() in HTTP_METHODS:
        out["method"] = method.upper()
    else:
        want_choice(t, "method", HTTP_METHODS, path, ctx.probs, what="method")
    status = want_int(t, "expect_status", path, ctx.probs, lo=100, hi=599)
    out["expect_status"] = 200 if status is None else status
    return out


@action("miner-power", ("state",), timeout_s=120.0, applies=lambda _params, d: d.kind == "miner")
def _miner_power(
    ctx: StepContext, t: dict[str, Any], path: str, targets: Targets, devices: list[Device]
) -> dict[str, Any]:
    """Sleep or wake miners whatever they speak: SNMP miners by their profile's
    `sleep`/`wake` controls, api miners by their firmware's own command
    (collectors/minerapi/control.py)."""
    state = want_choice(t, "state", POWER_STATES, path, ctx.probs, required=True, what="state")
    fit = _applicable(ctx, targets, devices, ("miner",), path, "miner-power")
    if state is None:
        return {}
    for d in fit:
        prof = ctx.profiles.get(d.profile or "") if d.api is None else None
        if prof is not None and state not in prof.controls:
            ctx.probs.add(join(path, "state"), f'profile "{prof.name}" (of {d.id}) has no '
                                               f'control "{state}" for miner-power')
    return {"state": state}


def _reports_metric(params: Mapping[str, Any], d: Device) -> bool:
    info = CATALOGUE.get(params.get("metric", ""))
    return info is not None and d.kind in info.kinds


@action("wait-metric", ("metric", "op", "value"), timeout_s=120.0, applies=_reports_metric)
def _wait_metric(
    ctx: StepContext, t: dict[str, Any], path: str, targets: Targets, devices: list[Device]
) -> dict[str, Any]:
    metric = want_str(t, "metric", path, ctx.probs, required=True)
    info = CATALOGUE.get(metric) if metric else None
    if metric is not None and info is None:
        ctx.probs.add(join(path, "metric"), f'unknown metric "{metric}"{hint(metric, CATALOGUE)}')
    op = want_choice(t, "op", METRIC_OPS, path, ctx.probs, required=True, what="operator")
    out: dict[str, Any] = {"metric": metric, "op": op}
    if info is not None:
        if _selects_some(ctx, targets, devices, path) and not any(
            d.kind in info.kinds for d in devices
        ):
            ctx.probs.add(
                join(path, "metric"),
                f'no target reports "{info.name}" (it comes from {", ".join(info.kinds)} devices)',
            )
        out["value"] = _metric_value(ctx, t, path, info.numeric, op)
    return out


def _metric_value(
    ctx: StepContext, t: dict[str, Any], path: str, numeric: bool, op: str | None
) -> Any:
    kpath = join(path, "value")
    if "value" not in t:
        ctx.probs.add(kpath, "missing required key")
        return None
    value = t["value"]
    if numeric:
        return want_number(t, "value", path, ctx.probs)
    if not isinstance(value, str | int) or isinstance(value, bool):
        ctx.probs.add(kpath, f"expected a string or integer, got {type_name(value)}")
    elif op not in (None, "==", "!="):
        ctx.probs.add(join(path, "op"), "this metric is a state: compare it with == or !=")
    return value
