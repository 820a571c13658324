"""The GUI connected to a site service: a runtime with the CollectorRuntime's
interface (start, stop, site, submit, duty_controller) that polls nothing.

The service polls, writes history, evaluates alarms and runs switches. This
runtime keeps the client (opsconsole.client.ClientRunner, its own thread)
and turns the push stream into what the GUI already takes: the snapshot and
each `readings` message become Reading batches for the session's LiveStore
replica, `cycle` becomes CycleStats. Everything else (alarms, events, duty
states, two-person requests, the link going down or up) is handed to the GUI
thread through `extras` (a Handoff) for the window to apply.

RemoteDutyController answers the duty GUI (ui/duty) the way DutyController
does, over the API: plans and runs go to the service, progress comes from the
stream, group states from the service's `groups` messages.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from opsconsole.client import ApiError, ClientRunner, SiteClient
from opsconsole.collectors.poller import CycleStats
from opsconsole.core.duty.model import (
    REFUSED,
    STEP_FAILED,
    DeviceResult,
    GroupState,
    Plan,
    ProgressEvent,
    StepResult,
    SwitchResult,
)
from opsconsole.core.readings import Reading
from opsconsole.core.site import Site
from opsconsole.core.wire import (
    alarm_from_dict,
    collected_ts,
    event_from_dict,
    group_state_from_dict,
    iso_ts,
    plan_from_public,
    progress_from_dict,
    reading_from_entry,
    site_from_doc,
)
from opsconsole.ui.handoff import Handoff
from opsconsole.ui.session import tune_interpreter

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0  # the site model; a service still on its first pass answers at once
OPERATOR_ROLES = ("operator", "admin")


def remote_factory(url: str, token: str, ca_file: Path | None = None
                   ) -> Callable[..., RemoteRuntime]:
    """A runtime factory for CollectorBridge (its site and demo arguments unused);
    `ca_file`: the certificate an https:// service is trusted by (--ca-file)."""
    return functools.partial(RemoteRuntime, url=url, token=token, ca_file=ca_file)


