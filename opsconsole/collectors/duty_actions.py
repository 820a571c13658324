"""The duty actions' executors (core/duty/executors.py says what they are;
core never imports this module: whoever wires a site hands EXECUTORS to the
DutyController). Device actions return one DeviceResult per device; group
actions (command, http) one (ok, message, output).

Each action verifies its effect (read-back, telemetry, health) and bounds its
own wait by the step's timeout, so a failure message can say what was last
seen. Messages are one line and never hold a secret (no community, key, env
value or URL query)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import operator
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from opsconsole.collectors.nvml import NvmlError, NvmlPermissionError
from opsconsole.collectors.poller import build_target
from opsconsole.collectors.snmp.engine import SnmpEngine, SnmpError
from opsconsole.collectors.snmp_collector import convert, set_control
from opsconsole.core.duty.executors import Executors
from opsconsole.core.duty.model import DeviceResult, PlannedStep, redact_url
from opsconsole.core.leash import CANNOT_START, argv_on_leash
from opsconsole.core.profiles import ControlSpec
from opsconsole.core.readings import Reading, Status
from opsconsole.core.site import Device, Site

OUTPUT_LIMIT = 2000  # characters of command output kept in the audit (the tail)
POLL_EVERY_S = 1.0  # wait-metric / http / outlet read-back cadence
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}
OUTLET_CONTROL = {"on": "outlet_on", "off": "outlet_off", "cycle": "outlet_reboot"}


class DeviceIO(Protocol):
    """What the actions need from the collector side (a Poller gives it all)."""

    site: Site

    @property
    def engine(self) -> SnmpEngine: ...

    async def poll_device(self, device: Device, quick: bool = False) -> Reading: ...

    @property
    def nvml(self) -> Any: ...

    async def run_nvml(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    @property
    def miner_api(self) -> Any: ...


def _interval(timeout_s: float) -> float:
    return max(0.1, min(POLL_EVERY_S, timeout_s / 10))


# ---- device actions ------------------------------------------------------------


async def _set_read_back(io: DeviceIO, dev: Device, control: ControlSpec,
                         label: str) -> DeviceResult:
    """SET a profile control on `dev` and say what it reads back."""
    try:
        back = await set_control(io.engine, build_target(io.site, dev), control)
    except SnmpError as exc:
        return DeviceResult(dev.id, False, f"{label}: {exc}")
    return DeviceResult(dev.id, True, f"{label}: set {control.value!r}, reads back {back!r}")


async def snmp_set(io: DeviceIO, step: PlannedStep, dev: Device) -> DeviceResult:
    name = step.params["control"]
    return await _set_read_back(io, dev, io.site.profiles[dev.profile or ""].controls[name], name)


async def miner_power(io: DeviceIO, step: PlannedStep, dev: Device) -> DeviceResult:
    """Sleep or wake a miner whatever it speaks: an api miner by its firmware's
    own command (collectors/minerapi/control.py), an SNMP miner by its
    profile's `sleep`/`wake` control; both read back from the miner."""
    state = step.params["state"]
    if dev.api is not None:
        from opsconsole.collectors.minerapi.control import set_power

        creds = io.site.credentials.get(dev.credentials or "")
        ok, msg = await set_power(io.miner_api, dev, creds, state, step.timeout_s)
        return DeviceResult(dev.id, ok, msg)
    control = io.site.profiles[dev.profile or ""].controls.get(state)
    if control is None:
        return DeviceResult(dev.id, False, f"{state}: profile {dev.profile!r} has no {state} "
                                           "control")
    return await _set_read_back(io, dev, control, state)


