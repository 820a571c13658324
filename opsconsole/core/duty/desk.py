"""The duty desk: what `duty plan|set|retry|resume|rollback|approve|reject`
do, in one place for the local CLI and the site service, around one
DutyController: planning, the two-person rule (core.duty.approvals), running
as a named user, and the audit rows for requests, approvals and rejections.

The caller prints and confirms; the desk decides and records. Every outcome
carries the contract's exit code (0 done, 3 degraded, 4 refused).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opsconsole.core.duty.approvals import (
    APPROVED,
    PENDING,
    REJECTED,
    Approvals,
    approval_reason,
)
from opsconsole.core.duty.controller import DutyController, Progress
from opsconsole.core.duty.model import ROLLBACK, SWITCH, Plan, SwitchResult

KINDS = ("switch", "retry", "resume", "rollback")
REQUESTED = "requested"  # audit outcome of a switch kept for approval
REJECTED_OUTCOME = "rejected"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: the OS user and host locally; the token's user and the
    client's address through the service."""

    user: str
    host: str


@dataclass(slots=True)
class Outcome:
    exit_code: int
    result: SwitchResult | None = None
    request: dict[str, Any] | None = None  # the approval request made or acted on
    message: str = ""  # why nothing ran (refusal, needs approval), or what happened

    def public(self) -> dict[str, Any]:
        r = self.result
        return {
            "exit_code": self.exit_code,
            "message": self.message,
            "request": self.request,
            "result": None if r is None else {
                "outcome": r.outcome, "switch_id": r.switch_id, "message": r.message,
                "failures": [{"device": f.device, "message": f.message} for f in r.failures],
            },
        }


class DeskError(Exception):
    """A request that does not exist (exit 2), or one that cannot be acted on (exit 4)."""

    def __init__(self, message: str, exit_code: int = 4):
        super().__init__(message)
        self.exit_code = exit_code