class RemoteRuntime:
    def __init__(self, site: Site | None, on_batch: Callable[[list[Reading]], None],
                 on_cycle: Callable[[CycleStats], None], *, url: str, token: str,
                 ca_file: Path | None = None, demo_site: Any = None,
                 batch_interval_s: float = 0.5) -> None:
        self.url = url
        self._token = token
        self._ca_file = ca_file
        self.on_batch = on_batch
        self.on_cycle = on_cycle
        self.site: Site | None = None
        self.user = ""
        self.role = ""
        self.read_only = True  # until the service says this token may act
        self.extras = Handoff()  # dict messages for the GUI thread (created on it)
        self.extras.held = True  # until the window's ReplicaFeed takes them
        self.states: dict[str, GroupState] = {}
        self.requests: dict[int, dict[str, Any]] = {}
        self.runner: ClientRunner | None = None
        self.adopted = False  # (embedded) another window's service
        self.controller: RemoteDutyController | None = None
        self._lock = threading.Lock()
        self._early: list[dict[str, Any]] = []  # stream messages before the site is known
        self._stopped = False
        # from now on the client's thread decodes megabytes beside the GUI thread:
        # the GUI's GIL settings apply before the first frame, not once the site is here
        tune_interpreter()

    # -- life ----------------------------------------------------------------------------
    def start(self) -> None:
        """Blocks (the bridge calls it on a helper thread) until the site model is
        here; raises ApiError with one line when the service cannot be used."""
        self.runner = ClientRunner(self.url, self._token, self._on_message, self._on_state,
                                   ca_file=self._ca_file)
        self.runner.start()
        try:
            who, doc = self.runner.submit(_whoami_and_site).result(START_TIMEOUT_S)
            site = site_from_doc(doc)
        except BaseException:
            self.runner.stop()
            raise
        self.user, self.role = str(who.get("user", "")), str(who.get("role", ""))
        self.read_only = self.role not in OPERATOR_ROLES
        with self._lock:
            self.site = site
            early, self._early = self._early, []
        for msg in early:
            self._handle(msg)

    def stop(self) -> None:
        self._stopped = True
        self.extras.close()
        if self.runner is not None:
            self.runner.stop()

    @property
    def running(self) -> bool:
        return self.runner is not None and not self._stopped and self.runner.error is None

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future:
        if self.runner is None or self.runner.loop is None or self._stopped:
            coro.close()
            raise RuntimeError("not connected to the site service")
        return asyncio.run_coroutine_threadsafe(coro, self.runner.loop)

    def call(self, fn: Callable[[SiteClient], Coroutine[Any, Any, Any]]) -> Future:
        """Any client call on the runner's loop."""
        if self.runner is None or self._stopped:
            raise RuntimeError("not connected to the site service")
        return self.runner.submit(fn)

    def duty_controller(self, data_dir: Any = None, *, read_only: bool = False
                        ) -> RemoteDutyController:
        if self.controller is None:
            self.controller = RemoteDutyController(self, read_only or self.read_only)
        return self.controller

    # -- the stream (runner thread) ---------------------------------------------------------
    def _on_state(self, connected: bool, since: float) -> None:
        error = self.runner.error if self.runner is not None else None
        self.extras.put({"type": "link", "connected": connected, "since": since,
                         "error": str(error) if error is not None else ""})

    def _on_message(self, msg: dict[str, Any]) -> None:
        with self._lock:
            if self.site is None:
                self._early.append(msg)
                return
        self._handle(msg)

    def _handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "snapshot":
            poll = msg.get("poll") or {}
            ts = collected_ts(poll) or time.time()
            self._duty_states(msg.get("duty") or [])
            self.requests = {int(r["id"]): r for r in msg.get("requests") or []}
            self.extras.put(_prepared({k: v for k, v in msg.items() if k != "poll"}))
            self.on_batch([reading_from_entry(e, ts) for e in poll.get("devices") or []])
        elif kind == "readings":
            now = time.time()
            self.on_batch([reading_from_entry(e, now) for e in msg.get("devices") or []])
        elif kind == "cycle":
            self.on_cycle(CycleStats(
                cycle=int(msg.get("cycle") or 0),
                started=time.time() - float(msg.get("duration_s") or 0.0),
                duration_s=float(msg.get("duration_s") or 0.0),
                polled=int(msg.get("polled") or 0), skipped=int(msg.get("skipped") or 0),
                late=int(msg.get("late") or 0), counts=dict(msg.get("counts") or {})))
        else:
            if kind == "groups":
                self._duty_states(msg.get("groups") or [])
            elif kind == "request":
                req = msg.get("request") or {}
                if "id" in req:
                    self.requests[int(req["id"])] = req
            elif kind == "duty" and self.controller is not None:
                self.controller.tell(progress_from_dict(msg.get("event") or {}))
            self.extras.put(_prepared(msg))

    def _duty_states(self, docs: list[dict[str, Any]]) -> None:
        self.states = {s.group: s for s in (group_state_from_dict(d) for d in docs)}

    def pending_requests(self) -> list[dict[str, Any]]:
        now = time.time()
        return sorted((r for r in self.requests.values() if r.get("status") == "pending"
                       and (iso_ts(r.get("expires_at")) or now + 1) > now),
                      key=lambda r: r["id"])