async def pdu_outlet(io: DeviceIO, step: PlannedStep, dev: Device) -> DeviceResult:
    """Switch the outlet feeding `dev`, then read the PDU's outlet state until
    it shows the wanted state (a reboot: on again)."""
    state = step.params["state"]
    pdu = io.site.device(dev.pdu or "")
    if pdu is None or dev.outlet is None:
        return DeviceResult(dev.id, False, "no pdu/outlet configured")
    prof = io.site.profiles[pdu.profile or ""]
    control = prof.controls[OUTLET_CONTROL[state]]
    target = build_target(io.site, pdu)
    where = f"{pdu.id} outlet {dev.outlet}"
    try:
        await io.engine.set(target, control.oid_for(dev.outlet), control.type, control.value)
    except SnmpError as exc:
        return DeviceResult(dev.id, False, f"{where} {state}: {exc}")
    spec = prof.metrics.get("outlet_state")
    if spec is None:
        return DeviceResult(dev.id, True, f"{where} {state}: set (profile has no outlet_state)")
    want = "off" if state == "off" else "on"
    oid = f"{spec.oid}.{dev.outlet}"
    deadline = time.monotonic() + step.timeout_s
    seen: Any = None
    while True:
        try:
            seen = convert(spec, (await io.engine.get(target, [oid])).get(oid))
        except SnmpError as exc:
            seen = f"unreadable ({exc})"
        if seen == want:
            return DeviceResult(dev.id, True, f"{where} {state}: reads {want}")
        if time.monotonic() + _interval(step.timeout_s) > deadline:
            return DeviceResult(dev.id, False, f"{where} {state}: still reads {seen} "
                                               f"after {step.timeout_s:g} s")
        await asyncio.sleep(_interval(step.timeout_s))


async def nvml_power_limit(io: DeviceIO, step: PlannedStep, dev: Device) -> DeviceResult:
    watts = float(step.params["watts"])
    nv = io.nvml
    try:
        lo, hi = await io.run_nvml(nv.power_limit_constraints, dev)
        if not lo <= watts <= hi:
            return DeviceResult(dev.id, False,
                                f"power limit {watts:g} W is outside the range {lo:g}-{hi:g} W")
        await io.run_nvml(nv.set_power_limit, dev, watts)
    except NvmlPermissionError:
        return DeviceResult(dev.id, False, "setting a power limit needs root: run opsconsole "
                                           "as root (or set it with nvidia-smi -pl)")
    except (NvmlError, ValueError) as exc:
        return DeviceResult(dev.id, False, str(exc))
    reading = await io.run_nvml(nv.collect, dev)
    got = reading.metrics.get("power_limit_w")
    if isinstance(got, int | float) and abs(got - watts) > 1.0:
        return DeviceResult(dev.id, False, f"power limit set to {watts:g} W but reads {got:g} W")
    return DeviceResult(dev.id, True, f"power limit {watts:g} W (range {lo:g}-{hi:g} W)")


def _judge(step: PlannedStep, reading: Reading) -> tuple[bool, str]:
    metric, op, want = step.params["metric"], step.params["op"], step.params["value"]
    if reading.status not in (Status.OK, Status.PARTIAL):
        return False, f"no reading ({reading.status.value}: {reading.error or 'no data'})"
    value = reading.metrics.get(metric)
    if value is None:
        return False, f"{metric} not reported"
    try:
        agree = OPS[op](value, want)
    except TypeError:
        return False, f"{metric} = {value!r} cannot be compared with {want!r}"
    shown = f"{value:.3g}" if isinstance(value, float) else repr(value)
    return agree, f"{metric} = {shown}, want {op} {want}"


async def wait_metric(io: DeviceIO, step: PlannedStep, dev: Device) -> DeviceResult:
    """Poll the device (through the collector) until the metric agrees."""
    deadline = time.monotonic() + step.timeout_s
    while True:
        ok, msg = _judge(step, await io.poll_device(dev))
        if ok:
            return DeviceResult(dev.id, True, msg)
        if time.monotonic() + _interval(step.timeout_s) > deadline:
            return DeviceResult(dev.id, False, f"{msg} (timed out after {step.timeout_s:g} s)")
        await asyncio.sleep(_interval(step.timeout_s))


DEVICE_ACTIONS = {
    "snmp-set": snmp_set,
    "pdu-outlet": pdu_outlet,
    "nvml-power-limit": nvml_power_limit,
    "wait-metric": wait_metric,
    "miner-power": miner_power,
}


