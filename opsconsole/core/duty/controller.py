"""DutyController: plan, execute, verify, recover and audit duty switches.

Runs on the collector loop (the one asyncio loop that owns device I/O); a GUI
calls it through `CollectorRuntime.submit(...)`. Progress callbacks run on
that loop's thread. `cancel()` may be called from any thread.

Rules enforced here, whatever the entry point:
- read-only refuses every mutation (and the refusal is audited);
- one switch per group at a time (in this process, and across processes
  through the journal's IMMEDIATE transaction);
- the budget check and admission happen under one site-wide lock, so two
  groups switching at once cannot both pass against the same headroom;
- every step's device results are journaled before the next step starts;
- journal (SQLite) work runs in a worker thread (`asyncio.to_thread`), never
  on the loop: another process may hold the file's write lock for up to the
  busy timeout, and polling must go on meanwhile. The sync methods (state,
  states, audit) are for callers off the loop, or through a thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opsconsole.core.duty import planner
from opsconsole.core.duty.executors import Executors
from opsconsole.core.duty.journal import Journal
from opsconsole.core.duty.model import (
    DEGRADED,
    DONE,
    INTERRUPTED,
    OK,
    REFUSED,
    RESUME,
    RETRY,
    ROLLBACK,
    STEP_FAILED,
    STEP_NOT_RUN,
    STEP_OK,
    STEP_PARTIAL,
    STEP_SKIPPED,
    SWITCH,
    DeviceResult,
    DutyError,
    GroupState,
    Plan,
    PlannedStep,
    ProgressEvent,
    StepResult,
    SwitchResult,
)
from opsconsole.core.site import DUTIES, Group, Site

log = logging.getLogger(__name__)

Progress = Callable[[ProgressEvent], None]
READ_ONLY = "read-only mode: duty switching is disabled (--read-only / --wall)"
GRACE_S = 5.0  # beyond a step's own timeout, before the controller gives up on it


@dataclass(slots=True)
class _Run:
    group: str
    switch_id: int
    cancelled: bool = False
    listeners: list[Progress] = field(default_factory=list)


class DutyController:
    def __init__(self, site: Site, journal: Journal, io: Any, *, executors: Executors,
                 read_only: bool = False, concurrency: int = 64) -> None:
        """`io`: the device access the executors use (a Poller), opaque here;
        `executors`: the step actions, from a layer above core
        (collectors/duty_actions.py EXECUTORS)."""
        self.site = site
        self.journal = journal
        self.io = io
        self.executors = executors
        self.read_only = read_only
        self.concurrency = max(1, min(concurrency, site.max_concurrency))
        self._runs: dict[str, _Run] = {}
        self._site_lock: asyncio.Lock | None = None
        self._listeners: list[Progress] = []
        # switches whose process died become interrupted at the first look,
        # not here: the constructor may run on a GUI thread, and recovery
        # writes (it may wait for another process's lock)
        self._recovered = False

    # -- state ------------------------------------------------------------------

    def group(self, group_id: str) -> Group:
        g = self.site.group(group_id)
        if g is None:
            known = ", ".join(g.id for g in self.site.groups)
            raise DutyError(f'unknown group "{group_id}" (groups: {known})')
        return g

    def state(self, group_id: str) -> GroupState:
        """The group's duty and status (ok | switching | degraded | interrupted)."""
        if not self._recovered:
            self._recover()
        return self.journal.group_state(group_id, self.group(group_id).duty)

    def states(self) -> dict[str, GroupState]:
        self._recover()
        return {g.id: self.state(g.id) for g in self.site.groups}

    def _recover(self) -> None:
        self.journal.recover()
        self._recovered = True

    def running(self, group_id: str) -> bool:
        return group_id in self._runs

    def add_listener(self, cb: Progress) -> None:
        """Progress of every switch (e.g. the GUI's tiles), beside per-call callbacks."""
        self._listeners.append(cb)

    def cancel(self, group_id: str) -> bool:
        """Stop the group's switch after its current step (thread-safe: a flag
        the loop reads between steps). The switch ends degraded."""
        run = self._runs.get(group_id)
        if run is None:
            return False
        run.cancelled = True
        return True

    def audit(self, group: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        return self.journal.audit(group, limit)

    # -- planning ---------------------------------------------------------------

    async def plan(self, group_id: str, duty: str,
                   measured_kw: Mapping[str, float] | None = None) -> Plan:
        """A new switch of `group_id` to `duty`. measured_kw: power now per group
        (kW) as the caller sees it (the GUI from its LiveStore); default:
        expected_kw of the group's journalled duty."""
        return await asyncio.to_thread(self._plan, group_id, duty, measured_kw)

    def _plan(self, group_id: str, duty: str, measured_kw: Mapping[str, float] | None) -> Plan:
        g = self.group(group_id)
        if duty not in DUTIES:
            raise DutyError(f'unknown duty "{duty}" (one of {", ".join(DUTIES)})')
        self._recover()
        st = self.state(group_id)
        plan = Plan(group_id, st.duty, duty, SWITCH, planner.full_steps(g, duty),
                    measured_kw=dict(measured_kw) if measured_kw is not None else None)
        if not g.duties.get(duty):
            plan.warnings.append(f'group {group_id} defines no steps for "{duty}": only the '
                                 "recorded duty changes")
        if st.status == INTERRUPTED:
            plan.refusals.append(self._interrupted_text(st))
        elif st.status == DEGRADED:
            plan.warnings.append(f"group {group_id} is degraded after switch #{st.switch_id} "
                                 f"({st.from_duty} -> {st.to_duty})")
        elif st.duty == duty:
            plan.warnings.append(f"group {group_id} is already in {duty}: its steps run again")
        self._check(plan)
        return plan

    async def plan_retry(self, group_id: str,
                         measured_kw: Mapping[str, float] | None = None) -> Plan:
        """Retry the failed devices (and unrun steps) of a degraded group."""
        return await asyncio.to_thread(self._plan_recovery, group_id, RETRY, measured_kw)

    async def plan_resume(self, group_id: str,
                          measured_kw: Mapping[str, float] | None = None) -> Plan:
        """Continue an interrupted switch from the step after the last completed one."""
        return await asyncio.to_thread(self._plan_recovery, group_id, RESUME, measured_kw)

    async def plan_rollback(self, group_id: str,
                            measured_kw: Mapping[str, float] | None = None) -> Plan:
        """Run the previous duty's steps (the `from` of the group's last switch)."""
        return await asyncio.to_thread(self._plan_recovery, group_id, ROLLBACK, measured_kw)

    def _plan_recovery(self, group_id: str, kind: str,
                       measured_kw: Mapping[str, float] | None) -> Plan:
        g = self.group(group_id)
        self._recover()
        st = self.state(group_id)
        parent = self.journal.switch(st.switch_id) if st.switch_id is not None else None
        measured = dict(measured_kw) if measured_kw is not None else None
        if parent is None:
            plan = Plan(group_id, st.duty, st.duty, kind, measured_kw=measured)
            plan.refusals.append(f"group {group_id} has no switch to {kind}")
            return plan
        if kind == ROLLBACK:
            plan = Plan(group_id, st.duty, parent["from_duty"], kind,
                        planner.full_steps(g, parent["from_duty"]), parent_id=parent["id"],
                        measured_kw=measured)
            self._check(plan)
            return plan
        want = INTERRUPTED if kind == RESUME else DEGRADED
        if st.status != want:  # no direction to show: the group stays where it is
            plan = Plan(group_id, st.duty, st.duty, kind, measured_kw=measured)
            plan.refusals.append(f"nothing to {kind}: group {group_id} is {st.status} in "
                                 f"{st.duty} (only a {want} group can {kind})")
            return plan
        plan = Plan(group_id, parent["from_duty"], parent["to_duty"], kind,
                    parent_id=parent["id"], measured_kw=measured)
        results = {s.pos: s for s in self.journal.step_results(parent["id"])}
        from_pos = parent["last_step"] + 1 if kind == RESUME else 0
        steps, carried, problem = planner.remaining_steps(
            g, parent, results, from_pos, f"{kind} of #{parent['id']}")
        if problem:
            plan.refusals.append(problem)
        plan.steps, plan.carried = steps, carried
        if carried:
            plan.warnings.append(f"{len(carried)} device(s) failed before step {from_pos + 1} "
                                 "and stay failed: retry them afterwards")
        self._check(plan)
        return plan

    def _interrupted_text(self, st: GroupState) -> str:
        return (f"group {st.group} is interrupted (switch #{st.switch_id} {st.from_duty} -> "
                f"{st.to_duty} stopped after step {st.last_step + 1} of {st.steps_total}): "
                "resume or roll back first")

    def _busy_text(self, group_id: str) -> str:
        for r in self.journal.running():
            if r["group_id"] == group_id:
                return (f"group {group_id}: a switch to {r['to_duty']} is in progress "
                        f"(started {r['started_at']} by {r['user']}@{r['host']}, "
                        f"pid {r['pid']})")
        return f"group {group_id}: a switch is in progress"

    # -- power ------------------------------------------------------------------

    def _power_now(self, g: Group, measured: Mapping[str, float] | None) -> tuple[float | None,
                                                                                  str]:
        if measured is not None and g.id in measured:
            return measured[g.id], "measured"
        st = self.journal.group_state(g.id, g.duty)
        if st.status == OK and st.duty in g.expected_kw:
            return g.expected_kw[st.duty], "expected"
        return None, "unknown"

    def _check(self, plan: Plan) -> None:
        """Power now -> after against the budget, with the other groups' draw
        (a group mid-switch counts at the higher of now and its target)."""
        # the dynamic refusals (tagged) are recomputed on every check
        plan.refusals = [r for r in plan.refusals if not r.startswith(("power: ", "busy: "))]
        g = self.group(plan.group)
        plan.device_count = len({d for s in plan.steps for d in s.devices})
        plan.power_now_kw, plan.power_now_source = self._power_now(g, plan.measured_kw)
        if plan.to_duty in g.expected_kw:
            plan.power_after_kw, plan.power_after_source = g.expected_kw[plan.to_duty], "expected"
        elif plan.to_duty == plan.from_duty and plan.power_now_kw is not None:
            plan.power_after_kw, plan.power_after_source = plan.power_now_kw, "estimate"
        else:
            plan.power_after_kw, plan.power_after_source = None, "unknown"
        busy = {r["group_id"]: r["plan"].get("power_after_kw") for r in self.journal.running()}
        if plan.group in busy or plan.group in self._runs:
            plan.refusals.append("busy: " + self._busy_text(plan.group))
        others, unknown = 0.0, []
        for og in self.site.groups:
            if og.id == plan.group:
                continue
            now, _ = self._power_now(og, plan.measured_kw)
            target = busy.get(og.id)
            vals = [v for v in (now, target) if v is not None]
            if vals:
                others += max(vals)
            else:
                unknown.append(og.id)
        plan.others_kw = others
        plan.budget_kw = self.site.power_budget_kw
        if unknown:
            plan.warnings.append(f"power of {', '.join(unknown)} unknown: counted as 0 kW")
        if plan.power_after_kw is None:
            plan.warnings.append(f"no expected_kw for {plan.to_duty} in group {plan.group}: "
                                 "power after the switch unknown, budget not checked")
            return
        total = plan.power_after_kw + others
        budget = plan.budget_kw
        if budget is None or total <= budget:
            return
        reduces = plan.power_now_kw is not None and plan.power_after_kw <= plan.power_now_kw
        text = (f"site power after the switch {total:.1f} kW ({plan.group} "
                f"{plan.power_after_kw:.1f} kW + other groups {others:.1f} kW) exceeds the "
                f"budget of {budget:g} kW by {total - budget:.1f} kW")
        if reduces:  # shedding load is always allowed, even over budget
            plan.warnings.append(text + " (the switch lowers the draw: allowed)")
        else:
            plan.refusals.append("power: " + text)

    # -- execution --------------------------------------------------------------

    async def switch(self, group_id: str, duty: str, on_progress: Progress | None = None,
                     measured_kw: Mapping[str, float] | None = None) -> SwitchResult:
        return await self.execute(await self.plan(group_id, duty, measured_kw), on_progress)

    async def retry(self, group_id: str, on_progress: Progress | None = None) -> SwitchResult:
        return await self.execute(await self.plan_retry(group_id), on_progress)

    async def resume(self, group_id: str, on_progress: Progress | None = None) -> SwitchResult:
        return await self.execute(await self.plan_resume(group_id), on_progress)

    async def rollback(self, group_id: str, on_progress: Progress | None = None) -> SwitchResult:
        return await self.execute(await self.plan_rollback(group_id), on_progress)

    async def refuse(self, plan: Plan, reason: str) -> SwitchResult:
        """Record a refusal in the audit (also used by callers: no confirmation)."""
        sid = await asyncio.to_thread(self.journal.refuse, plan, reason)
        res = SwitchResult(plan, REFUSED, sid, message=reason)
        self._emit(None, ProgressEvent("done", plan.group, sid, outcome=REFUSED, message=reason))
        return res

    async def execute(self, plan: Plan, on_progress: Progress | None = None) -> SwitchResult:
        """Run a plan: DONE, DEGRADED (some device or step failed, or cancelled),
        or REFUSED (read-only, budget, busy, interrupted...). Never raises for
        device trouble."""
        if self.read_only:
            return await self.refuse(plan, READ_ONLY)
        if self._site_lock is None:
            self._site_lock = asyncio.Lock()
        async with self._site_lock:
            sid = await asyncio.to_thread(self._admit, plan)
            if isinstance(sid, str):
                return await self.refuse(plan, sid)
            run = _Run(plan.group, sid, listeners=[on_progress] if on_progress else [])
            self._runs[plan.group] = run
        try:
            return await self._run(plan, run)
        except asyncio.CancelledError:
            # the console is closing (the loop serves nothing else now): the
            # journal shows it interrupted at next look
            self.journal.abandon(sid)
            raise
        finally:
            self._runs.pop(plan.group, None)

    def _admit(self, plan: Plan) -> int | str:
        """The switch id, or why not (journal work: run off the loop)."""
        st = self.state(plan.group)
        if st.status == INTERRUPTED and plan.kind not in (RESUME, ROLLBACK):
            plan.refusals = [*plan.refusals, self._interrupted_text(st)]
        self._check(plan)  # fresh numbers: the plan may be minutes old
        if plan.refusals:
            return "; ".join(dict.fromkeys(plan.refusals))
        return self.journal.begin(plan, self.group(plan.group).duty)

    def _emit(self, run: _Run | None, ev: ProgressEvent) -> None:
        for cb in [*(run.listeners if run else []), *self._listeners]:
            try:
                cb(ev)
            except Exception:  # a broken view must not break a switch
                log.exception("duty progress callback failed")

    async def _run(self, plan: Plan, run: _Run) -> SwitchResult:
        sid, n = run.switch_id, len(plan.steps)
        self._emit(run, ProgressEvent("plan-start", plan.group, sid, steps_total=n,
                                      message=f"{plan.from_duty} -> {plan.to_duty}"))
        failed = {c.device for c in plan.carried}
        results: list[StepResult] = []
        stop = ""
        for pos, step in enumerate(plan.steps):
            if not stop and run.cancelled:
                stop = f"cancelled by the operator after step {pos} of {n}"
            if stop:
                st = StepResult(pos, step.index, step.action, STEP_NOT_RUN, stop)
                await asyncio.to_thread(self.journal.step_end, sid, st)
                results.append(st)
                continue
            await asyncio.to_thread(self.journal.step_start, sid, pos, step.index, step.action)
            self._emit(run, ProgressEvent("step-start", plan.group, sid, pos, n, step.action,
                                          message=step.describe()))
            st = await self._step(plan, run, pos, step, failed)
            await asyncio.to_thread(self.journal.step_end, sid, st)
            self._emit(run, ProgressEvent("step-end", plan.group, sid, pos, n, step.action,
                                          ok=st.status == STEP_OK, message=st.message))
            results.append(st)
            if st.status == STEP_FAILED:
                stop = f"not run: step {pos + 1} ({step.action}) failed"
        res = SwitchResult(plan, DONE, sid, results, cancelled=run.cancelled and bool(stop))
        if stop or res.failures:
            res.outcome = DEGRADED
            names = [f.device for f in res.failures]
            parts = [stop] if stop else []
            if names:
                parts.append(f"failed: {', '.join(names)}")
            res.message = "; ".join(parts)
        else:
            res.message = f"{plan.group} is now in {plan.to_duty}"
        await asyncio.to_thread(self.journal.finish, sid, res.outcome, res.message)
        self._emit(run, ProgressEvent("done", plan.group, sid, steps_total=n,
                                      outcome=res.outcome, message=res.message))
        return res

    async def _step(self, plan: Plan, run: _Run, pos: int, step: PlannedStep,
                    failed: set[str]) -> StepResult:
        st = StepResult(pos, step.index, step.action)
        limit = step.timeout_s + GRACE_S
        if step.group_level:
            fn = self.executors.group[step.action]
            try:
                ok, st.message, st.output = await asyncio.wait_for(fn(self.io, step), limit)
            except TimeoutError:
                ok, st.message = False, f"timed out after {step.timeout_s:g} s"
            except Exception as exc:
                log.exception("duty step %s failed", step.action)
                ok, st.message = False, f"internal error: {type(exc).__name__}: {exc}"
            st.status = STEP_OK if ok else STEP_FAILED
            return st
        act = self.executors.device[step.action]
        sem = asyncio.Semaphore(self.concurrency)
        sid = run.switch_id

        async def record(r: DeviceResult) -> DeviceResult:
            await asyncio.to_thread(self.journal.device_result, sid, pos, r)
            self._emit(run, ProgressEvent("device", plan.group, sid, pos, len(plan.steps),
                                          step.action, r.device, r.ok, r.message))
            return r

        async def one(device_id: str) -> DeviceResult:
            dev = self.site.device(device_id)
            if dev is None:
                return await record(DeviceResult(device_id, False,
                                                  "not in the site file any more"))
            async with sem:
                try:
                    r = await asyncio.wait_for(act(self.io, step, dev), limit)
                except TimeoutError:
                    r = DeviceResult(device_id, False, f"timed out after {step.timeout_s:g} s")
                except Exception as exc:
                    log.exception("duty action %s on %s failed", step.action, device_id)
                    r = DeviceResult(device_id, False,
                                     f"internal error: {type(exc).__name__}: {exc}")
            return await record(r)

        todo = [d for d in step.devices if d not in failed]
        st.devices = [await record(DeviceResult(d, False, planner.SKIPPED))
                      for d in step.devices if d in failed]
        done = list(await asyncio.gather(*(one(d) for d in todo)))
        st.devices += done
        bad = [r.device for r in done if not r.ok]
        failed.update(bad)
        if not todo:
            st.status, st.message = STEP_SKIPPED, "every target failed earlier"
        else:
            skipped = len(step.devices) - len(todo)
            st.message = f"{len(todo) - len(bad)} of {len(step.devices)} ok" + (
                f" ({skipped} skipped: failed earlier)" if skipped else "")
            st.status = (STEP_FAILED if len(bad) == len(todo)
                         else STEP_PARTIAL if bad or skipped else STEP_OK)
        return st