async def _whoami_and_site(client: SiteClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both at once: the site model takes the service a while at 20,000 devices."""
    who, doc = await asyncio.gather(client.whoami(), client.site_model())
    return who, doc


def _prepared(msg: dict[str, Any]) -> dict[str, Any]:
    """The message with its alarms and events already made objects: done here,
    on the client's thread, so the GUI thread only applies them (a snapshot
    of a 20,000-device site carries 2,000 alarms)."""
    if "alarms" in msg:
        msg["alarms"] = [alarm_from_dict(a) for a in msg.get("alarms") or []]
    if "events" in msg:
        msg["events"] = [event_from_dict(e) for e in msg.get("events") or []]
    return msg


class RemoteDutyController:
    """DutyController's face for ui/duty, answered by the site service."""

    def __init__(self, runtime: RemoteRuntime, read_only: bool) -> None:
        self.runtime = runtime
        assert runtime.site is not None
        self.site: Site = runtime.site
        self.read_only = read_only
        self.journal = _NoJournal()  # the service keeps it
        self._listeners: list[Callable[[ProgressEvent], None]] = []
        self.last_request: dict[str, Any] | None = None  # the two-person request a run made

    def add_listener(self, cb: Callable[[ProgressEvent], None]) -> None:
        self._listeners.append(cb)

    def tell(self, ev: ProgressEvent) -> None:
        for cb in list(self._listeners):
            try:
                cb(ev)
            except Exception:  # one listener must not starve the others
                log.exception("duty progress listener failed")

    # -- reads (called in worker threads by ui/duty) ---------------------------------------------
    def states(self) -> dict[str, GroupState]:
        return dict(self.runtime.states)

    def audit(self, group: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        doc = self.runtime.call(lambda c: c.audit(group, limit)).result(START_TIMEOUT_S)
        return list(doc.get("records") or [])

    def cancel(self, group: str) -> bool:
        self.runtime.call(lambda c: c.duty_cancel(group))
        return True

    # -- plans and runs (coroutines on the runner's loop) ----------------------------------------
    async def _plan(self, kind: str, group: str, duty: str | None) -> Plan:
        client = self._client()
        doc = await client.duty_plan(group, duty, kind)
        plan = plan_from_public(doc["plan"])
        why = doc.get("needs_approval")
        if why and plan.ok:  # the two-person rule: said before anyone presses Execute
            plan.approval = {"needs_approval": why}
            plan.warnings.append(f"Needs a second person's approval ({why}): Execute creates "
                                 "a request that another operator approves or rejects "
                                 "(Requests tab)")
        return plan

    async def plan(self, group: str, duty: str,
                   measured_kw: Mapping[str, float] | None = None) -> Plan:
        return await self._plan("switch", group, duty)

    async def plan_retry(self, group: str, measured_kw: Mapping[str, float] | None = None
                         ) -> Plan:
        return await self._plan("retry", group, None)

    async def plan_resume(self, group: str, measured_kw: Mapping[str, float] | None = None
                          ) -> Plan:
        return await self._plan("resume", group, None)

    async def plan_rollback(self, group: str, measured_kw: Mapping[str, float] | None = None
                            ) -> Plan:
        return await self._plan("rollback", group, None)

    async def execute(self, plan: Plan) -> SwitchResult:
        """Run it on the service; progress arrives on the stream like any switch's."""
        duty = plan.to_duty if plan.kind == "switch" else None
        return await self._outcome(plan, self._client().duty_run(plan.group, duty, plan.kind))

    async def approve(self, rid: int, plan: Plan) -> SwitchResult:
        return await self._outcome(plan, self._client().approve(rid))

    async def _outcome(self, plan: Plan, lines: AsyncIterator[dict[str, Any]]) -> SwitchResult:
        self.last_request = None
        result = SwitchResult(plan, REFUSED, message="the service sent no outcome")
        async for line in lines:
            if line.get("type") == "error":
                raise ApiError(str(line.get("error") or line.get("message") or "switch failed"))
            if line.get("type") != "outcome":
                continue
            doc = line.get("result") or {}
            self.last_request = line.get("request")
            if self.last_request is not None and not line.get("result"):
                plan.approval = {**(plan.approval or {}), "request": self.last_request}
            message = str(line.get("message") or doc.get("message") or "")
            failures = [DeviceResult(f["device"], False, f.get("message", ""))
                        for f in doc.get("failures") or []]
            steps = ([StepResult(0, 0, "", STEP_FAILED, devices=failures)] if failures else [])
            result = SwitchResult(plan, str(doc.get("outcome") or REFUSED),
                                  switch_id=doc.get("switch_id"), steps=steps, message=message)
        return result

    def _client(self) -> SiteClient:
        runner = self.runtime.runner
        if runner is None:
            raise RuntimeError("not connected to the site service")
        return runner.client


class _NoJournal:
    def close(self) -> None:
        pass