class DutyDesk:
    def __init__(self, ctl: DutyController, approvals: Approvals | None = None,
                 measure: Callable[[], dict[str, float]] | None = None) -> None:
        """`measure`: power now per group (kW) when a caller gives none (the
        service's live store); else the controller's expected_kw."""
        self.ctl = ctl
        self.site = ctl.site
        self.approvals = approvals
        self.measure = measure
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    def add_listener(self, cb: Callable[[dict[str, Any]], None]) -> None:
        """Called with every request that was made or decided (the push stream)."""
        self._listeners.append(cb)

    def _tell(self, req: dict[str, Any] | None) -> None:
        if req is None:
            return
        for cb in self._listeners:
            cb(req)

    def _measured(self, given: Mapping[str, float] | None) -> Mapping[str, float] | None:
        return given if given is not None or self.measure is None else self.measure()

    async def plan(self, kind: str, group: str, duty: str | None = None,
                   measured_kw: Mapping[str, float] | None = None) -> Plan:
        measured_kw = self._measured(measured_kw)
        if kind == SWITCH:
            assert duty is not None
            return await self.ctl.plan(group, duty, measured_kw)
        fn = {"retry": self.ctl.plan_retry, "resume": self.ctl.plan_resume,
              ROLLBACK: self.ctl.plan_rollback}[kind]
        return await fn(group, measured_kw)

    def approval_reason(self, plan: Plan) -> str | None:
        if self.approvals is None:
            return None
        return approval_reason(self.site, plan)

    async def run(self, plan: Plan, actor: Actor, on_progress: Progress | None = None,
                  refuse: str | None = None) -> Outcome:
        """Run (or refuse, or keep for approval) a plan as `actor`. `refuse`:
        the caller's reason not to go on (no confirmation), audited."""
        plan.user, plan.host = actor.user, actor.host
        if refuse is not None:
            res = await self.ctl.refuse(plan, refuse)
            return Outcome(res.exit_code, res, message=refuse)
        if plan.refusals or self.ctl.read_only:
            res = await self.ctl.execute(plan)  # refuses, and the refusal is audited
            return Outcome(res.exit_code, res, message=res.message)
        why = self.approval_reason(plan)
        if why is not None:
            return await asyncio.to_thread(self._request, plan, actor, why)
        res = await self.ctl.execute(plan, on_progress)
        return Outcome(res.exit_code, res, message=res.message)

    def _request(self, plan: Plan, actor: Actor, why: str) -> Outcome:
        """SQLite work: callers on a loop run it in a thread."""
        assert self.approvals is not None
        req = self.approvals.create(plan, actor.user, actor.host, self.site.approval_ttl_s)
        rid = req["id"]
        text = f"needs approval: opsconsole duty approve {rid}"
        aid = self.ctl.journal.note(plan, REQUESTED, f"request #{rid}: {why}; {text}")
        self.approvals.set_audit(rid, audit_id=aid)
        made = self.approvals.get(rid)
        self._tell(made)
        return Outcome(4, request=made, message=text)

    # -- the second person ------------------------------------------------------

    async def requests(self) -> list[dict[str, Any]]:
        if self.approvals is None:
            return []
        return await asyncio.to_thread(self.approvals.pending)

    def _pending(self, rid: int, actor: Actor, acting: str) -> dict[str, Any]:
        if self.approvals is None:
            raise DeskError("no approval requests here ([site] approval_kw is not set)", 2)
        expired = self.approvals.expire()
        req = self.approvals.get(rid)
        if req is None:
            raise DeskError(f"no approval request #{rid}", 2)
        if rid in expired:
            self._tell(req)
        if req["status"] != PENDING:
            raise DeskError(f"request #{rid} is {req['status']}, not pending")
        if acting == "approve" and req["user"] == actor.user:
            text = (f"nobody approves their own request: #{rid} was made by "
                    f"{req['user']}; another operator must approve it")
            # the refused attempt is audited like any other refusal
            self.ctl.journal.refuse(self._decision_plan(req, actor, "self_approval_refused"),
                                    text)
            raise DeskError(text)
        return req

    @staticmethod
    def _decision_plan(req: dict[str, Any], actor: Actor, decision: str) -> Plan:
        """The request's switch as an audit row of `actor`'s decision on it."""
        rid = req["id"]
        return Plan(req["group"], req["from"], req["to"], SWITCH, user=actor.user,
                    host=actor.host,
                    approval={"request": rid, "requested_by": f"{req['user']}@{req['host']}",
                              decision: f"{actor.user}@{actor.host}"})

    async def plan_approval(self, rid: int, actor: Actor,
                            measured_kw: Mapping[str, float] | None = None
                            ) -> tuple[dict[str, Any], Plan]:
        """The request and a fresh plan of its switch, checked for `actor`
        (raises DeskError: unknown, not pending, expired, their own)."""
        req = await asyncio.to_thread(self._pending, rid, actor, "approve")
        plan = await self.ctl.plan(req["group"], req["to"], self._measured(measured_kw))
        plan.approval = {"request": rid, "requested_by": f"{req['user']}@{req['host']}",
                         "approved_by": f"{actor.user}@{actor.host}"}
        return req, plan

    async def approve(self, rid: int, plan: Plan, actor: Actor,
                      on_progress: Progress | None = None,
                      refuse: str | None = None) -> Outcome:
        """Carry out request `rid` with `plan` (from plan_approval) as `actor`."""
        req = await asyncio.to_thread(self._pending, rid, actor, "approve")
        plan.user, plan.host = actor.user, actor.host
        if refuse is not None or plan.refusals or self.ctl.read_only:
            out = await self.run(plan, actor, refuse=refuse)  # audited; request stays pending
            out.request = req
            return out
        approvals = self.approvals
        assert approvals is not None
        if not await asyncio.to_thread(approvals.decide, rid, APPROVED, actor.user, actor.host):
            raise DeskError(f"request #{rid} is no longer pending")
        self._tell(await asyncio.to_thread(approvals.get, rid))
        res = await self.ctl.execute(plan, on_progress)
        if res.switch_id is not None:
            await asyncio.to_thread(approvals.set_audit, rid, None, res.switch_id)
        return Outcome(res.exit_code, res, request=await asyncio.to_thread(approvals.get, rid),
                       message=res.message)

    async def reject(self, rid: int, actor: Actor, comment: str = "") -> Outcome:
        return await asyncio.to_thread(self._reject, rid, actor, comment)

    def _reject(self, rid: int, actor: Actor, comment: str) -> Outcome:
        req = self._pending(rid, actor, "reject")
        assert self.approvals is not None
        if not self.approvals.decide(rid, REJECTED, actor.user, actor.host, comment):
            raise DeskError(f"request #{rid} is no longer pending")
        plan = self._decision_plan(req, actor, "rejected_by")
        text = f"request #{rid} rejected by {actor.user}" + (f": {comment}" if comment else "")
        self.ctl.journal.note(plan, REJECTED_OUTCOME, text)
        decided = self.approvals.get(rid)
        self._tell(decided)
        return Outcome(0, request=decided, message=text)