# ---- group actions ---------------------------------------------------------------


def truncate(text: str, limit: int = OUTPUT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit} characters cut]\n" + text[-limit:]


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if sys.platform != "win32":
            os.killpg(proc.pid, signal.SIGKILL)  # its children too: they share its session
        else:
            proc.kill()


async def command(io: DeviceIO, step: PlannedStep) -> tuple[bool, str, str]:
    """argv without a shell; exit 0 is success. Output (stdout + stderr) is
    captured and truncated; on timeout the whole process group is killed. On
    a leash (core/leash.py): it dies with this process, even by kill -9."""
    argv = list(step.params["argv"])
    env = {**os.environ, **step.params.get("env", {})}
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv_on_leash(argv), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=env,
            start_new_session=sys.platform != "win32")
    except OSError as exc:
        return False, f"cannot start {argv[0]}: {exc.strerror or exc}", ""
    chunks: list[bytes] = []

    async def read() -> None:
        assert proc.stdout is not None
        while data := await proc.stdout.read(65536):
            chunks.append(data)
            while sum(map(len, chunks)) > 4 * OUTPUT_LIMIT and len(chunks) > 1:
                chunks.pop(0)  # keep the tail: that is where errors are

    reader = asyncio.create_task(read())
    try:
        rc = await asyncio.wait_for(proc.wait(), step.timeout_s)
    except TimeoutError:
        _kill(proc)
        await proc.wait()
        reader.cancel()
        out = truncate(b"".join(chunks).decode(errors="replace"))
        return False, f"timed out after {step.timeout_s:g} s (killed)", out
    except asyncio.CancelledError:
        _kill(proc)
        raise
    # a daemon it started may hold the pipe open: do not wait for it
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(reader), 1.0)
    reader.cancel()
    out = truncate(b"".join(chunks).decode(errors="replace"))
    if rc == CANNOT_START and out.startswith(f"cannot start {argv[0]}: "):
        return False, out.strip(), ""  # the leash's one line, as when spawn fails here
    return rc == 0, f"exit {rc}", out


def _request(url: str, method: str) -> urllib.request.Request:
    """user:password@ in the URL becomes a Basic Authorization header
    (urllib would take it for part of the host)."""
    parts = urlsplit(url)
    if parts.username is None:
        return urllib.request.Request(url, method=method)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{parts.port}" if parts.port else ""
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    cred = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    return urllib.request.Request(clean, method=method, headers={
        "Authorization": "Basic " + base64.b64encode(cred).decode()})


def _http_status(url: str, method: str, timeout: float) -> int | str:
    req = _request(url, method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except urllib.error.URLError as exc:
        reason = exc.reason
        return getattr(reason, "strerror", None) or type(reason).__name__
    except (OSError, ValueError) as exc:
        return type(exc).__name__


async def http(io: DeviceIO, step: PlannedStep) -> tuple[bool, str, str]:
    """Request the URL until it answers the expected status, or time out."""
    url, method = step.params["url"], step.params.get("method", "GET")
    want = int(step.params.get("expect_status", 200))
    shown = redact_url(url)
    deadline = time.monotonic() + step.timeout_s
    while True:
        left = max(0.1, deadline - time.monotonic())
        got = await asyncio.to_thread(_http_status, url, method, min(5.0, left))
        if got == want:
            return True, f"{method} {shown}: {got}", ""
        last = f"HTTP {got}" if isinstance(got, int) else str(got)
        if time.monotonic() + _interval(step.timeout_s) > deadline:
            return (False, f"{method} {shown}: not {want} within {step.timeout_s:g} s "
                           f"(last: {last})", "")
        await asyncio.sleep(_interval(step.timeout_s))


GROUP_ACTIONS_RUN = {"command": command, "http": http}
EXECUTORS = Executors(device=DEVICE_ACTIONS, group=GROUP_ACTIONS_RUN)
