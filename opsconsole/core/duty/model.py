"""Shapes of duty switching: plans, progress events, results, group states.

Plain data, no I/O: the GUI, the CLI and the journal all speak these."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opsconsole.core.duty.steps import ACTIONS

# what a switch is (a new duty, or a recovery of an earlier switch)
SWITCH, RETRY, RESUME, ROLLBACK = "switch", "retry", "resume", "rollback"
KINDS = (SWITCH, RETRY, RESUME, ROLLBACK)

# outcomes of an execute() call
DONE, DEGRADED, REFUSED = "done", "degraded", "refused"

# group status (GroupState.status)
OK, SWITCHING, INTERRUPTED = "ok", "switching", "interrupted"

# step status
STEP_OK, STEP_PARTIAL, STEP_FAILED, STEP_SKIPPED, STEP_NOT_RUN = (
    "ok", "partial", "failed", "skipped", "not_run")

# act once for the group, not per device
GROUP_ACTIONS = tuple(a.name for a in ACTIONS.values() if a.group_level)

EXIT_CODES = {DONE: 0, DEGRADED: 3, REFUSED: 4}


class DutyError(Exception):
    """A request that makes no sense (unknown group or duty): bad usage."""


def redact_url(url: str) -> str:
    """scheme://host:port/path: user info, query and fragment may carry tokens."""
    try:
        p = urlsplit(url)
        host = p.hostname or ""
        netloc = f"{host}:{p.port}" if p.port else host
        return urlunsplit((p.scheme, netloc, p.path, "", ""))
    except ValueError:
        return "<url>"


def public_params(action: str, params: dict[str, Any]) -> dict[str, Any]:
    """A step's parameters fit for the audit and the screen: env values and
    URL secrets never leave the site file."""
    out = dict(params)
    if "env" in out:
        out["env"] = sorted(out["env"])  # names only
    if "url" in out:
        out["url"] = redact_url(out["url"])
    if "argv" in out:
        out["argv"] = list(out["argv"])
    return out


@dataclass(frozen=True, slots=True)
class PlannedStep:
    index: int  # the step's index in the duty's list in the site file
    action: str
    params: dict[str, Any]  # as validated from the site file (may hold secrets: env)
    devices: tuple[str, ...]  # device ids acted on; () for group-level actions
    timeout_s: float
    note: str = ""  # e.g. "retry: 2 devices"

    @property
    def group_level(self) -> bool:
        return self.action in GROUP_ACTIONS

    def describe(self) -> str:
        """One line for a preview, never a secret."""
        p = public_params(self.action, self.params)
        what = {
            "snmp-set": f"set control {p.get('control')!r}",
            "pdu-outlet": f"outlet {p.get('state')}",
            "nvml-power-limit": f"power limit {p.get('watts', 0):g} W",
            "command": "run " + " ".join(p.get("argv", [])),
            "http": f"{p.get('method', 'GET')} {p.get('url')} until {p.get('expect_status', 200)}",
            "wait-metric": f"wait for {p.get('metric')} {p.get('op')} {p.get('value')}",
            "miner-power": f"miners {p.get('state')}",
        }.get(self.action, self.action)
        who = "" if self.group_level else f" on {len(self.devices)} device(s)"
        note = f" ({self.note})" if self.note else ""
        return f"{self.action}: {what}{who}, timeout {self.timeout_s:g} s{note}"

    def public(self) -> dict[str, Any]:
        return {"index": self.index, "action": self.action,
                "params": public_params(self.action, self.params),
                "devices": list(self.devices), "timeout_s": self.timeout_s, "note": self.note}


@dataclass(frozen=True, slots=True)
class DeviceResult:
    device: str
    ok: bool
    message: str


@dataclass(slots=True)
class Plan:
    """What a switch would do. `refusals` non-empty: execute() refuses it."""

    group: str
    from_duty: str
    to_duty: str
    kind: str = SWITCH
    steps: list[PlannedStep] = field(default_factory=list)
    device_count: int = 0  # distinct devices acted on
    power_now_kw: float | None = None  # this group, now
    power_now_source: str = "unknown"  # measured | expected | unknown
    power_after_kw: float | None = None  # this group, after the switch
    power_after_source: str = "unknown"  # expected | estimate | unknown
    others_kw: float | None = None  # every other group, now (or after, if switching)
    budget_kw: float | None = None
    warnings: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    parent_id: int | None = None  # the switch a retry / resume / rollback continues
    carried: list[DeviceResult] = field(default_factory=list)  # failures inherited (resume)
    measured_kw: dict[str, float] | None = field(default=None, repr=False)  # caller's readings
    # who asks (the audit's user and host): None is this process's OS user and host;
    # the site service sets the token's user and the client's address
    user: str | None = field(default=None, repr=False)
    host: str | None = field(default=None, repr=False)
    approval: dict[str, Any] | None = None  # two-person rule: the request this run carries out

    @property
    def power_change_kw(self) -> float | None:
        """How much the group's draw moves (kW, absolute); None when unknown."""
        if self.power_now_kw is None or self.power_after_kw is None:
            return None
        return abs(self.power_after_kw - self.power_now_kw)

    @property
    def ok(self) -> bool:
        return not self.refusals

    @property
    def site_after_kw(self) -> float | None:
        if self.power_after_kw is None or self.others_kw is None:
            return None
        return self.power_after_kw + self.others_kw

    def public(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items()
             if k not in ("steps", "carried", "measured_kw", "user", "host")}
        d["steps"] = [s.public() for s in self.steps]
        d["carried"] = [asdict(c) for c in self.carried]
        d["site_after_kw"] = self.site_after_kw
        return d

    def summary_lines(self) -> list[str]:
        """A plain-text preview (the CLI prints it; the GUI may show it)."""
        def kw(v: float | None) -> str:
            return "?" if v is None else f"{v:.1f} kW"

        lines = [f"{self.kind} {self.group}: {self.from_duty} -> {self.to_duty}, "
                 f"{len(self.steps)} step(s), {self.device_count} device(s)"]
        lines.append(f"  power: {kw(self.power_now_kw)} ({self.power_now_source}) -> "
                     f"{kw(self.power_after_kw)} ({self.power_after_source}); other groups "
                     f"{kw(self.others_kw)}; site after {kw(self.site_after_kw)}"
                     f" of budget {kw(self.budget_kw) if self.budget_kw is not None else 'none'}")
        for i, s in enumerate(self.steps):
            lines.append(f"  {i + 1}. {s.describe()}")
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  REFUSED: {r}" for r in self.refusals]
        return lines


@dataclass(slots=True)
class StepResult:
    pos: int  # position in the plan
    index: int  # index in the site file's duty list
    action: str
    status: str = STEP_NOT_RUN
    message: str = ""
    output: str = ""  # command output, truncated
    devices: list[DeviceResult] = field(default_factory=list)


@dataclass(slots=True)
class SwitchResult:
    plan: Plan
    outcome: str  # done | degraded | refused
    switch_id: int | None = None
    steps: list[StepResult] = field(default_factory=list)
    cancelled: bool = False
    message: str = ""

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]

    @property
    def failures(self) -> list[DeviceResult]:
        """The first failure of each device (its cause, not the later skips),
        plus failed group-level steps under the name "(group)"."""
        seen: dict[str, DeviceResult] = {c.device: c for c in self.plan.carried}
        for st in self.steps:
            if st.status == STEP_FAILED and not st.devices:
                seen.setdefault(f"(step {st.pos + 1} {st.action})",
                                DeviceResult(f"(step {st.pos + 1} {st.action})", False, st.message))
            for d in st.devices:
                if not d.ok:
                    seen.setdefault(d.device, d)
        return list(seen.values())


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """Sent to progress callbacks on the collector loop's thread (a GUI turns
    them into queued signals). kind: plan-start | step-start | device |
    step-end | done."""

    kind: str
    group: str
    switch_id: int | None
    pos: int | None = None  # step position in the plan
    steps_total: int = 0
    action: str = ""
    device: str | None = None
    ok: bool | None = None
    message: str = ""
    outcome: str | None = None  # with kind "done"


@dataclass(frozen=True, slots=True)
class GroupState:
    group: str
    duty: str  # the duty entered last (or being entered)
    status: str  # ok | switching | degraded | interrupted
    switch_id: int | None = None
    from_duty: str | None = None
    to_duty: str | None = None
    last_step: int = -1  # position of the last completed step of that switch
    steps_total: int = 0
    updated_at: str | None = None

    @property
    def label(self) -> str:
        """What a tile shows: the duty, or the unfinished state."""
        if self.status == OK:
            return self.duty
        if self.status == INTERRUPTED:
            return (f"interrupted ({self.from_duty} -> {self.to_duty}, after step "
                    f"{self.last_step + 1} of {self.steps_total})")
        return f"{self.status} ({self.from_duty} -> {self.to_duty})"
